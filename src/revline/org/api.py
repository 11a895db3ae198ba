"""``/api/v1/org/...``: the organisation through the API.

Reads go through ``revline.org.selectors`` (so through ``visible_to``); writes through
``revline.org.services``. A position outside the caller's view answers 404; one they see but may
not change answers 403. Endpoints that change the organisation are for RevOps admins and
superusers.

(No ``from __future__ import annotations`` here: ninja reads the handlers' annotations, such as
``Query[PositionFilters]``, when the router is built.)
"""

from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest
from ninja import Query, Router, Status

from revline.api.errors import Conflict, Forbidden
from revline.api.pagination import paginated
from revline.api.schemas import with_errors
from revline.org import selectors, services
from revline.org.choices import RoleType
from revline.org.models import Position
from revline.org.schemas import (
    ChartOut,
    DottedLineIn,
    HolderIn,
    MoveIn,
    OffboardIn,
    OffboardOut,
    PeopleFilters,
    PersonCreateIn,
    PersonOut,
    PositionCreateIn,
    PositionDetailOut,
    PositionFilters,
    PositionOut,
    PositionUpdateIn,
    ReassignIn,
    ReassignOut,
    RegionIn,
    RegionOut,
    ReportingLineOut,
    ResponsibilityIn,
    ResponsibilityOut,
    ResponsibilityPatch,
    RoleTemplateOut,
    RoleTemplatePatch,
    TeamIn,
    TeamOut,
    chart_items,
)

router = Router(tags=["org"])

T = TypeVar("T")


# --- helpers: who may, and what the ids in a body point to --------------------------------------


def _require_admin(request: HttpRequest) -> None:
    if not selectors.user_is_org_admin(user=request.auth):
        raise Forbidden("Only RevOps admins can change the organisation.")


def _position_to_change(request: HttpRequest, pk: int) -> Position:
    """The position, if the caller may change it: 404 if they cannot see it, else 403."""
    try:
        return selectors.position_get(user=request.auth, pk=pk, action="change")
    except Position.DoesNotExist:
        selectors.position_get(user=request.auth, pk=pk)  # 404 when invisible
        raise Forbidden("You may see this position but not change it.") from None


def _ref(field: str, value: Any, load: Callable[[Any], T]) -> T | None:
    """Load what a body field points to; an unknown reference is a 422 on that field."""
    if value is None:
        return None
    try:
        return load(value)
    except (ObjectDoesNotExist, ValueError):
        raise ValidationError({field: f"Unknown {field} {value!r}."}) from None


def _position_ref(request: HttpRequest, field: str, pk: int | None) -> Position | None:
    return _ref(
        field, pk, lambda v: selectors.position_get(user=request.auth, pk=v, action="change")
    )


def _region_ref(request: HttpRequest, field: str, code: str | None):
    return _ref(field, code, lambda v: selectors.regions_list(user=request.auth).get(code=v))


def _team_ref(request: HttpRequest, field: str, pk: int | None):
    return _ref(field, pk, lambda v: selectors.teams_list(user=request.auth).get(pk=v))


def _person_ref(request: HttpRequest, field: str, pk: int | None):
    return _ref(field, pk, lambda v: selectors.people_visible(user=request.auth).get(pk=v))


def _position_out(request: HttpRequest, position: Position) -> Position:
    """Re-read a position after a write, with what ``PositionOut`` shows."""
    return selectors.position_get(user=request.auth, pk=position.pk)


# --- positions: reads --------------------------------------------------------------------------


@router.get(
    "/positions",
    response=with_errors({200: list[PositionOut]}),
    summary="The positions you may see",
)
@paginated
def positions_list(request: HttpRequest, filters: Query[PositionFilters]):
    return selectors.positions_list(
        user=request.auth,
        q=filters.q.strip(),
        role=filters.role.value if filters.role else "",
        region=filters.region,
        team=str(filters.team) if filters.team is not None else "",
        vacant=filters.vacant,
        reports_to=filters.reports_to,
    )


@router.get(
    "/positions/{int:position_id}",
    response=with_errors({200: PositionDetailOut}, 404),
    summary="One position, with its manager chain and direct reports",
)
def position_detail(request: HttpRequest, position_id: int):
    return selectors.position_detail(user=request.auth, pk=position_id)


@router.get(
    "/positions/{int:position_id}/reporting-lines",
    response=with_errors({200: list[ReportingLineOut]}, 404),
    summary="History of a position's reporting lines, newest first",
)
@paginated(key="-id")
def position_reporting_lines(request: HttpRequest, position_id: int):
    position = selectors.position_get(user=request.auth, pk=position_id)
    return selectors.reporting_lines(user=request.auth, position=position)


@router.get(
    "/chart",
    response=with_errors({200: ChartOut}, 404),
    summary="The org chart you may see, nested along solid lines",
)
def chart(request: HttpRequest, root: int | None = None):
    root_position = selectors.position_get(user=request.auth, pk=root) if root else None
    nodes = selectors.org_chart(user=request.auth, root=root_position)
    items = chart_items(nodes)
    return {"items": items, "next": None, "total": sum(item["size"] for item in items)}


