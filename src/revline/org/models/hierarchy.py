from django.conf import settings
from django.db import models

from revline.core.models import TimeStampedModel
from revline.org.choices import LineKind, RoleType


class Region(TimeStampedModel):
    """A region or territory. Territories nest inside regions through ``parent``."""

    name = models.CharField(max_length=100, unique=True)
    code = models.SlugField(max_length=40, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Team(TimeStampedModel):
    """A working group of positions. With ``share_records`` its members see each other's records."""

    name = models.CharField(max_length=100, unique=True)
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="teams"
    )
    share_records = models.BooleanField(
        default=False,
        help_text="Members see the records owned by the team's other positions (read only).",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PositionQuerySet(models.QuerySet["Position"]):
    def visible_to(self, user, action: str = "view") -> "PositionQuerySet":
        from revline.org.visibility import position_visibility_q

        return self.filter(position_visibility_q(user, action))


class Position(TimeStampedModel):
    """A seat in the sales organisation. It may be vacant; a person may hold several."""

    title = models.CharField(max_length=150)
    role = models.CharField(max_length=32, choices=RoleType.choices, db_index=True)
    holder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="positions",
    )
    reports_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="direct_reports",
        help_text="The solid reporting line.",
    )
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.SET_NULL, related_name="positions"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="positions"
    )

    objects = PositionQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        holder = self.holder.get_full_name() if self.holder_id and self.holder else "vacant"
        return f"{self.title} ({holder})"

    @property
    def is_vacant(self) -> bool:
        return self.holder_id is None


class DottedLine(models.Model):
    """A secondary (dotted) reporting line: ``manager`` also oversees ``position``."""

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="dotted_lines")
    manager = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="dotted_reports")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["position", "manager"], name="org_dotted_unique"),
            models.CheckConstraint(
                condition=~models.Q(position=models.F("manager")), name="org_dotted_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position_id} ⋯> {self.manager_id}"


class ReportingLine(models.Model):
    """History of reporting lines: who reported to whom (solid or dotted), from when to when."""

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="line_history")
    # PROTECT: removing a manager's position must not erase who reported to it.
    manager = models.ForeignKey(Position, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=LineKind.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["position", "ended_at"])]

    def __str__(self) -> str:
        return f"{self.position_id} -> {self.manager_id} ({self.kind})"


class PositionHolding(models.Model):
    """History of who held a position, from when to when."""

    position = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="holdings")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="holdings"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]


class PositionClosure(models.Model):
    """Transitive closure of the reporting graph (solid and dotted lines).

    One row per (ancestor, descendant) pair, including each position with itself at depth 0;
    ``depth`` is the shortest number of lines between them. Rebuilt by
    ``revline.org.services.closure_rebuild`` whenever the hierarchy changes.
    """

    ancestor = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="+")
    descendant = models.ForeignKey(Position, on_delete=models.CASCADE, related_name="+")
    depth = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ancestor", "descendant"], name="org_closure_unique")
        ]
        indexes = [models.Index(fields=["descendant", "ancestor"])]

    def __str__(self) -> str:
        return f"{self.ancestor_id} > {self.descendant_id} ({self.depth})"
