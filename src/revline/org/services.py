"""Every write to the organisation: keyword-only, one transaction each, each audited."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from revline.core.services import audit_event_record, diff_fields
from revline.org.choices import LineKind, RoleType
from revline.org.models import (
    ApiToken,
    DottedLine,
    OrgScopedModel,
    Position,
    PositionClosure,
    PositionHolding,
    Region,
    ReportingLine,
    Responsibility,
    RoleTemplate,
    Team,
    User,
)
from revline.org.visibility import roles_changed

# --- the closure table -------------------------------------------------------------------------


def _closure_pairs() -> dict[tuple[int, int], int]:
    """(ancestor, descendant) -> shortest depth, from the current solid and dotted lines."""
    managers: dict[int, list[int]] = defaultdict(list)
    ids = list(Position.objects.values_list("id", flat=True))
    for pid, mgr in Position.objects.filter(reports_to__isnull=False).values_list(
        "id", "reports_to_id"
    ):
        managers[pid].append(mgr)
    for pid, mgr in DottedLine.objects.values_list("position_id", "manager_id"):
        managers[pid].append(mgr)
    pairs: dict[tuple[int, int], int] = {}
    for pid in ids:
        seen = {pid: 0}
        queue = deque([pid])
        while queue:
            node = queue.popleft()
            for mgr in managers.get(node, ()):
                if mgr not in seen:
                    seen[mgr] = seen[node] + 1
                    queue.append(mgr)
        for anc, depth in seen.items():
            pairs[(anc, pid)] = depth
    return pairs


# A hierarchy change reads the closure table (the cycle check), writes lines and rebuilds the
# closure from what it reads. Two at once could each pass the check and together make a cycle,
# or rebuild from different snapshots, so they run one at a time: on PostgreSQL behind a
# transaction-level advisory lock, on SQLite because every write transaction starts with
# BEGIN IMMEDIATE (settings.py), which already admits one writer at a time.
HIERARCHY_LOCK_KEY = 0x5245564C  # "REVL"


def _lock_hierarchy() -> None:
    """Wait until no other transaction is changing the hierarchy; held until this one ends.

    Take it first, before reading anything the change decides on."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [HIERARCHY_LOCK_KEY])


@transaction.atomic
def closure_rebuild() -> int:
    """Bring ``PositionClosure`` in line with the reporting lines; returns rows changed.

    Called inside every service that changes the hierarchy, so a reorganisation is visible to
    the very next query. Only the difference is written.
    """
    _lock_hierarchy()
    wanted = _closure_pairs()
    existing = {
        (a, d): (pk, depth)
        for pk, a, d, depth in PositionClosure.objects.values_list(
            "id", "ancestor_id", "descendant_id", "depth"
        )
    }
    stale = [pk for key, (pk, depth) in existing.items() if wanted.get(key) != depth]
    fresh = [
        PositionClosure(ancestor_id=a, descendant_id=d, depth=depth)
        for (a, d), depth in wanted.items()
        if existing.get((a, d), (None, None))[1] != depth
    ]
    for start in range(0, len(stale), 500):
        PositionClosure.objects.filter(id__in=stale[start : start + 500]).delete()
    PositionClosure.objects.bulk_create(fresh, batch_size=1000)
    return len(stale) + len(fresh)


def _would_cycle(*, position: Position, manager: Position | None) -> bool:
    if manager is None:
        return False
    if manager.pk == position.pk:
        return True
    return PositionClosure.objects.filter(ancestor=position, descendant=manager).exists()


def _open_line(*, position: Position, manager: Position, kind: str, by: Any) -> None:
    ReportingLine.objects.create(
        position=position,
        manager=manager,
        kind=kind,
        started_at=timezone.now(),
        changed_by=by if getattr(by, "pk", None) else None,
    )


def _close_lines(*, position: Position, kind: str, manager: Position | None = None) -> None:
    lines = ReportingLine.objects.filter(position=position, kind=kind, ended_at__isnull=True)
    if manager is not None:
        lines = lines.filter(manager=manager)
    lines.update(ended_at=timezone.now())


# --- positions ---------------------------------------------------------------------------------