# --- positions: writes (RevOps) ----------------------------------------------------------------


@router.post(
    "/positions",
    response=with_errors({201: PositionOut}, 403),
    summary="Create a position (admin)",
)
def position_create(request: HttpRequest, payload: PositionCreateIn):
    _require_admin(request)
    position = services.position_create(
        title=payload.title,
        role=payload.role.value,
        by=request.auth,
        reports_to=_position_ref(request, "reports_to", payload.reports_to),
        holder=_person_ref(request, "holder", payload.holder),
        region=_region_ref(request, "region", payload.region),
        team=_team_ref(request, "team", payload.team),
    )
    return Status(201, _position_out(request, position))


@router.patch(
    "/positions/{int:position_id}",
    response=with_errors({200: PositionOut}, 403, 404),
    summary="Change a position's title, role, region or team (admin)",
)
def position_update(request: HttpRequest, position_id: int, payload: PositionUpdateIn):
    position = _position_to_change(request, position_id)
    sent = payload.model_dump(exclude_unset=True)
    changes: dict[str, Any] = {}
    if sent.get("title") is not None:
        changes["title"] = payload.title
    if sent.get("role") is not None:
        changes["role"] = RoleType(payload.role).value
    if "region" in sent:
        changes["region"] = _region_ref(request, "region", payload.region)
    if "team" in sent:
        changes["team"] = _team_ref(request, "team", payload.team)
    services.position_update(position=position, by=request.auth, **changes)
    return _position_out(request, position)


@router.delete(
    "/positions/{int:position_id}",
    response=with_errors({204: None}, 403, 404, 409),
    summary="Remove a vacant position with no reports and no records (admin)",
)
def position_delete(request: HttpRequest, position_id: int):
    position = _position_to_change(request, position_id)
    try:
        services.position_delete(position=position, by=request.auth)
    except ValidationError as exc:
        raise Conflict(" ".join(exc.messages)) from None
    return Status(204, None)


@router.post(
    "/positions/{int:position_id}/move",
    response=with_errors({200: PositionOut}, 403, 404),
    summary="Move a position and its subtree under another manager (admin)",
)
def position_move(request: HttpRequest, position_id: int, payload: MoveIn):
    position = _position_to_change(request, position_id)
    services.position_move(
        position=position,
        reports_to=_position_ref(request, "reports_to", payload.reports_to),
        by=request.auth,
        join_team=payload.join_team,
    )
    return _position_out(request, position)


@router.put(
    "/positions/{int:position_id}/holder",
    response=with_errors({200: PositionOut}, 403, 404),
    summary="Put a person in a position, or vacate it with null (admin)",
)
def position_holder(request: HttpRequest, position_id: int, payload: HolderIn):
    position = _position_to_change(request, position_id)
    services.position_assign_holder(
        position=position, holder=_person_ref(request, "user", payload.user), by=request.auth
    )
    return _position_out(request, position)


@router.post(
    "/positions/{int:position_id}/dotted-lines",
    response=with_errors({201: PositionOut}, 403, 404),
    summary="Add a dotted reporting line (admin)",
)
def dotted_line_add(request: HttpRequest, position_id: int, payload: DottedLineIn):
    position = _position_to_change(request, position_id)
    manager = _position_ref(request, "manager", payload.manager)
    services.position_add_dotted_line(position=position, manager=manager, by=request.auth)
    return Status(201, _position_out(request, position))


@router.delete(
    "/positions/{int:position_id}/dotted-lines/{int:manager_id}",
    response=with_errors({204: None}, 403, 404),
    summary="End a dotted reporting line (admin)",
)
def dotted_line_remove(request: HttpRequest, position_id: int, manager_id: int):
    position = _position_to_change(request, position_id)
    manager = selectors.position_get(user=request.auth, pk=manager_id, action="change")
    services.position_remove_dotted_line(position=position, manager=manager, by=request.auth)
    return Status(204, None)


@router.post(
    "/positions/{int:position_id}/reassign",
    response=with_errors({200: ReassignOut}, 403, 404),
    summary="Hand every record a position owns to another position (admin)",
)
def position_reassign(request: HttpRequest, position_id: int, payload: ReassignIn):
    position = _position_to_change(request, position_id)
    moved = services.records_reassign(
        from_position=position,
        to_position=_position_ref(request, "to", payload.to),
        by=request.auth,
    )
    return {"moved": moved, "total": sum(moved.values())}


# --- people (RevOps) ---------------------------------------------------------------------------


@router.get("/people", response=with_errors({200: list[PersonOut]}, 403), summary="People (admin)")
@paginated
def people_list(request: HttpRequest, filters: Query[PeopleFilters]):
    _require_admin(request)
    return selectors.people_search(user=request.auth, q=filters.q.strip(), active=filters.active)


@router.post("/people", response=with_errors({201: PersonOut}, 403), summary="Add a person (admin)")
def person_create(request: HttpRequest, payload: PersonCreateIn):
    _require_admin(request)
    user = services.user_create(
        email=payload.email,
        full_name=payload.full_name,
        password=payload.password,
        by=request.auth,
    )
    return Status(201, selectors.people_visible(user=request.auth).get(pk=user.pk))


