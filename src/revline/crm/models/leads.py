from django.conf import settings
from django.db import models
from django.db.models import Q

from revline.core.models import TimeStampedModel
from revline.crm.choices import (
    Authority,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
    ProspectSource,
    RoutingMethod,
)
from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class Lead(OrgScopedModel, TimeStampedModel):
    """A person at a company who may buy, before qualification.

    ``owner_position`` is whoever works the lead now (BDR, then SDR). The hand-off is kept in
    ``generated_by`` (the BDR), ``qualified_by`` (the SDR) and ``received_by`` (the AE), and every
    status change in ``LeadStatusChange``.
    """

    visibility_domain = Domain.LEADS

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    # Indexes are declared in Meta: a lead table takes bulk imports of millions of rows, so it
    # carries no index a composite already covers, no pattern-ops twins, and partial indexes on
    # links that are mostly empty (bench/import_leads.py measures what each costs). For the same
    # reason the links set only later in a lead's life (qualified_by, received_by, converted_*,
    # merged_into) have no database constraint: PostgreSQL runs a foreign-key trigger for every
    # copied row even when the link is empty. Revline writes them only through its services and
    # Django applies their on_delete itself, so a deleted target still empties the link
    # (tests/crm/test_lead_links.py).
    owner_position = models.ForeignKey(
        "org.Position", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=50, blank=True)
    title = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    sector = models.CharField(max_length=100, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    region = models.ForeignKey(
        "org.Region",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    country = models.CharField(max_length=100, blank=True)
    account = models.ForeignKey(
        "crm.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        help_text="Set when the lead works at a known account (cross-sell prospects).",
        db_index=False,
    )

    status = models.CharField(max_length=20, choices=LeadStatus.choices, default=LeadStatus.NEW)
    disqualify_reason = models.CharField(
        max_length=20, choices=DisqualifyReason.choices, blank=True
    )
    disqualify_note = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=20, choices=LeadSource.choices, default=LeadSource.OTHER)
    source_name = models.CharField(
        max_length=100, blank=True, help_text="The import or data set it came from."
    )
    campaign = models.ForeignKey(
        "crm.Campaign",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
        db_index=False,
    )

    generated_by = models.ForeignKey(
        "org.Position",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    qualified_by = models.ForeignKey(
        "org.Position",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    received_by = models.ForeignKey(
        "org.Position",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    # BANT qualification
    bant_budget = models.DecimalField(
        "budget", max_digits=16, decimal_places=2, null=True, blank=True
    )
    bant_authority = models.CharField(
        "authority", max_length=20, choices=Authority.choices, blank=True
    )
    bant_need = models.TextField("need", blank=True)
    bant_timeline = models.DateField("timeline", null=True, blank=True)

    first_touch_at = models.DateTimeField(null=True, blank=True)
    qualified_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    converted_at = models.DateTimeField(null=True, blank=True)
    converted_account = models.ForeignKey(
        "crm.Account",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    converted_contact = models.ForeignKey(
        "crm.Contact",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    converted_opportunity = models.ForeignKey(
        "pipeline.Opportunity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    outcome = models.BooleanField(
        null=True, blank=True, help_text="Known historical result (imported leads), for scoring."
    )

    external_id = models.CharField(max_length=100, blank=True)
    custom = models.JSONField(default=dict, blank=True)
    is_generated = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner_position", "id"]),
            models.Index(fields=["status", "id"]),
            # the lists' "not merged away": counting a whole org's leads reads this narrow
            # index instead of the table (1M leads: ~35 ms against ~90 ms, bench/api_crm.py)
            models.Index(
                fields=["id"], name="crm_lead_live", condition=Q(merged_into__isnull=True)
            ),
            models.Index(fields=["email"], name="crm_lead_email"),
            models.Index(fields=["external_id"], name="crm_lead_external_id"),
            models.Index(fields=["source_name"], name="crm_lead_source_name"),
            *[
                models.Index(
                    fields=[link],
                    name=f"crm_lead_{link}",
                    condition=Q(**{f"{link}__isnull": False}),
                )
                for link in (
                    "region",
                    "account",
                    "campaign",
                    "generated_by",
                    "qualified_by",
                    "received_by",
                    "converted_account",
                    "converted_contact",
                    "converted_opportunity",
                    "merged_into",
                )
            ],
        ]

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email or self.company

    def __str__(self) -> str:
        return self.name or f"Lead {self.pk}"


class LeadStatusChange(models.Model):
    """One step of a lead's life: from, to, when, by whom (speed and conversion come from here)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=LeadStatus.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=LeadStatus.choices)
    # Every imported lead gets its first change, so this table grows as fast as the leads: it
    # keeps the indexes its readers use (per lead, status then time, owner then time) and, like
    # the lead's later links, leaves the "who" links to Django (on_delete) rather than to
    # foreign-key triggers run for every row.
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    owner_position = models.ForeignKey(
        "org.Position",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who owned the lead after the change.",
        db_index=False,
        db_constraint=False,
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["to_status", "at"]),
            # capacity routing counts the leads each member received over a window
            models.Index(fields=["owner_position", "at"], name="crm_status_owner_at"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_status or '-'} -> {self.to_status}"


class ProspectList(OrgScopedModel, TimeStampedModel):
    """A BDR's list of prospects (leads) to work: filled by search, by import or by a rule."""

    visibility_domain = Domain.LEADS

    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    rule = models.JSONField(
        default=dict,
        blank=True,
        help_text="Lead filters (as in the lead list) that add matching leads on refresh.",
    )

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ProspectListMember(models.Model):
    prospect_list = models.ForeignKey(
        ProspectList, on_delete=models.CASCADE, related_name="members"
    )
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="list_memberships")
    added_at = models.DateTimeField(auto_now_add=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    how = models.CharField(
        max_length=10, choices=ProspectSource.choices, default=ProspectSource.MANUAL
    )

    class Meta:
        ordering = ["-added_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["prospect_list", "lead"], name="crm_prospect_unique")
        ]


class RoutingRule(TimeStampedModel):
    """How new leads are assigned (the first active rule that matches wins, by ``priority``).

    round-robin: the next member in turn; territory: members whose position's region matches the
    lead's region; capacity: the member with the most room left under ``capacity`` leads per
    ``window_days``. Members who opted out are skipped.
    """

    name = models.CharField(max_length=150)
    method = models.CharField(max_length=20, choices=RoutingMethod.choices)
    priority = models.PositiveIntegerField(default=100)
    active = models.BooleanField(default=True)
    team = models.ForeignKey(
        "org.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    region = models.ForeignKey(
        "org.Region",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Only leads from this region (and its territories) match.",
    )
    source = models.CharField(
        max_length=20,
        choices=LeadSource.choices,
        blank=True,
        help_text="Only leads from this source.",
    )
    window_days = models.PositiveIntegerField(default=30)
    last_assigned = models.ForeignKey(
        "org.Position", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["priority", "id"]

    def __str__(self) -> str:
        return self.name


class RoutingMember(models.Model):
    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="members")
    position = models.ForeignKey("org.Position", on_delete=models.CASCADE, related_name="+")
    capacity = models.PositiveIntegerField(
        default=100, help_text="Most leads to receive per window (capacity routing)."
    )
    opted_out = models.BooleanField(default=False, help_text="Receives no new leads for now.")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "position"], name="crm_routing_member_unique")
        ]
