"""The KPI drill-down filters of the record lists that are not the opportunity and lead lists
(activities, quotes, complaints, satisfaction answers, campaigns, prospects added).

A cockpit number links to one of these lists with the filters of the records it counts
(``revline.analytics.kpis``: each KPI's ``drilldown``). The list reads them from the query
string (``read``), passes them to its selector (which starts from ``visible_to``), shows them as
chips that can be removed one by one (``chips``), and keeps them in its pagination and CSV
export links (``query``), so the page, the next page and the export show the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, QueryDict

# Filters on the record's owner and account, shared by several lists.
OWNED = ("under", "owner", "team", "region")
ACCOUNT = ("sector", "size")

LABELS = {
    "under": "Owned at or below",
    "owner": "Owner",
    "team": "Owner's team",
    "region": "Owner's region",
    "product": "Product",
    "type": "Deal type",
    "sector": "Sector",
    "size": "Company size",
    "kind": "Kind",
    "outcome": "Outcome",
    "status": "Status",
    "occurred_from": "Happened from",
    "occurred_to": "Happened to",
    "due_from": "Due from",
    "due_to": "Due to",
    "overdue_on": "Overdue at the end of",
    "raised_from": "Raised from",
    "raised_to": "Raised to",
    "open_on": "Open at the end of",
    "responded_from": "Answered from",
    "responded_to": "Answered to",
    "sent_from": "Sent from",
    "sent_to": "Sent to",
    "started_from": "Started from",
    "started_to": "Started to",
    "id": "Campaign",
    "added_from": "Added from",
    "added_to": "Added to",
}


def read(params: QueryDict, keys: Iterable[str]) -> dict[str, str]:
    """The drill-down filters among ``keys`` that the query string sets."""
    found = {k: str(params.get(k, "")).strip() for k in keys}
    return {k: v for k, v in found.items() if v}


def query(params: QueryDict, *drop: str) -> str:
    """The query string without ``drop`` (and without the page), to append after ``?``."""
    q = params.copy()
    for key in ("page", *drop):
        q.pop(key, None)
    return q.urlencode()


def _ids(value: str) -> list[int]:
    return [int(v) for v in value.split(",") if v.strip().isdigit()]


def chips(request: HttpRequest, drill: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, value shown, the list's URL without that filter) of each drill-down filter, ids
    named: positions the user sees in the org chart, teams, regions and products (a query per
    kind of id present, none without drill-down filters)."""
    from revline.crm.forms import visible_positions
    from revline.org.models import Region, Team
    from revline.pipeline.models import Product

    names: dict[str, dict[str, str]] = {}
    people = [pk for key in ("under", "owner") if key in drill for pk in _ids(drill[key])]
    if people:
        named = {str(p.pk): str(p) for p in visible_positions(request.user).filter(pk__in=people)}
        names["under"] = names["owner"] = named
    for key, model in (("team", Team), ("region", Region), ("product", Product)):
        if key in drill and _ids(drill[key]):
            rows = model._default_manager.filter(pk__in=_ids(drill[key])).values_list("pk", "name")
            names[key] = {str(pk): name for pk, name in rows}
    out = []
    for key, value in drill.items():
        shown = ", ".join(names.get(key, {}).get(v, v) for v in value.split(","))
        out.append((LABELS.get(key, key), shown, "?" + query(request.GET, key)))
    return out


def context(request: HttpRequest, drill: dict[str, str], export_url: str) -> dict[str, Any]:
    """What the list templates need: the chips, the query for pagination links and the CSV
    export link (the same filters)."""
    page_query = query(request.GET)
    return {
        "drill": chips(request, drill) if drill else [],
        "page_query": page_query,
        "export_href": f"{export_url}?{page_query}" if page_query else export_url,
    }
