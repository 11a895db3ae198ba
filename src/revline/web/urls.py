"""Web routes. Each views module owns its ``urlpatterns``; all names live in the ``web`` namespace.

Names other modules link to: ``home``, ``login``, ``logout``, ``password_change``, ``tokens``,
``org_chart``, ``position_detail`` (pk), ``org_admin``, ``role_templates``, ``system_status``.
"""

from revline.web.views import (
    account,
    analytics,
    cockpit,
    crm,
    crm_import,
    forecasting,
    org,
    org_admin,
    pipeline,
    planning,
    scoring,
    system,
)

app_name = "web"
urlpatterns = [
    *cockpit.urlpatterns,
    *account.urlpatterns,
    *org.urlpatterns,
    *org_admin.urlpatterns,
    *system.urlpatterns,
    *crm.urlpatterns,
    *crm_import.urlpatterns,
    *pipeline.urlpatterns,
    *planning.urlpatterns,
    *analytics.urlpatterns,
    *forecasting.urlpatterns,
    *scoring.urlpatterns,
]
