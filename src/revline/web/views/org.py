"""Web views: the org chart and the position page (what the acting user may see, nothing more).

Every read goes through ``revline.org.selectors``, which starts from the visibility predicate; a
position outside the user's view answers 404, never 403.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, path, reverse

from revline.core.catalog import CAPABILITIES, KPIS
from revline.core.selectors import audit_events_for
from revline.org import selectors
from revline.org.choices import RoleType
from revline.org.forms import ChartSearchForm
from revline.org.models import Position, Region, Team, User
from revline.web.htmx import htmx_render

# --- helpers shared with the admin screens ----------------------------------------------------


def model_name(label: str) -> str:
    """'crm.Lead' -> 'leads' (the model's plural name), for record counts."""
    try:
        return str(apps.get_model(label)._meta.verbose_name_plural)
    except (LookupError, ValueError):
        return label


def record_counts(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Owned-record counts as (plural name, count), largest first."""
    return sorted(
        ((model_name(label), n) for label, n in counts.items()),
        key=lambda item: (-item[1], item[0]),
    )


def initials(position: Position | None) -> str:
    """'Anna Snelling' -> 'AS' for a position's avatar; '?' when vacant."""
    if position is None or not position.holder_id or position.holder is None:
        return "?"
    words = position.holder.get_full_name().split()
    return "".join(word[0] for word in words[:2]).upper() or "?"


# --- the org chart ----------------------------------------------------------------------------

DEFAULT_OPEN_DEPTH = 2  # without a search, the first levels of the chart start expanded


@dataclass
class ChartRow:
    """One line of the flattened chart: a node (``kind="node"``) or the end of its children."""

    kind: str
    node: selectors.ChartNode | None = None
    depth: int = 0
    is_match: bool = False
    is_open: bool = False
    team_size: int = 0
    dotted: list[Position] = field(default_factory=list)
    oversees: list[Position] = field(default_factory=list)

    @property
    def position(self) -> Position | None:
        return self.node.position if self.node else None

    @property
    def reports(self) -> int:
        return len(self.node.children) if self.node else 0

    @property
    def initials(self) -> str:
        return initials(self.position)


END = ChartRow(kind="end")


def _index(roots: list[selectors.ChartNode]) -> dict[int, selectors.ChartNode]:
    index: dict[int, selectors.ChartNode] = {}
    stack = list(roots)
    while stack:
        node = stack.pop()
        index[node.position.pk] = node
        stack.extend(node.children)
    return index


def _chart_rows(
    roots: list[selectors.ChartNode],
    index: dict[int, selectors.ChartNode],
    matches: set[int] | None,
    mine: frozenset[int] = frozenset(),
) -> list[ChartRow]:
    """Flatten the forest for one template loop: each node, then its children, then END.

    With a search (``matches`` not None) exactly the paths to the matches are open; without one
    the first levels are, and the path down to the viewer's own positions (``mine``). Sizes
    are computed once, bottom up.
    """
    oversees: dict[int, list[Position]] = {}
    for node in index.values():
        for manager_id in node.dotted_to:
            oversees.setdefault(manager_id, []).append(node.position)

    size: dict[int, int] = {}
    holds_match: dict[int, bool] = {}
    holds_mine: dict[int, bool] = {}

    def measure(node: selectors.ChartNode) -> None:
        total, found = 1, bool(matches and node.position.pk in matches)
        for child in node.children:
            measure(child)
            total += size[child.position.pk]
            found = found or holds_match[child.position.pk]
        size[node.position.pk] = total
        holds_match[node.position.pk] = found
        holds_mine[node.position.pk] = node.position.pk in mine or any(
            holds_mine[child.position.pk] for child in node.children
        )

    for root in roots:
        measure(root)

    rows: list[ChartRow] = []

    def walk(nodes: list[selectors.ChartNode], depth: int) -> None:
        for node in nodes:
            pk = node.position.pk
            if matches is None:
                is_open = depth < DEFAULT_OPEN_DEPTH or holds_mine[pk]
            else:
                is_open = any(holds_match[c.position.pk] for c in node.children)
            rows.append(
                ChartRow(
                    kind="node",
                    node=node,
                    depth=depth,
                    is_match=matches is not None and pk in matches,
                    is_open=is_open,
                    team_size=size[pk] - 1,
                    dotted=[index[m].position for m in node.dotted_to if m in index],
                    oversees=oversees.get(pk, []),
                )
            )
            if node.children:
                walk(node.children, depth + 1)
                rows.append(END)

    walk(roots, 0)
    return rows


def _chain_up(node: selectors.ChartNode, index: dict[int, selectors.ChartNode]) -> list[Position]:
    """The visible solid managers above ``node``, top first (for the breadcrumb of ?root=)."""
    chain: list[Position] = []
    seen = {node.position.pk}
    current = node.position.reports_to_id
    while current in index and current not in seen:
        seen.add(current)
        chain.append(index[current].position)
        current = index[current].position.reports_to_id
    return list(reversed(chain))


@login_required
def org_chart(request: HttpRequest) -> HttpResponse:
    user = request.user
    regions = list(Region.objects.all())
    form = ChartSearchForm(request.GET or None, regions=regions)
    criteria = form.criteria() if request.GET else {"q": "", "role": "", "region": ""}
    searching = any(criteria.values())

    roots = selectors.org_chart(user=user)
    index = _index(roots)

    root_node = None
    if root_id := request.GET.get("root", "").strip():
        try:
            root_node = index[int(root_id)]
        except (ValueError, KeyError):
            raise Http404("No such position.") from None
        roots = [root_node]
    in_view = _index(roots) if root_node else index  # the full index still names dotted lines

    matches: set[int] | None = None
    match_positions: list[Position] = []
    if searching:
        found = selectors.positions_search(user=user, **criteria).prefetch_related(None)
        matches = {pk for pk in found.values_list("id", flat=True) if pk in in_view}
        match_positions = sorted(
            (in_view[pk].position for pk in matches), key=lambda p: (p.title, p.pk)
        )

    context = {
        "form": form,
        "rows": _chart_rows(
            roots,
            index,
            matches,
            frozenset(pk for pk, node in index.items() if node.position.holder_id == user.pk),
        ),
        "searching": searching,
        "matches": match_positions,
        "root": root_node.position if root_node else None,
        "root_chain": _chain_up(root_node, index) if root_node else [],
        "total": len(in_view),
        "can_reorganise": selectors.user_is_org_admin(user=user),
        "query_string": request.GET.urlencode(),
    }
    return htmx_render(request, "web/org/chart.html", "web/org/_chart.html", context)


# --- the position page ------------------------------------------------------------------------

AUDIT_ACTIONS = {
    "position.create": "Created",
    "position.update": "Edited",
    "position.move": "Moved",
    "position.dotted_add": "Dotted line added",
    "position.dotted_remove": "Dotted line removed",
    "position.assign": "Holder assigned",
    "position.vacate": "Vacated",
    "position.records_reassign": "Records reassigned",
    "position.delete": "Removed",
}
POSITION_FIELDS = {"reports_to", "dotted_to", "records_to"}
USER_FIELDS = {"holder"}
FIELD_LABELS = {
    "reports_to": "reports to",
    "dotted_to": "dotted line to",
    "records_to": "records to",
    "counts": "records moved",
}


@dataclass
class AuditRow:
    at: Any
    actor: Any
    action: str
    changes: list[tuple[str, str, str]]


def audit_rows(*, user: Any, instance: Any) -> list[AuditRow]:
    """The audit trail of ``instance`` in words: position and person ids become names, but only
    positions ``user`` may see are named."""
    events = list(audit_events_for(instance=instance))
    position_ids: set[int] = set()
    user_ids: set[int] = set()
    for event in events:
        for name, pair in (event.changes or {}).items():
            target = (
                position_ids
                if name in POSITION_FIELDS
                else user_ids
                if name in USER_FIELDS
                else None
            )
            if target is not None:
                target.update(v for v in pair if isinstance(v, int))
    positions = (
        {p.pk: p.title for p in Position.objects.visible_to(user).filter(id__in=position_ids)}
        if position_ids
        else {}
    )
    people = (
        {u.pk: u.get_full_name() for u in User.objects.filter(id__in=user_ids)} if user_ids else {}
    )
    # Regions and teams are reference data every signed-in user may read.
    names = {
        "region": dict(Region.objects.values_list("id", "name")) if events else {},
        "team": dict(Team.objects.values_list("id", "name")) if events else {},
    }

    def show(name: str, value: Any) -> str:
        if value is None or value == "" or value == {}:
            return "—"
        if name in POSITION_FIELDS and isinstance(value, int):
            return positions.get(value, "a position you cannot see")
        if name in USER_FIELDS and isinstance(value, int):
            return people.get(value, f"person #{value}")
        if name in names and isinstance(value, int):
            return names[name].get(value, f"{name} #{value}")
        if name == "role" and value in RoleType.values:
            return str(RoleType(value).label)
        if isinstance(value, dict):
            return ", ".join(f"{n} {model_name(label)}" for label, n in value.items())
        return str(value)

    rows = []
    for event in events:
        changes = [
            (FIELD_LABELS.get(name, name.replace("_", " ")), show(name, b), show(name, a))
            for name, (b, a) in (event.changes or {}).items()
        ]
        rows.append(
            AuditRow(
                at=event.at,
                actor=event.actor,
                action=AUDIT_ACTIONS.get(event.action, event.action),
                changes=changes,
            )
        )
    return rows


def responsibility_rows(template: Any) -> list[dict[str, Any]]:
    """A role template's responsibilities with their capability and KPI from the catalogue."""
    if template is None:
        return []
    rows = []
    for item in template.responsibilities.all():
        capability = CAPABILITIES.get(item.capability)
        kpi = KPIS.get(item.kpi)
        url = None
        if capability and capability.url:
            try:
                url = reverse(capability.url)
            except NoReverseMatch:
                url = None
        rows.append(
            {
                "item": item,
                "capability": capability.label if capability else item.capability,
                "capability_url": url,
                "kpi": kpi.name if kpi else item.kpi,
                "kpi_definition": kpi.definition if kpi else "",
            }
        )
    return rows


@login_required
def position_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    try:
        position = selectors.position_get(user=user, pk=pk)
    except Position.DoesNotExist:
        raise Http404("No such position.") from None

    visible = selectors.positions_visible(user=user)
    template = selectors.role_templates_for(positions=[position]).get(position.role)
    lines = list(position.line_history.select_related("changed_by"))
    line_managers = {
        p.pk: p
        for p in visible.filter(id__in={line.manager_id for line in lines}).prefetch_related(None)
    }
    context = {
        "position": position,
        "initials": initials(position),
        "template": template,
        "responsibilities": responsibility_rows(template),
        "chain": list(reversed(selectors.manager_chain(user=user, position=position))),
        "dotted_managers": selectors.dotted_managers(user=user, position=position),
        "reports": list(visible.filter(reports_to=position).order_by("title", "id")),
        "dotted_reports": list(
            visible.filter(dotted_lines__manager=position).order_by("title", "id")
        ),
        "team_size": selectors.subtree(user=user, position=position).count(),
        "lines": [(line, line_managers.get(line.manager_id)) for line in lines],
        "holdings": list(position.holdings.select_related("user")),
        "audit": audit_rows(user=user, instance=position),
        "can_reorganise": selectors.user_is_org_admin(user=user),
    }
    return render(request, "web/org/position_detail.html", context)


urlpatterns = [
    path("org/", org_chart, name="org_chart"),
    path("org/positions/<int:pk>/", position_detail, name="position_detail"),
]
