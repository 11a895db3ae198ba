"""Benchmark: the visibility predicate on a large org and a large record table.

Builds (once per database) an organisation of ~2,000 positions (CEO, CSO, CRO, 10 VPs, 100
managers, 1,800 AEs; VPs with a dotted line to the CRO) and N org-scoped records (default
1,000,000, the lead count DESIGN.md §5 names) owned by the AEs, then times, per role level:

- the first page of a list (50 newest records visible to the user) and its total count;
- a single-record fetch through the predicate (visible and invisible ids);
- the number of SQL statements each takes (one, whatever the depth).

Usage (PostgreSQL is what the budget is stated for):

    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/revline_bench \
        .venv/bin/python bench/visibility.py [--records 1000000] [--repeat 30]

The data are generated with a fixed seed; a second run reuses them.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")  # adds the scoped test model

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, reset_queries, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from revline.org.choices import RoleType  # noqa: E402
from revline.org.models import DottedLine, Position, PositionClosure, User  # noqa: E402
from revline.org.services import closure_rebuild  # noqa: E402
from tests.scoped_app.models import Deal  # noqa: E402

SEED = 20261127


def build_org() -> None:
    if Position.objects.filter(title="bench CEO").exists():
        return
    rnd = random.Random(SEED)
    with transaction.atomic():
        users = User.objects.bulk_create(
            [User(email=f"bench{i}@bench.test", full_name=f"Bench {i}") for i in range(2000)]
        )
        it = iter(users)

        def mk(title, role, parent):
            return Position.objects.create(
                title=title, role=role, reports_to=parent, holder=next(it)
            )

        ceo = mk("bench CEO", RoleType.CEO, None)
        cso = mk("bench CSO", RoleType.CSO, ceo)
        cro = mk("bench CRO", RoleType.CRO, ceo)
        managers = []
        for v in range(10):
            vp = mk(f"bench VP {v}", RoleType.VP_SALES, cso)
            DottedLine.objects.create(position=vp, manager=cro)
            managers += [
                mk(f"bench manager {v}.{m}", RoleType.SALES_MANAGER, vp) for m in range(10)
            ]
        aes = []
        for manager in managers:
            for a in range(18):
                aes.append(
                    Position(
                        title=f"bench AE {manager.pk}.{a}",
                        role=RoleType.AE,
                        reports_to=manager,
                        holder=next(it),
                    )
                )
        Position.objects.bulk_create(aes)
        closure_rebuild()
    rnd.random()


def build_records(n: int) -> None:
    have = Deal.objects.count()
    if have >= n:
        return
    ae_ids = list(Position.objects.filter(role=RoleType.AE).values_list("id", flat=True))
    rnd = random.Random(SEED + have)
    t0 = time.perf_counter()
    batch = 20_000
    for start in range(have, n, batch):
        rows = [(rnd.choice(ae_ids), f"deal {i}") for i in range(start, min(n, start + batch))]
        if connection.vendor == "postgresql":
            with (
                connection.cursor() as cur,
                cur.copy("COPY scoped_app_deal (owner_position_id, name) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            Deal.objects.bulk_create([Deal(owner_position_id=o, name=nm) for o, nm in rows])
        print(f"\r  records: {min(n, start + batch):,}/{n:,}", end="", flush=True)
    print(f"\n  generated in {time.perf_counter() - t0:.1f} s")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")


def timed(fn, repeat: int) -> tuple[float, float, int]:
    samples = []
    queries = 0
    for i in range(repeat):
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            fn(i)
            samples.append((time.perf_counter() - t0) * 1000)
        queries = len(ctx.captured_queries)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    call_command("migrate", verbosity=0, run_syncdb=True)
    print(f"database: {connection.vendor} ({connection.settings_dict['NAME']})")
    build_org()
    build_records(args.records)
    print(
        f"org: {Position.objects.count():,} positions, "
        f"{PositionClosure.objects.count():,} closure rows; records: {Deal.objects.count():,}"
    )

    def holder(title_prefix: str):
        return Position.objects.filter(title__startswith=title_prefix).order_by("id").first().holder

    people = {
        "AE": holder("bench AE"),
        "manager": holder("bench manager"),
        "VP": holder("bench VP"),
        "CSO (org-wide)": holder("bench CSO"),
        "peer-less AE, other VP": Position.objects.filter(role=RoleType.AE)
        .order_by("-id")
        .first()
        .holder,
    }
    max_id = Deal.objects.order_by("-id").values_list("id", flat=True).first()
    rnd = random.Random(SEED)
    print(f"\n{'who':<24} {'what':<26} {'visible':>9} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
    for who, user in people.items():
        visible = Deal.objects.visible_to(user).count()
        own_ids = list(Deal.objects.visible_to(user).values_list("id", flat=True)[:200])
        cases = {
            "list: first 50": lambda i, u=user: list(
                Deal.objects.visible_to(u).order_by("-id")[:50]
            ),
            "list: total count": lambda i, u=user: Deal.objects.visible_to(u).count(),
            "one record (visible)": lambda i, u=user, ids=own_ids: (
                Deal.objects.visible_to(u).filter(pk=ids[i % len(ids)]).first()
            ),
            "one record (random id)": lambda i, u=user: (
                Deal.objects.visible_to(u).filter(pk=rnd.randint(1, max_id)).first()
            ),
        }
        for what, fn in cases.items():
            med, p95, nq = timed(fn, args.repeat)
            print(f"{who:<24} {what:<26} {visible:>9,} {med:>10.1f} {p95:>8.1f} {nq:>4}")


if __name__ == "__main__":
    main()
