"""API schemas of the organisation (``revline.org.api``).

Output schemas read the querysets of ``revline.org.selectors`` as they come (holder, manager,
region and team selected; dotted lines prefetched), so a list costs the same queries at any size.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema

from revline.api.schemas import PersonRef, person_ref
from revline.org.choices import LineKind, RoleType


class RegionRef(Schema):
    code: str
    name: str


class TeamRef(Schema):
    id: int
    name: str


class PositionRef(Schema):
    """A position as other records point to it."""

    id: int
    title: str
    holder: PersonRef | None


class PositionOut(Schema):
    """One position. ``reports_to`` is the solid line; ``dotted_to`` the dotted managers."""

    id: int
    title: str
    role: RoleType
    role_label: str
    holder: PersonRef | None
    reports_to: int | None = Field(..., description="Position id of the solid-line manager.")
    dotted_to: list[int] = Field(..., description="Position ids of the dotted-line managers.")
    region: RegionRef | None
    team: TeamRef | None
    is_vacant: bool

    @staticmethod
    def resolve_role_label(obj: Any) -> str:
        return obj.get_role_display()

    @staticmethod
    def resolve_reports_to(obj: Any) -> int | None:
        return obj.reports_to_id

    @staticmethod
    def resolve_dotted_to(obj: Any) -> list[int]:
        return sorted(line.manager_id for line in obj.dotted_lines.all())


class PositionDetailOut(PositionOut):
    manager_chain: list[PositionRef] = Field(
        ..., description="Solid-line managers above, nearest first, as far as you may see."
    )
    direct_reports: list[int] = Field(
        ..., description="Ids of the visible positions reporting to this one (solid line)."
    )

    @staticmethod
    def resolve_manager_chain(obj: Any) -> list[Any]:
        return obj.chain

    @staticmethod
    def resolve_direct_reports(obj: Any) -> list[int]:
        return obj.direct_report_ids


class MyPositionOut(Schema):
    """A position the caller holds, with its solid-line manager."""

    id: int
    title: str
    role: RoleType
    role_label: str
    region: RegionRef | None
    team: TeamRef | None
    manager: PositionRef | None
    dotted_to: list[int]

    @staticmethod
    def resolve_role_label(obj: Any) -> str:
        return obj.get_role_display()

    @staticmethod
    def resolve_manager(obj: Any) -> Any:
        return obj.reports_to

    @staticmethod
    def resolve_dotted_to(obj: Any) -> list[int]:
        return sorted(line.manager_id for line in obj.dotted_lines.all())


class ChartNodeOut(Schema):
    id: int
    title: str
    role: RoleType
    holder: PersonRef | None
    dotted_to: list[int]
    size: int = Field(..., description="Positions in this subtree, this one included.")
    children: list[ChartNodeOut]


ChartNodeOut.model_rebuild()


class ChartOut(Schema):
    items: list[ChartNodeOut]
    next: str | None = None
    total: int = Field(..., description="Positions in the chart.")


def chart_items(nodes: list[Any]) -> list[dict[str, Any]]:
    """``selectors.ChartNode`` trees as plain dicts (no further queries)."""
    return [
        {
            "id": node.position.pk,
            "title": node.position.title,
            "role": node.position.role,
            "holder": person_ref(node.position.holder),
            "dotted_to": sorted(node.dotted_to),
            "size": node.size,
            "children": chart_items(node.children),
        }
        for node in nodes
    ]


class ReportingLineOut(Schema):
    id: int
    kind: LineKind
    manager: PositionRef | None = Field(
        ..., description="Null when the manager is outside what you may see."
    )
    started_at: datetime
    ended_at: datetime | None
    changed_by: PersonRef | None

    @staticmethod
    def resolve_manager(obj: Any) -> Any:
        return obj.manager if obj.manager_visible else None


class PositionFilters(Schema):
    """Query parameters of ``GET /org/positions``; all optional, combined with AND."""

    q: str = Field("", description="Text in the title, the holder's name or email.")
    role: RoleType | None = None
    region: str = Field("", description="Region code.")
    team: int | None = Field(None, description="Team id.")
    vacant: bool | None = None
    reports_to: int | None = Field(None, description="Solid-line manager's position id.")


# --- position writes ---------------------------------------------------------------------------


class PositionCreateIn(Schema):
    title: str = Field(..., min_length=1, max_length=150)
    role: RoleType
    reports_to: int | None = Field(None, description="Position id of the solid-line manager.")
    holder: int | None = Field(None, description="User id of the person holding it.")
    region: str | None = Field(None, description="Region code.")
    team: int | None = Field(None, description="Team id.")


class PositionUpdateIn(Schema):
    """Only the fields sent change; send null to clear ``region`` or ``team``."""

    title: str | None = Field(None, min_length=1, max_length=150)
    role: RoleType | None = None
    region: str | None = Field(None, description="Region code, or null to clear.")
    team: int | None = Field(None, description="Team id, or null to clear.")


class MoveIn(Schema):
    reports_to: int | None = Field(..., description="New solid-line manager; null for a root.")
    join_team: bool = Field(False, description="Also move it into the new manager's team.")


class HolderIn(Schema):
    user: int | None = Field(..., description="User id; null vacates the position.")


class DottedLineIn(Schema):
    manager: int = Field(..., description="Position id of the dotted-line manager.")


class ReassignIn(Schema):
    to: int = Field(..., description="Position id that receives the records.")


class ReassignOut(Schema):
    moved: dict[str, int] = Field(..., description="Records moved, per model label.")
    total: int


# --- people ------------------------------------------------------------------------------------


class PersonOut(Schema):
    id: int
    email: str
    name: str
    is_active: bool
    is_superuser: bool
    positions: list[int] = Field(..., description="Ids of the positions the person holds.")

    @staticmethod
    def resolve_name(obj: Any) -> str:
        return obj.get_full_name()

    @staticmethod
    def resolve_positions(obj: Any) -> list[int]:
        return sorted(p.pk for p in obj.positions.all())


class PeopleFilters(Schema):
    q: str = Field("", description="Text in the name or email.")
    active: bool | None = None


class PersonCreateIn(Schema):
    email: str = Field(..., min_length=3, max_length=254)
    full_name: str = Field(..., min_length=1, max_length=150)
    password: str | None = Field(None, description="Omit to create the person without a login.")


class OffboardIn(Schema):
    successor: int = Field(..., description="Position id that receives the leaver's records.")
    deactivate: bool = True


class OffboardOut(Schema):
    vacated: list[int]
    moved: dict[str, int]
    tokens_revoked: int


# --- regions and teams -------------------------------------------------------------------------


class RegionOut(Schema):
    id: int
    code: str
    name: str
    parent: str | None = Field(..., description="Code of the parent region.")

    @staticmethod
    def resolve_parent(obj: Any) -> str | None:
        return obj.parent.code if obj.parent_id else None


class RegionIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    code: str = Field(..., min_length=1, max_length=40)
    parent: str | None = Field(None, description="Code of the parent region.")


class TeamOut(Schema):
    id: int
    name: str
    region: RegionRef | None
    share_records: bool


class TeamIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    region: str | None = Field(None, description="Region code.")
    share_records: bool = False


# --- role templates ----------------------------------------------------------------------------


class ResponsibilityOut(Schema):
    id: int
    title: str
    description: str
    capability: str
    kpi: str
    order: int


class ResponsibilityIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    capability: str = Field("", max_length=64)
    kpi: str = Field("", max_length=64)
    order: int | None = Field(None, ge=0)


class ResponsibilityPatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None
    capability: str | None = Field(None, max_length=64)
    kpi: str | None = Field(None, max_length=64)
    order: int | None = Field(None, ge=0)


class RoleTemplateOut(Schema):
    id: int
    role: RoleType
    name: str
    summary: str
    responsibilities: list[ResponsibilityOut]


class RoleTemplatePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    summary: str | None = None
