from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import RoleType


class RoleTemplate(TimeStampedModel):
    """What a role is for: its responsibilities, each served by a screen and measured by a KPI."""

    role = models.CharField(max_length=32, choices=RoleType.choices, unique=True)
    name = models.CharField(max_length=100)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Responsibility(models.Model):
    template = models.ForeignKey(
        RoleTemplate, on_delete=models.CASCADE, related_name="responsibilities"
    )
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    capability = models.CharField(
        max_length=64, blank=True, help_text="Key of the screen that serves this responsibility."
    )
    kpi = models.CharField(
        max_length=64, blank=True, help_text="Key of the KPI that measures this responsibility."
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["template", "order", "id"]
        verbose_name_plural = "responsibilities"

    def __str__(self) -> str:
        return self.title
