from django.conf import settings
from django.db import models
from django.db.models import Q

from revline.core.models import TimeStampedModel
from revline.scoring.choices import ModelKind, ModelStatus, Tier, Validation


class ScoringModel(models.Model):
    """One trained version of the predictive lead score, for one data source or (blank
    ``source_name``) for every lead. Kept with its metrics, beside two baselines, so that
    every score can name the version that made it and every version can show how good it was.
    At most one version per source is active."""

    source_name = models.CharField(
        max_length=100, blank=True, help_text="Leads of this source; blank: every lead."
    )
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=ModelKind.choices)
    status = models.CharField(max_length=10, choices=ModelStatus.choices)
    validation = models.CharField(max_length=12, choices=Validation.choices, blank=True)
    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    n = models.PositiveIntegerField(default=0, help_text="Leads with a known outcome.")
    n_converted = models.PositiveIntegerField(default=0)
    feature_spec = models.JSONField(default=dict, blank=True)
    excluded_fields = models.JSONField(default=list, blank=True)
    leakage_flags = models.JSONField(
        default=list, blank=True, help_text="Fields that alone predict the outcome (AUC)."
    )
    metrics = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)
    seconds = models.FloatField(default=0, help_text="Training time (wall clock).")
    artifact = models.BinaryField(blank=True, default=b"", editable=False)
    oof = models.BinaryField(
        blank=True,
        default=b"",
        editable=False,
        help_text="Out-of-fold predictions per training lead, for reports on a reader's leads.",
    )

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_name", "version"], name="scoring_model_version_unique"
            ),
            models.UniqueConstraint(
                fields=["source_name"],
                condition=Q(status=ModelStatus.ACTIVE),
                name="scoring_model_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_name or 'All leads'} v{self.version} ({self.kind})"

    @property
    def label(self) -> str:
        return f"{self.source_name or 'All leads'} v{self.version}"


class ScoringProfile(TimeStampedModel):
    """What training uses for one source: the fields left out, and the flagged fields someone
    reviewed and allowed. The nightly retrain reads it, so a choice made once holds."""

    source_name = models.CharField(max_length=100, blank=True, unique=True)
    excluded_fields = models.JSONField(default=list, blank=True)
    allowed_fields = models.JSONField(
        default=list, blank=True, help_text="Flagged fields reviewed and kept."
    )
    auto_retrain = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.source_name or "All leads"


class LeadScore(models.Model):
    """The automated score of a lead: written only by scoring, never by a person (a person's
    view is a ``ScoreOverride``, kept apart)."""

    lead = models.OneToOneField(
        "crm.Lead", primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    model = models.ForeignKey(
        ScoringModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=ModelKind.choices)
    probability = models.FloatField(
        null=True, blank=True, help_text="Calibrated chance of converting (none: fit only)."
    )
    score = models.PositiveSmallIntegerField(help_text="0-100.")
    tier = models.CharField(max_length=1, choices=Tier.choices)
    factors = models.JSONField(
        default=dict, blank=True, help_text="Top positive and negative factors."
    )
    fit_score = models.PositiveSmallIntegerField(null=True, blank=True)
    scored_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["-score"], name="scoring_score_desc")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.score} ({self.tier})"


class ScoreOverride(models.Model):
    """A person's score or tier for a lead, which the lead lists show instead of the automated
    one. Scoring never writes it."""

    lead = models.OneToOneField(
        "crm.Lead", primary_key=True, on_delete=models.CASCADE, related_name="score_override"
    )
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    tier = models.CharField(max_length=1, choices=Tier.choices)
    reason = models.CharField(max_length=255)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.tier} (manual)"
