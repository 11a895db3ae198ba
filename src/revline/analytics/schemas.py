"""Schemas of the KPI API (``/api/v1/analytics/...``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Schema


class ScopeQuery(Schema):
    """The period, the position subtree and the filters of a KPI question; all optional."""

    from_: dt.date | None = Field(
        None, alias="from", description="First day (YYYY-MM-DD); default: see docs/kpis.md."
    )
    to: dt.date | None = Field(None, description="Last day, included (YYYY-MM-DD).")
    period: str = Field(
        "", description="A fiscal period instead of from/to: 2027, 2027-Q2 or 2027-M05."
    )
    position: int | None = Field(
        None, description="Position id: that position's subtree; default: all you may see."
    )
    region: str = Field("", description="Region id or code (the owner's region).")
    team: int | None = Field(None, description="Team id (the owner's team).")
    owner: int | None = Field(None, description="Exactly this owner position id.")
    product: int | None = Field(None, description="Product id (the deal's main product).")
    sector: str = Field("", description="Segment: the account's sector.")
    size: str = Field("", description="Segment: the account's size band (e.g. 201-1000).")
    type: str = Field("", description="Opportunity type: new_business, renewal, upsell...")

    def filters(self) -> dict[str, Any]:
        keys = ("region", "team", "owner", "product", "sector", "size", "type")
        return {k: getattr(self, k) for k in keys if getattr(self, k) not in (None, "")}


class KpiQuery(ScopeQuery):
    keys: str = Field(
        "", description="Comma-separated KPI keys; default: every KPI the analytics app measures."
    )


class BreakdownQuery(ScopeQuery):
    key: str = Field(..., description="One KPI key.")
    by: str = Field(
        ...,
        description="position, report, team, region, month, quarter, year, product, type, "
        "sector, size, stage, competitor, campaign, source, kind... (see the KPI's breakdowns).",
    )


class KpiOut(Schema):
    key: str
    name: str
    unit: str
    value: float | None
    count: int | None = None
    start: dt.date
    end: dt.date
    definition: str = ""
    parts: dict[str, Any] = {}
    drilldown: dict[str, Any] | None = Field(
        None, description="Filters of the list named by drilldown_list (the records behind it)."
    )
    drilldown_list: str | None = Field(
        None, description="The list of those records: opportunities, leads, accounts, ..."
    )
    drilldown_url: str | None = Field(
        None,
        description=(
            "The API list of those records (its total is what the KPI counts); for prospects "
            "added, which has no API list, the web list (a browser session)."
        ),
    )
    ignored_filters: list[str] = []
    note: str = ""


class KpiListOut(Schema):
    items: list[KpiOut]
    start: dt.date
    end: dt.date
    position: int | None = None


class BreakdownRowOut(KpiOut):
    group: Any = None
    label: str = ""


class BreakdownOut(Schema):
    key: str
    by: str
    start: dt.date
    end: dt.date
    total: KpiOut
    items: list[BreakdownRowOut]


class KpiDefinitionOut(Schema):
    key: str
    name: str
    unit: str
    definition: str
    roles: list[str]
    responsibility: str
    measured_by: str
    parts: list[str]
    breakdowns: list[str]


class KpiDefinitionsOut(Schema):
    items: list[KpiDefinitionOut]
