from django.db import models

from revline.core.models import TimeStampedModel
from revline.crm.choices import CompanySize, CustomerStatus, CustomFieldEntity, CustomFieldType
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class CustomFieldDefinition(TimeStampedModel):
    """A typed extra field on accounts, contacts, leads or opportunities.

    Values live in the record's ``custom`` JSON object under ``key``; services validate them
    against the definition (``revline.crm.custom_fields``) and lists filter on them.
    """

    entity = models.CharField(max_length=20, choices=CustomFieldEntity.choices)
    key = models.SlugField(max_length=60)
    label = models.CharField(max_length=100)
    field_type = models.CharField(
        max_length=10, choices=CustomFieldType.choices, default=CustomFieldType.TEXT
    )
    choices = models.JSONField(default=list, blank=True, help_text="Allowed values for a choice.")
    required = models.BooleanField(default=False)
    help_text = models.CharField(max_length=255, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["entity", "order", "label"]
        constraints = [
            models.UniqueConstraint(fields=["entity", "key"], name="crm_custom_field_unique")
        ]

    def __str__(self) -> str:
        return f"{self.entity}.{self.key}"


class Account(OrgScopedModel, TimeStampedModel):
    """A company: prospect, customer or partner. Subsidiaries point at their ``parent``."""

    visibility_domain = Domain.REVENUE
    # Whoever sees one of the account's deals or complaints through the hierarchy may view it
    # (org.visibility, rule 6): an AE working a deal on a colleague's account sees the account.
    visible_through = (("pipeline.Opportunity", "account"), ("crm.Complaint", "account"))

    name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=200, db_index=True, editable=False)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subsidiaries"
    )
    sector = models.CharField(max_length=100, blank=True, db_index=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    size = models.CharField(max_length=12, choices=CompanySize.choices, blank=True)
    annual_revenue = models.DecimalField(
        max_digits=16, decimal_places=2, null=True, blank=True, help_text="In the org currency."
    )
    region = models.ForeignKey(
        "org.Region", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    country = models.CharField(max_length=100, blank=True)
    website = models.CharField(max_length=200, blank=True)
    year_established = models.PositiveSmallIntegerField(null=True, blank=True)
    customer_status = models.CharField(
        max_length=12, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT
    )
    customer_since = models.DateField(null=True, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    is_generated = models.BooleanField(
        default=False, help_text="Invented by the demo loader, not from a real data set."
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["owner_position", "id"]),
            # the account list's default order, so a page is an index range (bench/api_crm.py)
            models.Index(fields=["name", "id"]),
        ]

    def __str__(self) -> str:
        return self.name


class Contact(OrgScopedModel, TimeStampedModel):
    visibility_domain = Domain.REVENUE

    account = models.ForeignKey(
        Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100)
    email = models.EmailField(blank=True, db_index=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=150, blank=True)
    external_id = models.CharField(max_length=100, blank=True, db_index=True)
    custom = models.JSONField(default=dict, blank=True)
    is_generated = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            models.Index(fields=["owner_position", "id"]),
            # the contact list's default order (bench/api_crm.py)
            models.Index(fields=["last_name", "id"]),
        ]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def __str__(self) -> str:
        return self.name
