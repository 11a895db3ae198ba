from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.crm.choices import DuplicatePolicy, ImportEntity, ImportMode, ImportStatus


class ImportMapping(TimeStampedModel):
    """A column mapping saved for one file shape (entity + the file's header), reused next time."""

    entity = models.CharField(max_length=20, choices=ImportEntity.choices)
    header_signature = models.CharField(max_length=64, help_text="sha256 of the normalised header.")
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict, help_text="column -> field (or custom:<key>, or '').")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "header_signature"], name="crm_import_mapping_unique"
            )
        ]


class ImportJob(TimeStampedModel):
    """One CSV import (or dry run): its options, progress and the report of every bad row."""

    entity = models.CharField(max_length=20, choices=ImportEntity.choices)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500, help_text="Stored upload under the data dir.")
    mapping = models.JSONField(default=dict)
    delimiter = models.CharField(max_length=1, default=",")
    duplicate_policy = models.CharField(
        max_length=10, choices=DuplicatePolicy.choices, default=DuplicatePolicy.SKIP
    )
    mode = models.CharField(max_length=20, choices=ImportMode.choices, default=ImportMode.KEEP_GOOD)
    dry_run = models.BooleanField(default=False)
    create_custom_fields = models.BooleanField(default=False)
    source_name = models.CharField(max_length=100, blank=True)
    owner_position = models.ForeignKey(
        "org.Position",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Owner of the imported records when the file names none.",
    )
    prospect_list = models.ForeignKey(
        "crm.ProspectList",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Lead imports: add every lead of the file (new or matched) to this list.",
    )
    status = models.CharField(
        max_length=10, choices=ImportStatus.choices, default=ImportStatus.PENDING, db_index=True
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="[{line, reason, column?}] for bad rows.")
    preview = models.JSONField(default=list, help_text="First rows as they would be saved.")
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.entity}, {self.status})"
