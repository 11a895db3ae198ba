"""Reads behind the web shell: navigation, the cockpit, API tokens and the system status page.

Each takes the acting user (where one is involved) and runs a fixed number of queries, whatever
the size of the organisation or of a role template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Min, QuerySet
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from revline.core.catalog import CAPABILITIES, KPIS, Capability, Kpi
from revline.core.models import WorkerHeartbeat
from revline.org import selectors as org_selectors
from revline.org.choices import RoleType
from revline.org.models import ApiToken, Position, Responsibility, RoleTemplate
from revline.org.visibility import ORG_CHART_CHANGE

ROLE_ORDER = {role: index for index, role in enumerate(RoleType.values)}
LIVE_KPIS = frozenset({"headcount"})


# --- who the user is -----------------------------------------------------------------------------


def positions_held(*, user: Any) -> list[Position]:
    """The positions ``user`` holds, most senior role first, with what the shell shows of them.

    A user always sees their own positions, their managers and their reports' count, so no
    visibility filter narrows this list.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    positions = (
        Position.objects.filter(holder_id=user.pk)
        .select_related("reports_to", "reports_to__holder", "region", "team")
        .annotate(direct_report_count=Count("direct_reports", distinct=True))
    )
    return sorted(positions, key=lambda p: (ROLE_ORDER.get(p.role, 99), p.title, p.pk))


def is_org_admin(*, user: Any, roles: set[str] | None = None) -> bool:
    """RevOps position holders and superusers administer the organisation and the system: the
    ``change`` side of the position predicate. ``roles`` (the user's roles, when the caller has
    them already) saves the query."""
    if roles is None:
        return org_selectors.user_is_org_admin(user=user)
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.is_superuser or bool(roles & ORG_CHART_CHANGE)


# --- navigation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    icon: str = "dot"


@dataclass
class Navigation:
    main: list[NavItem] = field(default_factory=list)
    tools: list[NavItem] = field(default_factory=list)
    admin: list[NavItem] = field(default_factory=list)
    role_labels: list[str] = field(default_factory=list)
    is_admin: bool = False


MAIN_ITEMS = [
    NavItem("Home", "web:home", "home"),
    NavItem("Accounts", "web:accounts", "briefcase"),
    NavItem("Contacts", "web:contacts", "user"),
    NavItem("Leads", "web:leads", "funnel"),
    NavItem("Opportunities", "web:opportunities", "target"),
    NavItem("Board", "web:board", "pipeline"),
    NavItem("Activities", "web:activities", "check"),
    NavItem("Quotes", "web:quotes", "copy"),
    NavItem("Org chart", "web:org_chart", "org"),
]
ADMIN_ITEMS = [
    NavItem("Organisation admin", "web:org_admin", "settings"),
    NavItem("Role templates", "web:role_templates", "template"),
    NavItem("System status", "web:system_status", "pulse"),
    NavItem("Fiscal calendar", "web:planning_calendar", "clock"),
]
CAPABILITY_ICONS = {"org": "org", "system": "pulse", "analytics": "chart", "pipeline": "pipeline"}


def navigation_for(*, user: Any) -> Navigation:
    """The sidebar for ``user``: everyone's items, the screens their roles' responsibilities link
    to (those that exist already), and the admin section for RevOps and superusers.

    Two queries (one for a user without positions)."""
    if not getattr(user, "is_authenticated", False):
        return Navigation()
    roles = set(Position.objects.filter(holder_id=user.pk).values_list("role", flat=True))
    is_admin = is_org_admin(user=user, roles=roles)
    # Admin screens live in their own section, and only for admins: a template that links a
    # responsibility to one never shows the link to someone the screen would answer 404.
    taken = {item.url_name for item in MAIN_ITEMS} | {item.url_name for item in ADMIN_ITEMS}
    tools: list[NavItem] = []
    if roles:
        keys = (
            Responsibility.objects.filter(template__role__in=roles)
            .exclude(capability="")
            .order_by("template_id", "order", "id")
            .values_list("capability", flat=True)
        )
        for key in keys:
            capability = CAPABILITIES.get(key)
            if capability is None or not capability.url or capability.url in taken:
                continue
            taken.add(capability.url)
            icon = CAPABILITY_ICONS.get(key.split(".")[0], "dot")
            tools.append(NavItem(capability.label, capability.url, icon))
    role_labels = [RoleType(r).label for r in sorted(roles, key=lambda r: ROLE_ORDER.get(r, 99))]
    if user.is_superuser and not roles:
        role_labels = ["Superuser"]
    return Navigation(
        main=list(MAIN_ITEMS),
        tools=tools,
        admin=list(ADMIN_ITEMS) if is_admin else [],
        role_labels=role_labels,
        is_admin=is_admin,
    )


# --- the cockpit ---------------------------------------------------------------------------------


@dataclass
class CockpitItem:
    responsibility: Responsibility
    capability: Capability | None
    kpi: Kpi | None
    live_value: dict[str, int] | None = None
    tile: Any = None  # the KPI's figures for the period (revline.web.cockpits.Tile), if measured

    @property
    def capability_key(self) -> str:
        return self.responsibility.capability


@dataclass
class Cockpit:
    positions: list[Position]
    position: Position | None
    template: RoleTemplate | None
    items: list[CockpitItem]
    headcount: dict[str, int]

    @property
    def live_kpi_count(self) -> int:
        return sum(1 for item in self.items if item.live_value is not None)

    @property
    def linked_screen_count(self) -> int:
        return sum(1 for item in self.items if item.capability and item.capability.url)


class PositionNotHeld(Exception):
    """The requested position is not one the user holds (the view answers 404)."""


