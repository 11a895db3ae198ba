"""The visibility predicate against a brute-force reference, on random organisations.

Hypothesis draws a random organisation (a forest of positions with random roles, solid and
dotted lines, vacancies, people holding several positions, teams with and without record
sharing, inactive users, a superuser), random records of the three test models and random
explicit shares. For every user, model and action, ``visible_to`` must return exactly what a
reference written here from the rules (DESIGN.md §4, the ``revline.org.visibility`` docstring and
``position_visibility_q``'s docstring) says. Then random reorganisations go through the services
and the predicate must agree with the reference again at once.

The reference walks the reporting graph in Python from a plain model of the organisation kept by
this test (``World``); it reads neither the closure table nor anything in ``visibility.py``. The
services' results are checked against that model too (current lines, open history rows, holders),
and the closure table against a breadth-first search of the current lines.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from revline.org import services
from revline.org.models import (
    DottedLine,
    Position,
    PositionClosure,
    PositionHolding,
    RecordShare,
    ReportingLine,
    Team,
    User,
)
from revline.org.visibility import can
from tests.scoped_app.models import CoachingNote, Deal, Prospect

MODELS = [Deal, Prospect, CoachingNote]
ACTIONS = ("view", "change")
ROLES = [
    "ceo",
    "cso",
    "cro",
    "vp_sales",
    "sales_manager",
    "team_lead",
    "ae",
    "bdr",
    "sdr",
    "marketing",
    "customer_success",
    "revops",
]

# --- the rules, restated from DESIGN.md §4 and the visibility docstring -----------------------

# The domain of each test model (tests/scoped_app/models.py).
DOMAIN = {Deal: "revenue", Prospect: "leads", CoachingNote: "people"}

# Org-wide roles: role -> domain ("*" = every domain) -> actions on every record of the domain.
# CRO and CSO see all revenue records, RevOps/admin everything, Marketing leads and campaigns,
# the CEO/executive has a read-only company view.
ORG_WIDE = {
    "revops": {"*": {"view", "change"}},
    "ceo": {"*": {"view"}},
    "cso": {"revenue": {"view"}, "leads": {"view"}, "service": {"view"}},
    "cro": {"revenue": {"view"}, "leads": {"view"}, "campaigns": {"view"}, "service": {"view"}},
    "marketing": {"leads": {"view"}, "campaigns": {"view"}},
}
# Who sees the whole organisation chart, and who may change it.
CHART_VIEW_ALL = {"ceo", "cso", "cro", "revops"}
CHART_CHANGE = {"revops"}


@dataclass
class World:
    """What the organisation should be, as plain Python (database ids as keys)."""

    role: dict[int, str] = field(default_factory=dict)
    parent: dict[int, int | None] = field(default_factory=dict)
    dotted: dict[int, set[int]] = field(default_factory=dict)
    holder: dict[int, int | None] = field(default_factory=dict)
    team: dict[int, int | None] = field(default_factory=dict)
    team_shares: dict[int, bool] = field(default_factory=dict)
    active: dict[int, bool] = field(default_factory=dict)
    superuser: dict[int, bool] = field(default_factory=dict)
    # (model, record id) -> owning position id; (model, record id) -> {position id: access}
    owner: dict[tuple[type, int], int] = field(default_factory=dict)
    shares: dict[tuple[type, int], dict[int, str]] = field(default_factory=dict)

    # graph walks -------------------------------------------------------------------------
    def managers_of(self, pid: int) -> set[int]:
        direct = set(self.dotted[pid])
        if self.parent[pid] is not None:
            direct.add(self.parent[pid])
        return direct

    def up_depths(self, pid: int) -> dict[int, int]:
        """Every position at or above ``pid`` (solid and dotted), with the shortest distance."""
        seen = {pid: 0}
        queue = deque([pid])
        while queue:
            node = queue.popleft()
            for mgr in sorted(self.managers_of(node)):
                if mgr not in seen:
                    seen[mgr] = seen[node] + 1
                    queue.append(mgr)
        return seen

    def up(self, pid: int) -> set[int]:
        return set(self.up_depths(pid))

    def down(self, pid: int) -> set[int]:
        return {q for q in self.role if pid in self.up(q)}

    def held_by(self, uid: int) -> set[int]:
        return {p for p, h in self.holder.items() if h == uid}

    # the reference -----------------------------------------------------------------------
    def record_grants(self, uid: int, action: str, model: type, rid: int) -> set[str]:
        """The rules that let ``uid`` do ``action`` on the record (empty: not allowed)."""
        if not self.active[uid]:
            return set()
        if self.superuser[uid]:
            return {"superuser"}
        grants = set()
        mine = self.held_by(uid)
        owner = self.owner[(model, rid)]
        # 1. the owner and everyone above the owner (solid and dotted, any depth)
        if owner in mine:
            grants.add("owner")
        elif mine & self.up(owner):
            grants.add("above")
        # 2. explicit shares; a change share also allows viewing
        for pid, access in self.shares.get((model, rid), {}).items():
            if pid in mine and (action == "view" or access == "change"):
                grants.add(f"share:{access}")
        # 3. team-mates of the owner when the team shares records (view only)
        team = self.team[owner]
        if (
            action == "view"
            and team is not None
            and self.team_shares[team]
            and any(self.team[p] == team for p in mine)
        ):
            grants.add("team")
        # 4. org-wide roles for the model's domain
        domain = DOMAIN[model]
        for pid in mine:
            role_grants = ORG_WIDE.get(self.role[pid], {})
            if action in role_grants.get(domain, role_grants.get("*", set())):
                grants.add(f"org-wide:{self.role[pid]}")
        return grants

    def sees_record(self, uid: int, action: str, model: type, rid: int) -> bool:
        return bool(self.record_grants(uid, action, model, rid))

    def sees_position(self, uid: int, action: str, pid: int) -> bool:
        if not self.active[uid]:
            return False
        if self.superuser[uid]:
            return True
        mine = self.held_by(uid)
        roles = {self.role[p] for p in mine}
        if action == "change":
            return bool(roles & CHART_CHANGE)
        if roles & CHART_VIEW_ALL:
            return True
        if pid in mine:
            return True
        if mine & self.up(pid):  # below one of mine
            return True
        if any(pid in self.up(m) for m in mine):  # above one of mine
            return True
        team = self.team[pid]
        return team is not None and any(self.team[m] == team for m in mine)


# --- drawing an organisation -------------------------------------------------------------------


@st.composite
def organisations(draw):
    # Counts are drawn first, then each item: lists come out long as often as short
    # (Hypothesis's own lists favour short ones).
    n = draw(st.integers(1, 10), label="positions")
    roles = [draw(st.sampled_from(ROLES)) for _ in range(n)]
    # Positions are created in index order and only report to earlier ones: acyclic by
    # construction, and since roles are drawn independently of the order, any forest/DAG shape
    # with any roles can come out.
    parents = [None] + [draw(st.sampled_from([None, *range(i)])) for i in range(1, n)]
    dotted: set[tuple[int, int]] = set()
    for _ in range(draw(st.integers(0, 4), label="dotted lines") if n > 1 else 0):
        i = draw(st.integers(1, n - 1))
        j = draw(st.integers(0, i - 1))
        if parents[i] != j:
            dotted.add((i, j))
    n_users = draw(st.integers(1, 6), label="users")
    # about one position in n_users + 1 is vacant; people often hold two or more positions
    holders = [draw(st.sampled_from([*range(n_users), None])) for _ in range(n)]
    inactive = draw(st.sets(st.integers(0, n_users - 1), max_size=2))
    n_teams = draw(st.integers(0, 3))
    team_shares = [draw(st.booleans()) for _ in range(n_teams)]
    teams = [draw(st.sampled_from([None, *range(n_teams)])) for _ in range(n)]
    n_records = draw(st.integers(0, 20), label="records")
    records = [
        (draw(st.integers(0, len(MODELS) - 1)), draw(st.integers(0, n - 1)))
        for _ in range(n_records)
    ]
    shares = {}
    for _ in range(draw(st.integers(0, 12), label="shares") if records else 0):
        record, position = draw(st.integers(0, n_records - 1)), draw(st.integers(0, n - 1))
        shares[(record, position)] = draw(st.sampled_from(ACTIONS))
    return {
        "roles": roles,
        "parents": parents,
        "dotted": sorted(dotted),
        "n_users": n_users,
        "holders": holders,
        "inactive": inactive,
        "team_shares": team_shares,
        "teams": teams,
        "records": records,
        "shares": [(r, p, access) for (r, p), access in sorted(shares.items())],
        "superuser_active": draw(st.booleans()),
    }


def build(spec) -> World:
    world = World()
    users = []
    for k in range(spec["n_users"]):
        user = User.objects.create_user(email=f"user{k}@prop.test", full_name=f"User {k}")
        users.append(user)
    superuser = User.objects.create_superuser(email="root@prop.test", full_name="Root")
    users_all = [*users, superuser]

    teams = [
        services.team_create(name=f"Team {k}", share_records=share, by=None)
        for k, share in enumerate(spec["team_shares"])
    ]
    for team in teams:
        world.team_shares[team.pk] = team.share_records

    positions: list[Position] = []
    for i, role in enumerate(spec["roles"]):
        parent = spec["parents"][i]
        holder = spec["holders"][i]
        team = spec["teams"][i]
        position = services.position_create(
            title=f"P{i} {role}",
            role=role,
            by=None,
            reports_to=positions[parent] if parent is not None else None,
            holder=users[holder] if holder is not None else None,
            team=teams[team] if team is not None else None,
        )
        positions.append(position)
        world.role[position.pk] = role
        world.parent[position.pk] = positions[parent].pk if parent is not None else None
        world.dotted[position.pk] = set()
        world.holder[position.pk] = users[holder].pk if holder is not None else None
        world.team[position.pk] = teams[team].pk if team is not None else None
    for i, j in spec["dotted"]:
        services.position_add_dotted_line(position=positions[i], manager=positions[j], by=None)
        world.dotted[positions[i].pk].add(positions[j].pk)
    # Deactivated after they were given positions (a deactivated login cannot be given one).
    for k in spec["inactive"]:
        users[k].is_active = False
        users[k].save(update_fields=["is_active"])
    if not spec["superuser_active"]:
        superuser.is_active = False
        superuser.save(update_fields=["is_active"])
    for user in users_all:
        world.active[user.pk] = user.is_active
        world.superuser[user.pk] = user.is_superuser

    records = []
    for k, (m, owner) in enumerate(spec["records"]):
        model = MODELS[m]
        record = model.objects.create(name=f"r{k}", owner_position=positions[owner])
        records.append(record)
        world.owner[(model, record.pk)] = positions[owner].pk
    for r, p, access in spec["shares"]:
        record = records[r]
        RecordShare.objects.create(
            content_type=ContentType.objects.get_for_model(type(record)),
            object_id=record.pk,
            position=positions[p],
            access=access,
        )
        world.shares.setdefault((type(record), record.pk), {})[positions[p].pk] = access
    return world


# --- checks ------------------------------------------------------------------------------------


def check_services_state(world: World) -> None:
    """The database says what the services were asked to do, history rows included."""
    assert dict(Position.objects.values_list("id", "reports_to_id")) == world.parent
    assert dict(Position.objects.values_list("id", "holder_id")) == world.holder
    assert dict(Position.objects.values_list("id", "team_id")) == world.team
    assert set(DottedLine.objects.values_list("position_id", "manager_id")) == {
        (p, m) for p, ms in world.dotted.items() for m in ms
    }
    open_lines = set(
        ReportingLine.objects.filter(ended_at__isnull=True).values_list(
            "position_id", "manager_id", "kind"
        )
    )
    assert open_lines == {(p, m, "solid") for p, m in world.parent.items() if m is not None} | {
        (p, m, "dotted") for p, ms in world.dotted.items() for m in ms
    }
    open_holdings = set(
        PositionHolding.objects.filter(ended_at__isnull=True).values_list("position_id", "user_id")
    )
    assert open_holdings == {(p, u) for p, u in world.holder.items() if u is not None}
    assert {
        (type(r), r.pk): r.owner_position_id for m in MODELS for r in m.objects.all()
    } == world.owner


def check_closure(world: World) -> None:
    expected = {
        (ancestor, pid, depth)
        for pid in world.role
        for ancestor, depth in world.up_depths(pid).items()
    }
    actual = set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth"))
    assert actual == expected


def check_visibility(world: World) -> None:
    users = User.objects.filter(pk__in=world.active)
    for user in users:
        for action in ACTIONS:
            for model in MODELS:
                expected = set()
                for m, rid in world.owner:
                    if m is model and (grants := world.record_grants(user.pk, action, m, rid)):
                        expected.add(rid)
                        if len(grants) == 1:  # how often each rule alone decides
                            event(f"sole grant: {action} {model.__name__} by {grants.pop()}")
                    elif m is model and world.active[user.pk]:
                        event(f"refused: {action} {model.__name__}")
                actual = set(model.objects.visible_to(user, action).values_list("pk", flat=True))
                assert actual == expected, (user.email, action, model.__name__)
            expected = {p for p in world.role if world.sees_position(user.pk, action, p)}
            actual = set(Position.objects.visible_to(user, action).values_list("pk", flat=True))
            assert actual == expected, (user.email, action, "Position")


def check_single_object(world: World) -> None:
    """``can()``, the single-object check, agrees too (one instance per user and action)."""
    samples: list = [Position.objects.order_by("-id").first()]
    for model in MODELS:
        ids = sorted(rid for (m, rid) in world.owner if m is model)
        if ids:
            samples.append(model.objects.get(pk=ids[0]))
    users = User.objects.filter(pk__in=world.active).order_by("pk")
    for i, user in enumerate(users):
        for j, action in enumerate(ACTIONS):
            instance = samples[(2 * i + j) % len(samples)]
            if isinstance(instance, Position):
                expected = world.sees_position(user.pk, action, instance.pk)
            else:
                expected = world.sees_record(user.pk, action, type(instance), instance.pk)
            assert can(user, action, instance) == expected, (user.email, action, instance)


def check_all(world: World) -> None:
    check_services_state(world)
    check_closure(world)
    check_visibility(world)


# --- reorganisations ---------------------------------------------------------------------------


def reorganise(world: World, data) -> str:
    """Apply one random reorganisation through the services and to ``world``; returns its name."""
    pids = sorted(world.role)
    dotted_lines = sorted((q, m) for q, ms in world.dotted.items() for m in ms)
    # Hypothesis favours the first entries (they shrink best): the reorganisations come first.
    operations = ["move", "dotted_add", *(["dotted_remove"] if dotted_lines else [])]
    operations += ["vacate", "assign", "team_change"]
    operations += ["records_reassign"] if len(pids) > 1 else []
    operations += ["move_into_own_subtree", "dotted_into_own_subtree"]
    op = data.draw(st.sampled_from(operations), label="operation")
    p = data.draw(st.sampled_from(pids), label="position")
    position = Position.objects.get(pk=p)
    below = world.down(p)  # p itself and everything under it

    if op == "move":
        target = data.draw(st.sampled_from([None, *sorted(set(pids) - below)]), label="to")
        services.position_move(
            position=position,
            reports_to=Position.objects.get(pk=target) if target else None,
            by=None,
        )
        world.parent[p] = target
        world.dotted[p].discard(target)  # a dotted line to the new manager becomes solid
    elif op == "move_into_own_subtree":
        target = data.draw(st.sampled_from(sorted(below)), label="to")
        with pytest.raises(ValidationError):
            services.position_move(
                position=position, reports_to=Position.objects.get(pk=target), by=None
            )
    elif op == "dotted_add":
        candidates = sorted(set(pids) - below - {world.parent[p]} - world.dotted[p])
        if not candidates:
            return "noop"
        manager = data.draw(st.sampled_from(candidates), label="manager")
        services.position_add_dotted_line(
            position=position, manager=Position.objects.get(pk=manager), by=None
        )
        world.dotted[p].add(manager)
    elif op == "dotted_into_own_subtree":
        manager = data.draw(st.sampled_from(sorted(below)), label="manager")
        with pytest.raises(ValidationError):
            services.position_add_dotted_line(
                position=position, manager=Position.objects.get(pk=manager), by=None
            )
    elif op == "dotted_remove":
        q, m = data.draw(st.sampled_from(dotted_lines), label="line")
        services.position_remove_dotted_line(
            position=Position.objects.get(pk=q), manager=Position.objects.get(pk=m), by=None
        )
        world.dotted[q].discard(m)
    elif op == "vacate":
        services.position_assign_holder(position=position, holder=None, by=None)
        world.holder[p] = None
    elif op == "assign":
        uid = data.draw(st.sampled_from(sorted(world.active)), label="user")
        if world.active[uid] or world.holder[p] == uid:
            services.position_assign_holder(
                position=position, holder=User.objects.get(pk=uid), by=None
            )
            world.holder[p] = uid
        else:
            with pytest.raises(ValidationError):  # a deactivated login gets no position
                services.position_assign_holder(
                    position=position, holder=User.objects.get(pk=uid), by=None
                )
    elif op == "team_change":
        team = data.draw(st.sampled_from([None, *sorted(world.team_shares)]), label="team")
        services.position_update(
            position=position, team=Team.objects.get(pk=team) if team else None, by=None
        )
        world.team[p] = team
    elif op == "records_reassign":
        to = data.draw(st.sampled_from(sorted(set(pids) - {p})), label="to")
        services.records_reassign(
            from_position=position, to_position=Position.objects.get(pk=to), by=None
        )
        for key, owner in world.owner.items():
            if owner == p:
                world.owner[key] = to
    return op


@settings(
    # REVLINE_HYPOTHESIS_EXAMPLES=2000 for a deeper (slower) search.
    max_examples=int(os.environ.get("REVLINE_HYPOTHESIS_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=organisations(), data=st.data())
def test_visible_to_equals_reference_before_and_after_reorganisations(db, spec, data):
    with transaction.atomic():
        world = build(spec)
        check_all(world)
        check_single_object(world)
        for _ in range(data.draw(st.integers(1, 3), label="reorganisations")):
            event(f"reorganisation: {reorganise(world, data)}")
            check_all(world)
        transaction.set_rollback(True)