@transaction.atomic
def position_create(
    *,
    title: str,
    role: str,
    by: Any,
    reports_to: Position | None = None,
    holder: User | None = None,
    region: Region | None = None,
    team: Team | None = None,
) -> Position:
    if role not in RoleType.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    _lock_hierarchy()
    position = Position(
        title=title.strip(), role=role, reports_to=reports_to, region=region, team=team
    )
    position.full_clean(exclude=["holder"])
    position.save()
    if reports_to is not None:
        _open_line(position=position, manager=reports_to, kind=LineKind.SOLID, by=by)
    audit_event_record(
        actor=by,
        action="position.create",
        instance=position,
        changes={
            "title": (None, position.title),
            "role": (None, role),
            "reports_to": (None, reports_to),
        },
    )
    if holder is not None:
        position = position_assign_holder(position=position, holder=holder, by=by)
    closure_rebuild()
    return position


@transaction.atomic
def position_update(
    *,
    position: Position,
    by: Any,
    title: str | None = None,
    role: str | None = None,
    region: Region | Any | None = ...,
    team: Team | Any | None = ...,
) -> Position:
    """Change a position's own fields. Reporting lines and holders have their own services."""
    values: dict[str, Any] = {}
    if title is not None:
        values["title"] = title.strip()
    if role is not None:
        if role not in RoleType.values:
            raise ValidationError({"role": f"Unknown role {role!r}."})
        values["role"] = role
    if region is not ...:
        values["region"] = region
    if team is not ...:
        values["team"] = team
    changes = diff_fields(position, values)
    if changes:
        position.full_clean(exclude=["holder", "reports_to"])
        position.save()
        if "role" in changes:
            roles_changed()
        audit_event_record(actor=by, action="position.update", instance=position, changes=changes)
    return position


@transaction.atomic
def position_move(
    *, position: Position, reports_to: Position | None, by: Any, join_team: bool = False
) -> Position:
    """Move a position, and with it the whole subtree below it, under a new manager.

    A dotted line to the new manager, if there was one, becomes the solid line. With
    ``join_team`` the position also leaves its team for the new manager's, when the manager has
    one (team-mates see each other, so staying in the old team keeps the old team in view); it
    never leaves a position without a team."""
    _lock_hierarchy()
    position = Position.objects.select_for_update().get(pk=position.pk)
    if position.reports_to_id == (reports_to.pk if reports_to else None):
        return position
    if _would_cycle(position=position, manager=reports_to):
        raise ValidationError(
            {"reports_to": "A position cannot report to itself or to someone below it."}
        )
    before = position.reports_to
    changes: dict[str, Any] = {"reports_to": (before, reports_to)}
    _close_lines(position=position, kind=LineKind.SOLID)
    if reports_to is not None:
        dotted, _ = DottedLine.objects.filter(position=position, manager=reports_to).delete()
        if dotted:
            _close_lines(position=position, kind=LineKind.DOTTED, manager=reports_to)
            changes["dotted_to"] = (reports_to, None)
    position.reports_to = reports_to
    fields = ["reports_to", "updated_at"]
    if (
        join_team
        and reports_to is not None
        and reports_to.team_id is not None
        and position.team_id != reports_to.team_id
    ):
        changes["team"] = (position.team, reports_to.team)
        position.team = reports_to.team
        fields.append("team")
    position.save(update_fields=fields)
    if reports_to is not None:
        _open_line(position=position, manager=reports_to, kind=LineKind.SOLID, by=by)
    closure_rebuild()
    audit_event_record(actor=by, action="position.move", instance=position, changes=changes)
    return position


@transaction.atomic
def position_add_dotted_line(*, position: Position, manager: Position, by: Any) -> DottedLine:
    _lock_hierarchy()
    position = Position.objects.get(pk=position.pk)
    if _would_cycle(position=position, manager=manager):
        raise ValidationError(
            {"manager": "A position cannot report to itself or to someone below it."}
        )
    if position.reports_to_id == manager.pk:
        raise ValidationError({"manager": "This is already the solid reporting line."})
    line, created = DottedLine.objects.get_or_create(position=position, manager=manager)
    if created:
        _open_line(position=position, manager=manager, kind=LineKind.DOTTED, by=by)
        closure_rebuild()
        audit_event_record(
            actor=by,
            action="position.dotted_add",
            instance=position,
            changes={"dotted_to": (None, manager)},
        )
    return line


