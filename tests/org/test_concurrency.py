"""Hierarchy changes from several processes at once (PostgreSQL: SQLite runs one writer at a time).

Two requests that each pass the cycle check on their own can together make a cycle (A under B
while B goes under A), and two closure rebuilds working from different snapshots can leave the
closure table wrong. The services serialise hierarchy changes, so the second one waits, sees the
first one's result and decides on it.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import DottedLine, Position, PositionClosure
from tests.org.factories import make_position

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite serialises writers itself (IMMEDIATE transactions); PostgreSQL only",
    ),
]


def run_together(*calls):
    """Run each call in its own thread (own connection), started together; return outcomes."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = [""] * len(calls)

    def worker(i, call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[i] = "ok"
        except ValidationError:
            outcomes[i] = "refused"
        except Exception as exc:  # an IntegrityError or a deadlock would be a bug
            outcomes[i] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


@pytest.fixture
def slow_cycle_check(monkeypatch):
    """Widen the window between the cycle check and the write, as a busy server would."""
    real = services._would_cycle

    def slow(**kwargs):
        answer = real(**kwargs)
        time.sleep(0.5)
        return answer

    monkeypatch.setattr(services, "_would_cycle", slow)


def assert_acyclic_and_closure_right():
    managers: dict[int, set[int]] = {
        p: set() for p in Position.objects.values_list("id", flat=True)
    }
    for pid, mgr in Position.objects.exclude(reports_to=None).values_list("id", "reports_to_id"):
        managers[pid].add(mgr)
    for pid, mgr in DottedLine.objects.values_list("position_id", "manager_id"):
        managers[pid].add(mgr)
    expected = set()
    for pid in managers:
        seen = {pid: 0}
        queue = deque([pid])
        while queue:
            node = queue.popleft()
            for mgr in managers[node]:
                assert mgr != pid, f"cycle through position {pid}"
                if mgr not in seen:
                    seen[mgr] = seen[node] + 1
                    queue.append(mgr)
        expected |= {(a, pid, d) for a, d in seen.items()}
    actual = set(PositionClosure.objects.values_list("ancestor_id", "descendant_id", "depth"))
    assert actual == expected


def test_crossed_moves_cannot_make_a_cycle(slow_cycle_check):
    a = make_position(RoleType.SALES_MANAGER)
    b = make_position(RoleType.SALES_MANAGER)
    outcomes = run_together(
        lambda: services.position_move(position=a, reports_to=b, by=None),
        lambda: services.position_move(position=b, reports_to=a, by=None),
    )
    assert sorted(outcomes) == ["ok", "refused"]
    assert_acyclic_and_closure_right()


def test_a_move_and_a_dotted_line_cannot_make_a_cycle(slow_cycle_check):
    vp = make_position(RoleType.VP_SALES)
    m = make_position(RoleType.SALES_MANAGER, reports_to=vp)
    other = make_position(RoleType.SALES_MANAGER)
    outcomes = run_together(
        lambda: services.position_move(position=other, reports_to=m, by=None),
        lambda: services.position_add_dotted_line(position=vp, manager=other, by=None),
    )
    assert sorted(outcomes) == ["ok", "refused"]
    assert_acyclic_and_closure_right()


def test_independent_moves_at_once_leave_the_closure_right(slow_cycle_check):
    ceo = make_position(RoleType.CEO)
    vps = [make_position(RoleType.VP_SALES, reports_to=ceo) for _ in range(2)]
    managers = [make_position(RoleType.SALES_MANAGER, reports_to=vps[0]) for _ in range(2)]
    for m in managers:
        make_position(RoleType.AE, reports_to=m)
    outcomes = run_together(
        lambda: services.position_move(position=managers[0], reports_to=vps[1], by=None),
        lambda: services.position_move(position=managers[1], reports_to=vps[1], by=None),
        lambda: services.position_add_dotted_line(position=vps[1], manager=vps[0], by=None),
    )
    assert outcomes == ["ok", "ok", "ok"]
    assert_acyclic_and_closure_right()
