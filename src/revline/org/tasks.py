"""Background jobs of the org app: ids in, idempotent, side effects through services."""

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task

from revline.org.models import User


@task()
def send_password_changed_notice(*, user_id: int) -> str:
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return "skipped: user gone"
    send_mail(
        subject="Your Revline password was changed",
        message=(
            f"Hello {user.get_short_name()},\n\n"
            "The password of your Revline account was just changed. If this was not you, "
            "ask your Revline administrator to lock the account and reset it.\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[user.email],
    )
    return "sent"