@transaction.atomic
def position_remove_dotted_line(*, position: Position, manager: Position, by: Any) -> None:
    _lock_hierarchy()
    deleted, _ = DottedLine.objects.filter(position=position, manager=manager).delete()
    if deleted:
        _close_lines(position=position, kind=LineKind.DOTTED, manager=manager)
        closure_rebuild()
        audit_event_record(
            actor=by,
            action="position.dotted_remove",
            instance=position,
            changes={"dotted_to": (manager, None)},
        )


@transaction.atomic
def position_assign_holder(*, position: Position, holder: User | None, by: Any) -> Position:
    """Put ``holder`` in the position, or vacate it with ``holder=None``. History is kept."""
    position = Position.objects.select_for_update().get(pk=position.pk)
    if position.holder_id == (holder.pk if holder else None):
        return position
    if holder is not None and not holder.is_active:
        raise ValidationError({"holder": "This person's login is deactivated."})
    now = timezone.now()
    before = position.holder
    PositionHolding.objects.filter(position=position, ended_at__isnull=True).update(ended_at=now)
    position.holder = holder
    position.save(update_fields=["holder", "updated_at"])
    roles_changed()
    if holder is not None:
        PositionHolding.objects.create(position=position, user=holder, started_at=now)
    audit_event_record(
        actor=by,
        action="position.vacate" if holder is None else "position.assign",
        instance=position,
        changes={"holder": (before, holder)},
    )
    return position


@transaction.atomic
def position_delete(*, position: Position, by: Any) -> None:
    """Remove a vacant position with no reports and no records, created by mistake.

    A position others have ever reported to is part of their history and cannot be removed
    (keep it vacant instead); its own lines and holders go with it, and the audit trail keeps
    the removal."""
    _lock_hierarchy()
    position = Position.objects.select_for_update().get(pk=position.pk)
    if position.holder_id:
        raise ValidationError("Vacate the position before removing it.")
    if position.direct_reports.exists() or position.dotted_reports.exists():
        raise ValidationError("Move the positions reporting to it first.")
    if any(count for count in owned_record_counts(position=position).values()):
        raise ValidationError("Reassign the records it owns first.")
    if ReportingLine.objects.filter(manager=position).exists():
        raise ValidationError(
            "Positions have reported to this one and their history names it: "
            "leave it vacant instead of removing it."
        )
    audit_event_record(actor=by, action="position.delete", instance=position)
    position.delete()
    roles_changed()
    closure_rebuild()


# --- records and people ------------------------------------------------------------------------


def org_scoped_models() -> list[type[OrgScopedModel]]:
    return [m for m in apps.get_models() if issubclass(m, OrgScopedModel) and not m._meta.abstract]


def owned_record_counts(*, position: Position) -> dict[str, int]:
    return {
        m._meta.label: m._default_manager.filter(owner_position=position).count()
        for m in org_scoped_models()
    }


@transaction.atomic
def records_reassign(*, from_position: Position, to_position: Position, by: Any) -> dict[str, int]:
    """Move every record owned by ``from_position`` to ``to_position``; returns counts per model."""
    if from_position.pk == to_position.pk:
        raise ValidationError("Choose a different position to receive the records.")
    moved: dict[str, int] = {}
    for model in org_scoped_models():
        count = model._default_manager.filter(owner_position=from_position).update(
            owner_position=to_position
        )
        if count:
            moved[model._meta.label] = count
    audit_event_record(
        actor=by,
        action="position.records_reassign",
        instance=from_position,
        changes={"records_to": (None, to_position), "counts": (None, moved)},
    )
    return moved


@dataclass
class OffboardResult:
    vacated: list[Position]
    moved: dict[str, int]
    tokens_revoked: int