def cockpit_for(*, user: Any, position_id: int | None = None) -> Cockpit:
    """The home page of ``user`` in one of their positions (the first, most senior, by default):
    the role template's responsibilities, each with its screen and KPI, and the live numbers.

    A fixed number of queries whatever the number of responsibilities or reports.
    """
    positions = positions_held(user=user)
    position: Position | None = positions[0] if positions else None
    if position_id is not None:
        position = next((p for p in positions if p.pk == position_id), None)
        if position is None:
            raise PositionNotHeld(position_id)
    headcount = org_selectors.headcount_below(user=user) if positions else {}
    if position is None:
        return Cockpit(positions, None, None, [], headcount)
    template = org_selectors.role_templates_for(positions=[position]).get(position.role)
    items: list[CockpitItem] = []
    if template is not None:
        for responsibility in template.responsibilities.all():
            kpi = KPIS.get(responsibility.kpi)
            items.append(
                CockpitItem(
                    responsibility=responsibility,
                    capability=CAPABILITIES.get(responsibility.capability),
                    kpi=kpi,
                    live_value=headcount if kpi and kpi.key in LIVE_KPIS else None,
                )
            )
    return Cockpit(positions, position, template, items, headcount)


# --- API tokens ----------------------------------------------------------------------------------


def api_tokens_of(*, user: Any) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first. Nobody lists or revokes another person's tokens."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def api_token_get(*, user: Any, pk: int) -> ApiToken:
    """One of the user's tokens; raises ``ApiToken.DoesNotExist`` for anyone else's."""
    return api_tokens_of(user=user).get(pk=pk)


# --- system status -------------------------------------------------------------------------------

STATUSES = [
    TaskResultStatus.READY,
    TaskResultStatus.RUNNING,
    TaskResultStatus.FAILED,
    TaskResultStatus.SUCCESSFUL,
]


@dataclass
class WorkerRow:
    heartbeat: WorkerHeartbeat
    state: str  # alive | stale | stopped

    @property
    def age_seconds(self) -> int:
        return max(0, int((timezone.now() - self.heartbeat.last_seen).total_seconds()))


@dataclass
class QueueRow:
    name: str
    counts: dict[str, int]

    @property
    def ordered(self) -> list[int]:
        return [self.counts.get(s, 0) for s in STATUSES]


@dataclass
class FailedTask:
    id: Any
    task_path: str
    queue_name: str
    enqueued_at: datetime
    finished_at: datetime | None
    exception_class: str
    message: str
    traceback: str


@dataclass
class SystemStatus:
    workers: list[WorkerRow]
    alive_workers: int
    totals: dict[str, int]
    queues: list[QueueRow]
    oldest_ready_at: datetime | None
    failed: list[FailedTask]
    checked_at: datetime
    stale_seconds: int

    @property
    def oldest_ready_age(self) -> timedelta | None:
        return self.checked_at - self.oldest_ready_at if self.oldest_ready_at else None

    @property
    def status_totals(self) -> list[tuple[str, str, int]]:
        return [(str(s), str(s.label), self.totals.get(s, 0)) for s in STATUSES]


def _exception_message(traceback: str, exception_class: str) -> str:
    """The last line of a formatted traceback (``module.Error: message``), without the class."""
    lines = [line for line in traceback.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    last = lines[-1].strip()
    short = exception_class.rsplit(".", 1)[-1]
    for prefix in (exception_class, short):
        if prefix and last.startswith(prefix):
            return last[len(prefix) :].lstrip(": ").strip()
    return last


def system_status(*, workers_shown: int = 20, failed_shown: int = 20) -> SystemStatus:
    """Workers (alive, stale or stopped), queue depth by status and queue, the oldest ready task
    and the most recent failures. Five queries. Callers check the user may see it."""
    now = timezone.now()
    stale_seconds = settings.REVLINE_WORKER_STALE_SECONDS
    stale_before = now - timedelta(seconds=stale_seconds)
    workers = []
    for hb in WorkerHeartbeat.objects.order_by("-last_seen", "-id")[:workers_shown]:
        if hb.stopped_at is not None:
            state = "stopped"
        elif hb.last_seen < stale_before:
            state = "stale"
        else:
            state = "alive"
        workers.append(WorkerRow(hb, state))
    alive = WorkerHeartbeat.objects.filter(stopped_at__isnull=True, last_seen__gte=stale_before)

    totals: dict[str, int] = {}
    by_queue: dict[str, dict[str, int]] = {}
    rows = (
        DBTaskResult.objects.order_by()
        .values("queue_name", "status")
        .annotate(n=Count("id"))
        .values_list("queue_name", "status", "n")
    )
    for queue, status, n in rows:
        totals[status] = totals.get(status, 0) + n
        by_queue.setdefault(queue, {})[status] = n
    oldest = DBTaskResult.objects.ready().order_by().aggregate(at=Min("enqueued_at"))["at"]
    failed = [
        FailedTask(
            id=r.id,
            task_path=r.task_path,
            queue_name=r.queue_name,
            enqueued_at=r.enqueued_at,
            finished_at=r.finished_at,
            exception_class=r.exception_class_path,
            message=_exception_message(r.traceback, r.exception_class_path),
            traceback=r.traceback,
        )
        for r in DBTaskResult.objects.failed()
        .order_by("-finished_at", "-enqueued_at")
        .only(
            "id",
            "task_path",
            "queue_name",
            "enqueued_at",
            "finished_at",
            "exception_class_path",
            "traceback",
        )[:failed_shown]
    ]
    return SystemStatus(
        workers=workers,
        alive_workers=alive.count(),
        totals=totals,
        queues=[QueueRow(name, counts) for name, counts in sorted(by_queue.items())],
        oldest_ready_at=oldest,
        failed=failed,
        checked_at=now,
        stale_seconds=stale_seconds,
    )
