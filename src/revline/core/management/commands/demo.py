"""``revline demo``: load the demo organisation, then the Maven pipeline with the CRM data
generated on top of it (and, as later apps land, their demo data)."""

from django.core.management.base import BaseCommand

from revline.crm.demo import load_demo_crm
from revline.org.demo import demo_password, load_demo_org
from revline.planning.demo import load_demo_planning


class Command(BaseCommand):
    help = "Load the demo data. Idempotent: a second run changes nothing."

    def handle(self, *args, **options):
        result = load_demo_org()
        if result.created_users or result.created_positions or result.created_templates:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Demo organisation loaded: {result.created_users} users, "
                    f"{result.created_positions} positions, "
                    f"{result.created_templates} role templates created."
                )
            )
        else:
            self.stdout.write("Demo organisation already loaded: nothing to change.")
        sales = load_demo_crm()
        if sales.created:
            counts = ", ".join(f"{n:,} {label}" for label, n in sales.created.items())
            self.stdout.write(
                self.style.SUCCESS(f"Demo pipeline and CRM data loaded: {counts} created.")
            )
        else:
            self.stdout.write("Demo pipeline and CRM data already loaded: nothing to change.")
        planning = load_demo_planning()
        if planning:
            counts = ", ".join(f"{n:,} {label}" for label, n in planning.items())
            self.stdout.write(self.style.SUCCESS(f"Demo planning data loaded: {counts} created."))
        else:
            self.stdout.write("Demo planning data already loaded: nothing to change.")
        self._queue_forecast()
        self.stdout.write(f"\nEvery demo user's password: {demo_password()}")
        self.stdout.write("Log in as, for example:")
        width = max(len(label) for label in result.logins) if result.logins else 0
        for label, email in result.logins.items():
            self.stdout.write(f"  {label:<{width}}  {email}")

    def _queue_forecast(self) -> None:
        """The predicted forecast of the demo quarter takes seconds of model training: the
        worker (``make run`` starts one) computes it in the background."""
        from revline.forecasting.demo import DEMO_AS_OF, DEMO_PERIOD
        from revline.forecasting.models import ForecastRun
        from revline.forecasting.tasks import forecast_refresh

        if ForecastRun.objects.filter(period_key=DEMO_PERIOD).exists():
            return
        forecast_refresh.enqueue(period_key=DEMO_PERIOD, as_of=DEMO_AS_OF.isoformat())
        self.stdout.write(
            f"Predicted forecast of {DEMO_PERIOD} queued: the worker computes it in a few seconds."
        )
