"""StageChange.advanced: whether the deal later moved on from the stage a change entered (to a
won stage, or to an open stage of a higher order). Added, then worked out for the history already
recorded in one UPDATE (the statement ``pipeline.services.stage_changes_mark_advanced`` runs; the
same SQL on SQLite and PostgreSQL); an index on (changed_at, to_stage, advanced) lets the
conversion KPI count a period's entries from the index alone, and the history index gains the
stages so that a deal's latest closing change is read from it."""

from django.db import migrations, models

BACKFILL = (
    "UPDATE pipeline_stagechange SET advanced = EXISTS (SELECT 1 FROM pipeline_stagechange later "
    "JOIN pipeline_stage later_stage ON later_stage.id = later.to_stage_id "
    "WHERE later.opportunity_id = pipeline_stagechange.opportunity_id "
    "AND later.changed_at > pipeline_stagechange.changed_at "
    "AND (later_stage.kind = 'won' OR (later_stage.kind = 'open' AND later_stage.\"order\" > "
    "(SELECT entered.\"order\" FROM pipeline_stage entered "
    "WHERE entered.id = pipeline_stagechange.to_stage_id))))"
)


class Migration(migrations.Migration):
    dependencies = [
        ("pipeline", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="stagechange",
            name="advanced",
            field=models.BooleanField(default=False, db_default=False),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop, elidable=True),
        # The conversion index leads with changed_at, so it serves what changed_at's own index
        # did.
        migrations.AlterField(
            model_name="stagechange",
            name="changed_at",
            field=models.DateTimeField(),
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                fields=["changed_at", "to_stage", "advanced", "opportunity"],
                name="pipeline_sc_conversion_idx",
            ),
        ),
        # A deal's history with the stages in the index: the latest closing change of a deal
        # (the stage it was won or lost from) is read from the index alone.
        migrations.RemoveIndex(
            model_name="stagechange",
            name="pipeline_st_opportu_cab02d_idx",
        ),
        migrations.AddIndex(
            model_name="stagechange",
            index=models.Index(
                fields=["opportunity", "changed_at", "id", "to_stage", "from_stage"],
                name="pipeline_sc_history_idx",
            ),
        ),
    ]
