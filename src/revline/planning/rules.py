"""Who may plan what: the rules the planning services enforce and the screens use to offer forms.

- **Fiscal calendar**: RevOps (org admins) and superusers.
- **Quotas**: a position strictly below one the user holds (solid or dotted line, any depth):
  a manager sets their reps', a VP their managers' and reps'. Nobody sets their own quota, a
  peer's or another manager's rep's. RevOps and superusers set anyone's.
- **Targets and budgets**: the CSO, the CRO, RevOps and superusers for every team and region;
  a VP of Sales for their region (and its territories), the teams in it and the teams of the
  positions below them. Nobody else.
- **Spend** against a budget: whoever may set the budget, and the sales managers of its team.
- **Forecasts**: a position's holder submits its forecast; a position strictly above it adjusts
  it (RevOps does not: an adjustment is a manager's judgement, made from a seat in the tree).

Seeing planning rows follows ``revline.org.visibility`` (quotas and forecasts are owned by a
position); targets and budgets are seen by the CEO, CSO, CRO and RevOps, and by whoever may set
them or record spend against them (``view_scope``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from revline.org.choices import RoleType
from revline.org.models import Position, PositionClosure, Region, Team
from revline.org.visibility import held_roles

ORG_WIDE_PLANNERS = frozenset({RoleType.CSO, RoleType.CRO, RoleType.REVOPS})
PLANNING_ADMINS = frozenset({RoleType.REVOPS})
ORG_WIDE_VIEWERS = frozenset({RoleType.CEO, RoleType.CSO, RoleType.CRO, RoleType.REVOPS})
SPEND_RECORDERS = frozenset({RoleType.SALES_MANAGER})


def _active(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def is_planning_admin(user: Any) -> bool:
    """RevOps or superuser: sets the fiscal calendar and any quota."""
    if not _active(user):
        return False
    return bool(user.is_superuser or held_roles(user) & PLANNING_ADMINS)


def plans_org_wide(user: Any) -> bool:
    """CSO, CRO, RevOps or superuser: sets targets and budgets for every team and region."""
    if not _active(user):
        return False
    return bool(user.is_superuser or held_roles(user) & ORG_WIDE_PLANNERS)


def sees_whole_org(user: Any) -> bool:
    if not _active(user):
        return False
    return bool(user.is_superuser or held_roles(user) & ORG_WIDE_VIEWERS)


# --- quotas and forecast adjustments -----------------------------------------------------------


def nearest_held_ancestor(user: Any, position: Position | int) -> Position | None:
    """The position ``user`` holds that is strictly above ``position`` (solid or dotted, any
    depth), the nearest first; None when the user holds none above it."""
    if not _active(user):
        return None
    pid = position if isinstance(position, int) else position.pk
    row = (
        PositionClosure.objects.filter(descendant_id=pid, depth__gte=1, ancestor__holder_id=user.pk)
        .select_related("ancestor")
        .order_by("depth", "ancestor_id")
        .first()
    )
    return row.ancestor if row else None


def may_set_quota(user: Any, position: Position) -> bool:
    if is_planning_admin(user):
        return True
    return nearest_held_ancestor(user, position) is not None


def quota_settable_positions(user: Any) -> QuerySet[Position]:
    """The positions ``user`` may set quotas for (one query when evaluated)."""
    if not _active(user):
        return Position.objects.none()
    if is_planning_admin(user):
        return Position.objects.all()
    below = PositionClosure.objects.filter(ancestor__holder_id=user.pk, depth__gte=1).values(
        "descendant_id"
    )
    return Position.objects.filter(id__in=below).exclude(holder_id=user.pk)


def adjustable_positions(user: Any) -> QuerySet[Position]:
    """The positions whose forecast ``user`` may adjust: strictly below a position they hold."""
    if not _active(user):
        return Position.objects.none()
    below = PositionClosure.objects.filter(ancestor__holder_id=user.pk, depth__gte=1).values(
        "descendant_id"
    )
    return Position.objects.filter(id__in=below).exclude(holder_id=user.pk)


# --- targets and budgets -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """Teams and regions by id; ``everything`` means every team and region."""

    everything: bool = False
    team_ids: frozenset[int] = field(default_factory=frozenset)
    region_ids: frozenset[int] = field(default_factory=frozenset)

    def has_team(self, team_id: int | None) -> bool:
        return team_id is not None and (self.everything or team_id in self.team_ids)

    def has_region(self, region_id: int | None) -> bool:
        return region_id is not None and (self.everything or region_id in self.region_ids)

    def covers(self, *, team_id: int | None = None, region_id: int | None = None) -> bool:
        return self.has_team(team_id) if team_id is not None else self.has_region(region_id)

    @property
    def empty(self) -> bool:
        return not self.everything and not self.team_ids and not self.region_ids

    def teams(self) -> QuerySet[Team]:
        qs = Team.objects.select_related("region")
        return qs if self.everything else qs.filter(id__in=self.team_ids)

    def regions(self) -> QuerySet[Region]:
        qs = Region.objects.all()
        return qs if self.everything else qs.filter(id__in=self.region_ids)

    def q(self, prefix: str = "") -> Q:
        """Rows whose ``team`` or ``region`` is in the scope."""
        if self.everything:
            return Q()
        return Q(**{f"{prefix}team_id__in": list(self.team_ids)}) | Q(
            **{f"{prefix}region_id__in": list(self.region_ids)}
        )


NO_SCOPE = Scope()
WHOLE_ORG = Scope(everything=True)


def _regions_with_children(region_ids: set[int]) -> set[int]:
    """``region_ids`` and every territory nested inside them."""
    found = set(region_ids)
    frontier = set(region_ids)
    while frontier:
        children = (
            set(Region.objects.filter(parent_id__in=frontier).values_list("id", flat=True)) - found
        )
        found |= children
        frontier = children
    return found


def target_scope(user: Any) -> Scope:
    """The teams and regions ``user`` may set targets and budgets for."""
    if not _active(user):
        return NO_SCOPE
    if plans_org_wide(user):
        return WHOLE_ORG
    vps = list(
        Position.objects.filter(holder_id=user.pk, role=RoleType.VP_SALES).values_list(
            "id", "region_id"
        )
    )
    if not vps:
        return NO_SCOPE
    regions = _regions_with_children({r for _, r in vps if r is not None})
    below = PositionClosure.objects.filter(ancestor_id__in=[p for p, _ in vps]).values(
        "descendant_id"
    )
    teams = set(Team.objects.filter(region_id__in=regions).values_list("id", flat=True)) | set(
        Position.objects.filter(id__in=below, team__isnull=False).values_list("team_id", flat=True)
    )
    return Scope(team_ids=frozenset(teams), region_ids=frozenset(regions))


def view_scope(user: Any) -> Scope:
    """The teams and regions whose targets and budgets ``user`` sees: every one for the CEO, CSO,
    CRO, RevOps and superusers; otherwise where the user may plan or record spend (a VP's region
    and its teams, a sales manager's team: whose deals they all see, so the actuals are whole)."""
    if not _active(user):
        return NO_SCOPE
    if sees_whole_org(user):
        return WHOLE_ORG
    return spend_scope(user)


def spend_scope(user: Any) -> Scope:
    """Where ``user`` may record spend: their target scope, plus the teams of the sales manager
    positions they hold."""
    scope = target_scope(user)
    if scope.everything or not _active(user):
        return scope
    teams = set(
        Position.objects.filter(
            holder_id=user.pk, role__in=SPEND_RECORDERS, team__isnull=False
        ).values_list("team_id", flat=True)
    )
    return Scope(team_ids=scope.team_ids | frozenset(teams), region_ids=scope.region_ids)
