"""Reads of the organisation, always for an acting user and through the visibility predicate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from revline.org.models import (
    ApiToken,
    DottedLine,
    Position,
    PositionClosure,
    Region,
    ReportingLine,
    RoleTemplate,
    Team,
    User,
)


def positions_visible(*, user: Any, action: str = "view") -> QuerySet[Position]:
    """Every position ``user`` may see (or change), with what a list or chart shows of it."""
    return (
        Position.objects.visible_to(user, action)
        .select_related("holder", "reports_to", "reports_to__holder", "region", "team")
        .prefetch_related(
            Prefetch("dotted_lines", queryset=DottedLine.objects.only("position_id", "manager_id"))
        )
    )


def positions_search(
    *,
    user: Any,
    q: str = "",
    role: str = "",
    region: str = "",
    team: str = "",
    vacant: bool | None = None,
) -> QuerySet[Position]:
    """Visible positions filtered by text (title, holder name or email), role, region, team."""
    qs = positions_visible(user=user)
    if q:
        qs = qs.filter(
            Q(title__icontains=q)
            | Q(holder__full_name__icontains=q)
            | Q(holder__email__icontains=q)
        )
    if role:
        qs = qs.filter(role=role)
    if region:
        qs = qs.filter(region__code=region)
    if team:
        qs = qs.filter(team_id=team)
    if vacant is not None:
        qs = qs.filter(holder__isnull=vacant)
    return qs


def position_get(*, user: Any, pk: int, action: str = "view") -> Position:
    """One position, if ``user`` may see (change) it; raises ``Position.DoesNotExist`` otherwise,
    which web views and the API answer with 404."""
    return positions_visible(user=user, action=action).get(pk=pk)


def manager_chain(*, user: Any, position: Position) -> list[Position]:
    """The solid chain of managers above ``position``, nearest first, as far as ``user`` sees."""
    ancestors = {
        p.pk: p
        for p in positions_visible(user=user).filter(
            id__in=PositionClosure.objects.filter(descendant=position, depth__gt=0).values(
                "ancestor_id"
            )
        )
    }
    chain: list[Position] = []
    current = ancestors.get(position.reports_to_id) if position.reports_to_id else None
    while current is not None and current not in chain:
        chain.append(current)
        current = ancestors.get(current.reports_to_id) if current.reports_to_id else None
    return chain


def dotted_managers(*, user: Any, position: Position) -> list[Position]:
    return list(
        positions_visible(user=user).filter(
            id__in=DottedLine.objects.filter(position=position).values("manager_id")
        )
    )


def subtree(*, user: Any, position: Position) -> QuerySet[Position]:
    """Everything below ``position`` (solid and dotted), that ``user`` sees."""
    return positions_visible(user=user).filter(
        id__in=PositionClosure.objects.filter(ancestor=position, depth__gt=0).values(
            "descendant_id"
        )
    )


@dataclass
class ChartNode:
    position: Position
    children: list[ChartNode] = field(default_factory=list)
    dotted_to: list[int] = field(default_factory=list)

    @property
    def size(self) -> int:
        """How many positions are in this node's subtree (itself included)."""
        return 1 + sum(child.size for child in self.children)


def org_chart(*, user: Any, root: Position | None = None) -> list[ChartNode]:
    """The visible organisation as a forest along solid lines.

    A visible position whose manager is not visible is shown as a root, so nobody sees more
    than the rules allow and nothing visible is lost. Dotted lines ride along on each node.
    Two queries whatever the size (a per-position prefetch would cost more in Python than the
    SQL itself on a large org).
    """
    visible = Position.objects.visible_to(user)
    positions = list(visible.select_related("holder", "region", "team").order_by("title", "id"))
    dotted: dict[int, list[int]] = {}
    for position_id, manager_id in DottedLine.objects.filter(
        position_id__in=visible.values("id")
    ).values_list("position_id", "manager_id"):
        dotted.setdefault(position_id, []).append(manager_id)
    nodes = {p.pk: ChartNode(p, dotted_to=dotted.get(p.pk, [])) for p in positions}
    roots: list[ChartNode] = []
    for p in positions:
        parent = nodes.get(p.reports_to_id) if p.reports_to_id else None
        (parent.children if parent else roots).append(nodes[p.pk])
    if root is not None:
        return [nodes[root.pk]] if root.pk in nodes else []
    return roots


def role_templates_for(*, positions: list[Position]) -> dict[str, RoleTemplate]:
    """The role template (with responsibilities) of each role among ``positions``."""
    roles = {p.role for p in positions}
    return {
        t.role: t
        for t in RoleTemplate.objects.filter(role__in=roles).prefetch_related("responsibilities")
    }


