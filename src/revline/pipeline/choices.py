from django.db import models


class OpportunityType(models.TextChoices):
    NEW_BUSINESS = "new_business", "New business"
    RENEWAL = "renewal", "Renewal"
    UPSELL = "upsell", "Upsell"
    CROSS_SELL = "cross_sell", "Cross-sell"


class OpportunityStatus(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Won"
    LOST = "lost", "Lost"


class StageKind(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Closed won"
    LOST = "lost", "Closed lost"


class ForecastCategory(models.TextChoices):
    PIPELINE = "pipeline", "Pipeline"
    BEST_CASE = "best_case", "Best case"
    COMMIT = "commit", "Commit"
    CLOSED = "closed", "Closed"
    OMITTED = "omitted", "Omitted"


class LossReason(models.TextChoices):
    PRICE = "price", "Price"
    COMPETITOR = "competitor", "Lost to a competitor"
    NO_DECISION = "no_decision", "No decision / stalled"
    FEATURES = "features", "Missing features"
    TIMING = "timing", "Timing"
    BUDGET = "budget", "No budget"
    CHAMPION_LEFT = "champion_left", "Champion left"
    OTHER = "other", "Other"


class ObjectionCategory(models.TextChoices):
    PRICE = "price", "Price"
    TIMING = "timing", "Timing"
    AUTHORITY = "authority", "Authority"
    NEED = "need", "Need"
    COMPETITOR = "competitor", "Competitor"
    PRODUCT = "product", "Product fit"
    TRUST = "trust", "Trust / risk"
    OTHER = "other", "Other"


class QuoteStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    SUPERSEDED = "superseded", "Superseded"


class ApprovalLevel(models.TextChoices):
    MANAGER = "manager", "Owner's manager"
    VP = "vp", "VP"


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


# What a stage may require before a deal enters it (Stage.required_fields).
REQUIREMENTS = {
    "amount": "an amount",
    "close_date": "a close date",
    "account": "an account",
    "contact": "a contact",
    "next_step": "a next step",
    "loss_reason": "a loss reason",
    "quote": "a quote",
    "approved_quote": "an approved (or sent) quote",
    "discovery_call": "a logged discovery call",
    "demo": "a logged demo",
}