@transaction.atomic
def person_offboard(
    *, user: User, successor: Position, by: Any, deactivate: bool = True
) -> OffboardResult:
    """A person leaves: vacate their positions, hand all the records those positions own to
    ``successor``, revoke their API tokens and (by default) deactivate their login. One step."""
    if getattr(by, "pk", None) == user.pk:
        raise ValidationError("You cannot offboard yourself; ask another administrator.")
    positions = list(Position.objects.filter(holder=user))
    if any(p.pk == successor.pk for p in positions):
        raise ValidationError("The successor position is held by the person who is leaving.")
    moved: dict[str, int] = defaultdict(int)
    for position in positions:
        for label, count in records_reassign(
            from_position=position, to_position=successor, by=by
        ).items():
            moved[label] += count
        position_assign_holder(position=position, holder=None, by=by)
    revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_event_record(
            actor=by, action="user.tokens_revoke", instance=user, changes={"tokens": (revoked, 0)}
        )
    if deactivate and user.is_active:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_event_record(
            actor=by, action="user.deactivate", instance=user, changes={"is_active": (True, False)}
        )
    return OffboardResult(vacated=positions, moved=dict(moved), tokens_revoked=revoked)


@transaction.atomic
def user_create(*, email: str, full_name: str, by: Any, password: str | None = None) -> User:
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": "A user with this email already exists."})
    if password:
        try:
            validate_password(password, User(email=email, full_name=full_name))
        except ValidationError as error:
            raise ValidationError({"password": error.messages}) from None
    user = User.objects.create_user(email=email, password=password, full_name=full_name.strip())
    audit_event_record(
        actor=by, action="user.create", instance=user, changes={"email": (None, email)}
    )
    return user


# --- regions and teams -------------------------------------------------------------------------


@transaction.atomic
def region_create(*, name: str, code: str, by: Any, parent: Region | None = None) -> Region:
    region = Region(name=name, code=code, parent=parent)
    region.full_clean()
    region.save()
    audit_event_record(actor=by, action="region.create", instance=region)
    return region


@transaction.atomic
def team_create(
    *, name: str, by: Any, region: Region | None = None, share_records: bool = False
) -> Team:
    team = Team(name=name, region=region, share_records=share_records)
    team.full_clean()
    team.save()
    audit_event_record(actor=by, action="team.create", instance=team)
    return team


# --- role templates ----------------------------------------------------------------------------


@transaction.atomic
def role_template_update(
    *, template: RoleTemplate, by: Any, name: str | None = None, summary: str | None = None
) -> RoleTemplate:
    values = {k: v for k, v in {"name": name, "summary": summary}.items() if v is not None}
    changes = diff_fields(template, values)
    if changes:
        template.full_clean()
        template.save()
        audit_event_record(
            actor=by, action="role_template.update", instance=template, changes=changes
        )
    return template


@transaction.atomic
def responsibility_save(
    *,
    template: RoleTemplate,
    by: Any,
    title: str,
    description: str = "",
    capability: str = "",
    kpi: str = "",
    order: int | None = None,
    responsibility: Responsibility | None = None,
) -> Responsibility:
    """Create a responsibility on ``template``, or update ``responsibility`` in place."""
    values: dict[str, Any] = {
        "title": title.strip(),
        "description": description,
        "capability": capability,
        "kpi": kpi,
    }
    if responsibility is None:
        if order is None:
            order = template.responsibilities.count()
        responsibility = Responsibility(template=template, order=order, **values)
        responsibility.full_clean()
        responsibility.save()
        changes: dict[str, Any] = {"title": (None, responsibility.title)}
        action = "responsibility.create"
    else:
        if order is not None:
            values["order"] = order
        changes = diff_fields(responsibility, values)
        responsibility.full_clean()
        responsibility.save()
        action = "responsibility.update"
    if changes:
        audit_event_record(actor=by, action=action, instance=template, changes=changes)
    return responsibility


@transaction.atomic
def responsibility_delete(*, responsibility: Responsibility, by: Any) -> None:
    template = responsibility.template
    audit_event_record(
        actor=by,
        action="responsibility.delete",
        instance=template,
        changes={"title": (responsibility.title, None)},
    )
    responsibility.delete()


