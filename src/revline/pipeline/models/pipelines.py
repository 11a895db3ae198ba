from django.db import models

from revline.core.models import TimeStampedModel
from revline.pipeline.choices import ForecastCategory, StageKind


class Pipeline(TimeStampedModel):
    name = models.CharField(max_length=100, unique=True)
    is_default = models.BooleanField(default=False)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]

    def __str__(self) -> str:
        return self.name


class Stage(TimeStampedModel):
    """A step of a pipeline, with its default probability and what a deal needs to enter it."""

    pipeline = models.ForeignKey(Pipeline, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=4, choices=StageKind.choices, default=StageKind.OPEN)
    probability = models.PositiveSmallIntegerField(default=10, help_text="Default win %, 0-100.")
    forecast_category = models.CharField(
        max_length=10, choices=ForecastCategory.choices, default=ForecastCategory.PIPELINE
    )
    required_fields = models.JSONField(
        default=list, blank=True, help_text="Requirements to enter (pipeline.choices.REQUIREMENTS)."
    )
    max_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="A deal longer than this in the stage is flagged as stuck."
    )

    class Meta:
        ordering = ["pipeline", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipeline_stage_name_unique")
        ]

    def __str__(self) -> str:
        return self.name
