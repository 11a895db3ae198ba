import pytest

from revline.org.choices import RoleType
from revline.org.models import User
from tests.org.factories import make_position


@pytest.fixture
def admin(db):
    """A fresh installation's superuser."""
    return User.objects.create_superuser("admin@example.test", "a long admin passphrase")


@pytest.fixture
def owner(db):
    """The SDR position that owns generated leads."""
    return make_position(RoleType.SDR, title="SDR")


@pytest.fixture
def small_history(settings):
    """Thresholds low enough for quick tests of the gradient-boosted path."""
    settings.REVLINE_SCORING_MIN_LEADS = 200
    settings.REVLINE_SCORING_MIN_CONVERSIONS = 30
    return settings