@transaction.atomic
def responsibilities_reorder(
    *, template: RoleTemplate, ordered_ids: list[int], by: Any
) -> list[Responsibility]:
    """Put the responsibilities of ``template`` in the order of ``ordered_ids``.

    Responsibilities not listed keep their relative order after the listed ones. The orders are
    renumbered 0..n-1; one audit event records the order before and after.
    """
    items = list(template.responsibilities.order_by("order", "id"))
    by_id = {r.pk: r for r in items}
    if unknown := [i for i in ordered_ids if i not in by_id]:
        raise ValidationError(f"Not responsibilities of this role: {unknown}.")
    listed = list(dict.fromkeys(ordered_ids))
    ordered = [by_id[i] for i in listed] + [r for r in items if r.pk not in set(listed)]
    changed = []
    for index, item in enumerate(ordered):
        if item.order != index:
            item.order = index
            changed.append(item)
    if changed:
        Responsibility.objects.bulk_update(changed, ["order"])
    before, after = [r.pk for r in items], [r.pk for r in ordered]
    if before != after:
        audit_event_record(
            actor=by,
            action="responsibility.reorder",
            instance=template,
            changes={"order": (before, after)},
        )
    return ordered


# --- API tokens --------------------------------------------------------------------------------

TOKEN_PREFIX = "rvl_"


def token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def api_token_create(*, user: User, name: str, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token; returns it with the raw value, which is never stored and shown once."""
    if days is None:
        days = settings.REVLINE_API_TOKEN_DAYS
    if not 1 <= days <= 366:
        raise ValidationError({"days": "A token lives between 1 and 366 days."})
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip() or "API token",
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        digest=token_digest(raw),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_event_record(actor=user, action="api_token.create", instance=token)
    return token, raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken, by: Any) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_event_record(actor=by, action="api_token.revoke", instance=token)
    return token


def api_token_authenticate(*, raw: str) -> User | None:
    """The active user behind a raw bearer token, or None (unknown, revoked or expired)."""
    if not raw.startswith(TOKEN_PREFIX):
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(digest=token_digest(raw), revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


# --- login -------------------------------------------------------------------------------------


class LoginThrottled(Exception):
    """Too many failed attempts for this email or from this address; try again later."""


def login_authenticate(
    *, request: Any, email: str, password: str, ip: str | None, channel: str = "web"
) -> User | None:
    """Check a password login, throttled per email and per client address.

    Raises ``LoginThrottled`` once the failures inside the window reach the limit; returns the
    user or None. Every attempt is recorded, in the database so that all processes agree.
    """
    from django.contrib.auth import authenticate

    from revline.org.models import LoginAttempt

    email = (email or "").strip().lower()
    since = timezone.now() - timedelta(seconds=settings.REVLINE_LOGIN_WINDOW_SECONDS)
    failures = LoginAttempt.objects.filter(at__gte=since, succeeded=False)
    # A successful login for the address starts its count afresh.
    last_success = (
        LoginAttempt.objects.filter(email=email, at__gte=since, succeeded=True)
        .order_by("-at")
        .values_list("at", flat=True)
        .first()
    )
    email_failures = failures.filter(email=email, at__gt=last_success or since)
    if email_failures.count() >= settings.REVLINE_LOGIN_MAX_FAILURES_PER_EMAIL or (
        ip and failures.filter(ip=ip).count() >= settings.REVLINE_LOGIN_MAX_FAILURES_PER_IP
    ):
        LoginAttempt.objects.create(email=email, ip=ip, succeeded=False, channel=channel)
        raise LoginThrottled
    user = authenticate(request, username=email, password=password)
    LoginAttempt.objects.create(email=email, ip=ip, succeeded=user is not None, channel=channel)
    return user


def password_changed(*, user: User) -> None:
    """After a password change: audit it and e-mail the owner (after commit, by a task)."""
    from revline.org.tasks import send_password_changed_notice

    audit_event_record(actor=user, action="user.password_change", instance=user)
    transaction.on_commit(lambda: send_password_changed_notice.enqueue(user_id=user.pk))
