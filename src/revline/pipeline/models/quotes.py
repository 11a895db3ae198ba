from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel
from revline.pipeline.choices import ApprovalLevel, ApprovalStatus, QuoteStatus


class DiscountPolicy(models.Model):
    """Discount approval thresholds (one row). Above ``manager_threshold`` % the owner's manager
    approves; above ``vp_threshold`` % the VP approves as well."""

    manager_threshold = models.DecimalField(max_digits=5, decimal_places=2, default=10)
    vp_threshold = models.DecimalField(max_digits=5, decimal_places=2, default=20)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "discount policy"

    def __str__(self) -> str:
        return f"manager > {self.manager_threshold}%, VP > {self.vp_threshold}%"


class Quote(OrgScopedModel, TimeStampedModel):
    """A priced offer on an opportunity. Owned like its opportunity. Editing a sent or approved
    quote makes a new version; the old one is superseded."""

    visibility_domain = Domain.REVENUE

    opportunity = models.ForeignKey(
        "pipeline.Opportunity", on_delete=models.CASCADE, related_name="quotes"
    )
    number = models.CharField(max_length=30, db_index=True, help_text="Shared by all versions.")
    version = models.PositiveSmallIntegerField(default=1)
    status = models.CharField(
        max_length=20, choices=QuoteStatus.choices, default=QuoteStatus.DRAFT, db_index=True
    )
    price_book = models.ForeignKey(
        "pipeline.PriceBook", on_delete=models.PROTECT, related_name="quotes"
    )
    currency = models.CharField(max_length=3, default="USD")
    discount_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=0, help_text="Discount on the whole quote."
    )
    subtotal = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    effective_discount = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        help_text="Total discount against list prices, %, which approval rules compare.",
    )
    valid_until = models.DateField(null=True, blank=True)
    terms = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_generated = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="pipeline_quote_version")
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}"


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("pipeline.Product", on_delete=models.PROTECT, related_name="+")
    description = models.CharField(max_length=255, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=1)
    list_price = models.DecimalField(max_digits=14, decimal_places=2)
    unit_price = models.DecimalField(max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    line_total = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class ApprovalRequest(TimeStampedModel):
    """One approval step for a quote's discount: who must decide, and what they decided."""

    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="approvals")
    level = models.CharField(max_length=10, choices=ApprovalLevel.choices)
    step = models.PositiveSmallIntegerField(default=1, help_text="Order of decision.")
    approver_position = models.ForeignKey(
        "org.Position", on_delete=models.PROTECT, related_name="approval_requests"
    )
    status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING, db_index=True
    )
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)

    class Meta:
        ordering = ["quote", "step", "id"]
        indexes = [models.Index(fields=["approver_position", "status"])]

    def __str__(self) -> str:
        return f"{self.quote} {self.level} {self.status}"