def headcount_below(*, user: Any) -> dict[str, int]:
    """Filled and vacant positions strictly below the user's positions (a live cockpit number)."""
    below = Position.objects.filter(
        id__in=PositionClosure.objects.filter(ancestor__holder_id=user.pk, depth__gt=0).values(
            "descendant_id"
        )
    ).exclude(holder_id=user.pk)
    filled = below.filter(holder__isnull=False).count()
    vacant = below.filter(holder__isnull=True).count()
    return {"filled": filled, "vacant": vacant, "total": filled + vacant}


# --- used by the API (and any other caller that needs them) ------------------------------------


def user_is_org_admin(*, user: Any) -> bool:
    """Whether ``user`` may reorganise the organisation (RevOps or superuser): the ``change``
    side of the same predicate that guards positions."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return Position.objects.visible_to(user, "change").filter(holder_id=user.pk).exists()


def positions_held(*, user: Any) -> QuerySet[Position]:
    """The positions ``user`` holds, with their manager, region, team and dotted lines."""
    return positions_visible(user=user).filter(holder_id=user.pk)


def positions_list(
    *,
    user: Any,
    q: str = "",
    role: str = "",
    region: str = "",
    team: str = "",
    vacant: bool | None = None,
    reports_to: int | None = None,
) -> QuerySet[Position]:
    """``positions_search`` plus a filter on the solid manager (``reports_to`` position id)."""
    qs = positions_search(user=user, q=q, role=role, region=region, team=team, vacant=vacant)
    if reports_to is not None:
        qs = qs.filter(reports_to_id=reports_to)
    return qs


def direct_reports(*, user: Any, position: Position) -> QuerySet[Position]:
    """The positions reporting to ``position`` on a solid line, that ``user`` sees."""
    return positions_visible(user=user).filter(reports_to=position)


def reporting_lines(*, user: Any, position: Position) -> QuerySet[ReportingLine]:
    """The history of ``position``'s reporting lines (solid and dotted), newest first.

    ``manager_visible`` says whether ``user`` may see the manager of each line, so that callers
    can show the line without disclosing a position outside the caller's view.
    """
    return (
        ReportingLine.objects.filter(position=position)
        .select_related("manager", "manager__holder", "changed_by")
        .annotate(
            manager_visible=Exists(
                Position.objects.visible_to(user).filter(pk=OuterRef("manager_id"))
            )
        )
    )


def people_visible(*, user: Any) -> QuerySet[User]:
    """Every user, with the positions they hold, for org admins; nobody for anyone else."""
    if not user_is_org_admin(user=user):
        return User.objects.none()
    return User.objects.prefetch_related(
        Prefetch("positions", queryset=Position.objects.only("id", "holder_id"))
    )


def api_tokens_for(*, user: Any) -> QuerySet[ApiToken]:
    """The caller's own API tokens (never anyone else's)."""
    return ApiToken.objects.filter(user_id=user.pk)


def regions_list(*, user: Any) -> QuerySet[Region]:
    """Regions and territories: reference data every signed-in user may read."""
    return Region.objects.select_related("parent")


def teams_list(*, user: Any) -> QuerySet[Team]:
    """Teams: reference data every signed-in user may read."""
    return Team.objects.select_related("region")


def role_templates_list(*, user: Any) -> QuerySet[RoleTemplate]:
    """Role templates with their responsibilities: every signed-in user may read them."""
    return RoleTemplate.objects.prefetch_related("responsibilities")


def position_detail(*, user: Any, pk: int) -> Position:
    """``position_get`` plus what a position page shows: ``chain`` (the visible solid managers
    above, nearest first) and ``direct_report_ids`` (the visible solid reports)."""
    position = position_get(user=user, pk=pk)
    position.chain = manager_chain(user=user, position=position)  # type: ignore[attr-defined]
    position.direct_report_ids = list(  # type: ignore[attr-defined]
        direct_reports(user=user, position=position).order_by("id").values_list("id", flat=True)
    )
    return position


def people_search(*, user: Any, q: str = "", active: bool | None = None) -> QuerySet[User]:
    """``people_visible`` filtered by name or email text and by whether the login is active."""
    people = people_visible(user=user)
    if q:
        people = people.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    if active is not None:
        people = people.filter(is_active=active)
    return people


def record_owners(
    *, user: Any, domain: str, action: str = "change", keep: Position | None = None
) -> QuerySet[Position]:
    """The positions whose ``domain`` records ``user`` may ``action``, by the one visibility
    predicate: with ``"change"``, who a record may be given to (the user's own positions and
    everything below them; every position for RevOps and superusers); with ``"view"``, the
    owners a list filter offers. ``keep``, a record's current owner, stays a choice (an editor
    through a share keeps it)."""
    from revline.org.visibility import record_owner_positions

    if getattr(user, "is_superuser", False):
        q = Q()
    else:
        q = Q(id__in=record_owner_positions(user, action, domain))
    if keep is not None:
        q |= Q(pk=keep.pk)
    return Position.objects.filter(q).select_related("holder")
