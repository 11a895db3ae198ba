"""Responsibilities added to the default role templates after their first release: an existing
installation gets them too, on the templates it has, unless one already links that screen."""

from django.db import migrations
from django.db.models import Max

ADDITIONS = [
    (
        "sales_manager",
        "Review lead scores and how they convert",
        "The team's score distribution and how scored leads actually converted.",
        "scoring.leads",
        "lead_conversion",
    ),
    (
        "revops",
        "Run lead scoring",
        "Train and evaluate the model, review flagged fields, keep the ideal customer profile.",
        "scoring.leads",
        "",
    ),
    (
        "ae",
        "Renew and grow your customers",
        "Renewals as terms end, upsell and cross-sell.",
        "pipeline.renewals",
        "renewal_rate",
    ),
]


def add(apps, schema_editor):
    RoleTemplate = apps.get_model("org", "RoleTemplate")
    Responsibility = apps.get_model("org", "Responsibility")
    for role, title, description, capability, kpi in ADDITIONS:
        template = RoleTemplate.objects.filter(role=role).first()
        if template is None or template.responsibilities.filter(capability=capability).exists():
            continue
        last = template.responsibilities.aggregate(m=Max("order"))["m"]
        Responsibility.objects.create(
            template=template,
            title=title,
            description=description,
            capability=capability,
            kpi=kpi,
            order=(last or 0) + 1,
        )


class Migration(migrations.Migration):
    dependencies = [("org", "0003_user_is_staff_help")]

    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