@router.post(
    "/people/{int:user_id}/offboard",
    response=with_errors({200: OffboardOut}, 403, 404),
    summary="A person leaves: vacate, hand over records, revoke tokens, deactivate (admin)",
)
def person_offboard(request: HttpRequest, user_id: int, payload: OffboardIn):
    _require_admin(request)
    person = selectors.people_visible(user=request.auth).get(pk=user_id)
    result = services.person_offboard(
        user=person,
        successor=_position_ref(request, "successor", payload.successor),
        deactivate=payload.deactivate,
        by=request.auth,
    )
    return {
        "vacated": [p.pk for p in result.vacated],
        "moved": result.moved,
        "tokens_revoked": result.tokens_revoked,
    }


# --- regions and teams -------------------------------------------------------------------------


@router.get("/regions", response=with_errors({200: list[RegionOut]}), summary="Regions")
@paginated
def regions_list(request: HttpRequest):
    return selectors.regions_list(user=request.auth)


@router.post(
    "/regions", response=with_errors({201: RegionOut}, 403), summary="Add a region (admin)"
)
def region_create(request: HttpRequest, payload: RegionIn):
    _require_admin(request)
    region = services.region_create(
        name=payload.name,
        code=payload.code,
        parent=_region_ref(request, "parent", payload.parent),
        by=request.auth,
    )
    return Status(201, region)


@router.get("/teams", response=with_errors({200: list[TeamOut]}), summary="Teams")
@paginated
def teams_list(request: HttpRequest):
    return selectors.teams_list(user=request.auth)


@router.post("/teams", response=with_errors({201: TeamOut}, 403), summary="Add a team (admin)")
def team_create(request: HttpRequest, payload: TeamIn):
    _require_admin(request)
    team = services.team_create(
        name=payload.name,
        region=_region_ref(request, "region", payload.region),
        share_records=payload.share_records,
        by=request.auth,
    )
    return Status(201, team)


# --- role templates ----------------------------------------------------------------------------


def _template(request: HttpRequest, role: str):
    return selectors.role_templates_list(user=request.auth).get(role=role)


@router.get(
    "/role-templates",
    response=with_errors({200: list[RoleTemplateOut]}),
    summary="Role templates and their responsibilities",
)
@paginated
def role_templates_list(request: HttpRequest):
    return selectors.role_templates_list(user=request.auth)


@router.get(
    "/role-templates/{role}",
    response=with_errors({200: RoleTemplateOut}, 404),
    summary="One role template",
)
def role_template_detail(request: HttpRequest, role: str):
    return _template(request, role)


@router.patch(
    "/role-templates/{role}",
    response=with_errors({200: RoleTemplateOut}, 403, 404),
    summary="Change a role template's name or summary (admin)",
)
def role_template_update(request: HttpRequest, role: str, payload: RoleTemplatePatch):
    template = _template(request, role)
    _require_admin(request)
    services.role_template_update(
        template=template, name=payload.name, summary=payload.summary, by=request.auth
    )
    return _template(request, role)


@router.post(
    "/role-templates/{role}/responsibilities",
    response=with_errors({201: ResponsibilityOut}, 403, 404),
    summary="Add a responsibility to a role (admin)",
)
def responsibility_create(request: HttpRequest, role: str, payload: ResponsibilityIn):
    template = _template(request, role)
    _require_admin(request)
    responsibility = services.responsibility_save(
        template=template,
        title=payload.title,
        description=payload.description,
        capability=payload.capability,
        kpi=payload.kpi,
        order=payload.order,
        by=request.auth,
    )
    return Status(201, responsibility)


@router.patch(
    "/role-templates/{role}/responsibilities/{int:responsibility_id}",
    response=with_errors({200: ResponsibilityOut}, 403, 404),
    summary="Change a responsibility (admin)",
)
def responsibility_update(
    request: HttpRequest, role: str, responsibility_id: int, payload: ResponsibilityPatch
):
    template = _template(request, role)
    responsibility = template.responsibilities.get(pk=responsibility_id)
    _require_admin(request)

    def value(name: str) -> Any:
        sent = getattr(payload, name)
        return getattr(responsibility, name) if sent is None else sent

    responsibility = services.responsibility_save(
        template=template,
        responsibility=responsibility,
        title=value("title"),
        description=value("description"),
        capability=value("capability"),
        kpi=value("kpi"),
        order=payload.order,
        by=request.auth,
    )
    return responsibility


@router.delete(
    "/role-templates/{role}/responsibilities/{int:responsibility_id}",
    response=with_errors({204: None}, 403, 404),
    summary="Remove a responsibility (admin)",
)
def responsibility_delete(request: HttpRequest, role: str, responsibility_id: int):
    template = _template(request, role)
    responsibility = template.responsibilities.get(pk=responsibility_id)
    _require_admin(request)
    services.responsibility_delete(responsibility=responsibility, by=request.auth)
    return Status(204, None)
