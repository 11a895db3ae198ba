"""Test settings: Revline's own, plus a small app whose model stands for any org-scoped record."""

import os
import tempfile

os.environ.setdefault("REVLINE_DATA_DIR", os.path.join(tempfile.gettempdir(), "revline-test"))

from revline.settings import *  # noqa: F403
from revline.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.scoped_app"]

# Argon2 is the production hasher (tested in tests/org/test_services.py); tests that create many
# users use a fast one.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
