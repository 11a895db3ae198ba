from django.db import models


class ModelKind(models.TextChoices):
    LIGHTGBM = "lightgbm", "Gradient-boosted trees (LightGBM)"
    FREQUENCY = "frequency", "Frequency model (naive Bayes), too little history"
    FIT = "fit", "Fit score only, no usable history"


class ModelStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
    FLAGGED = "flagged", "Flagged for review (not trained)"
    FAILED = "failed", "Failed"


class Tier(models.TextChoices):
    A = "A", "A (top quarter)"
    B = "B", "B"
    C = "C", "C"
    D = "D", "D (bottom quarter)"


class IcpOperator(models.TextChoices):
    EQ = "eq", "equals"
    IN = "in", "is one of"
    RANGE = "range", "is between"
    CONTAINS = "contains", "contains"


class IcpAppliesTo(models.TextChoices):
    BOTH = "both", "Leads and accounts"
    LEADS = "leads", "Leads"
    ACCOUNTS = "accounts", "Accounts"


class Validation(models.TextChoices):
    TIME_SPLIT = "time_split", "Time split (train on older leads, test on newer)"
    CROSS_VALIDATION = "cv", "Stratified cross-validation"
