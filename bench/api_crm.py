"""Benchmark: the CRM and pipeline list API at the scale DESIGN.md §5 names.

Uses the organisation bench/visibility.py builds (~2,000 positions: CEO, CSO, CRO, 10 VPs with a
dotted line to the CRO, 100 managers, 1,800 AEs) and generates, once per database, with
``INSERT ... SELECT generate_series`` (about a minute):

- 1,000,000 leads, 250,000 opportunities (default pipeline, every stage), 100,000 accounts and
  200,000 contacts, spread evenly over the AEs (ids interleaved, as real data is);

then times, through Django's test client with a bearer token (the whole request path: middleware,
auth, visibility, filters, pagination with its total, serialisation), for an AE, a manager, a VP
and the CSO:

- the first page (``?limit=50``), a deep page (a cursor 90% of the way down the caller's list)
  and an ``?external_id=`` filter, on ``/leads``, ``/opportunities``, ``/accounts`` and
  ``/contacts``;

printing median and p95 wall time in ms, the mean CPU time per request of this process (Django)
and of the PostgreSQL backend serving it (read from /proc when the server runs on this
machine), and the SQL statements per request. The budget is p95 < 100 ms.

    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/revline_bench_api \\
        .venv/bin/python bench/api_crm.py [--repeat 30] [--only leads,opportunities] [--who VP]

PostgreSQL only (the generator is SQL). A second run reuses the data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import visibility as org_bench  # noqa: E402  (sets up Django and builds the org)
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from revline.crm import selectors as crm_selectors  # noqa: E402
from revline.crm.api import cursor_after  # noqa: E402
from revline.crm.models import Account, Contact, Lead  # noqa: E402
from revline.org import services as org_services  # noqa: E402
from revline.org.choices import RoleType  # noqa: E402
from revline.org.models import Position  # noqa: E402
from revline.pipeline import selectors as pipeline_selectors  # noqa: E402
from revline.pipeline.models import Opportunity, Stage  # noqa: E402
from revline.pipeline.services import pipeline_ensure_default  # noqa: E402

SIZES = {"accounts": 100_000, "contacts": 200_000, "leads": 1_000_000, "opportunities": 250_000}

LEAD_STATUSES = ["new", "contacted", "qualifying", "sales_qualified", "disqualified", "recycled"]
LEAD_SOURCES = ["outbound", "web", "campaign", "referral", "event", "partner", "import", "other"]


def _generate(table: str, n: int, columns: str, select: str, params: dict) -> None:
    """``INSERT INTO table (columns) SELECT select FROM generate_series(1, n) i`` in batches, with
    ``%(aes)s`` the AE position ids (``aes[1 + i % n_aes]`` owns row i)."""
    t0 = time.perf_counter()
    batch = 100_000
    with connection.cursor() as cur:
        for start in range(1, n + 1, batch):
            stop = min(n, start + batch - 1)
            cur.execute(
                f"INSERT INTO {table} ({columns}) SELECT {select} "
                f"FROM generate_series({start}, {stop}) AS i",
                params,
            )
            print(f"\r  {table}: {stop:,}/{n:,}", end="", flush=True)
    print(f"  ({time.perf_counter() - t0:.1f} s)")


def build_data() -> None:
    pipeline = pipeline_ensure_default()
    aes = list(
        Position.objects.filter(role=RoleType.AE, title__startswith="bench AE")
        .order_by("id")
        .values_list("id", flat=True)
    )
    common = {"aes": aes, "n_aes": len(aes)}
    owner = "(%(aes)s::bigint[])[1 + i %% %(n_aes)s]"
    now = "now() - (i %% 900) * interval '1 day'"
    if Account.objects.count() < SIZES["accounts"]:
        _generate(
            "crm_account",
            SIZES["accounts"],
            "created_at, updated_at, name, normalized_name, external_id, sector, size, country, "
            "website, customer_status, custom, is_generated, owner_position_id, employees",
            f"{now}, {now}, 'Account ' || i, 'account ' || i, 'ACC-' || i, "
            "(ARRAY['software','retail','finance','medical','telecom'])[1 + i %% 5], '', "
            "'United States', '', (ARRAY['prospect','customer'])[1 + i %% 2], '{}', true, "
            f"{owner}, 10 + i %% 5000",
            common,
        )
    first_account = Account.objects.order_by("id").values_list("id", flat=True).first()
    if Contact.objects.count() < SIZES["contacts"]:
        _generate(
            "crm_contact",
            SIZES["contacts"],
            "created_at, updated_at, first_name, last_name, email, phone, title, external_id, "
            "custom, is_generated, owner_position_id, account_id",
            f"{now}, {now}, 'Pat', 'Contact ' || i, 'contact' || i || '@example.test', '', "
            f"'Buyer', 'CON-' || i, '{{}}', true, {owner}, "
            f"%(first_account)s + (i - 1) / 2",
            {**common, "first_account": first_account},
        )
    if Lead.objects.count() < SIZES["leads"]:
        _generate(
            "crm_lead",
            SIZES["leads"],
            "created_at, updated_at, first_name, last_name, email, phone, title, company, "
            "sector, country, status, disqualify_reason, disqualify_note, source, source_name, "
            "bant_authority, bant_need, external_id, custom, is_generated, owner_position_id, "
            "employees",
            f"{now}, {now}, 'Lee', 'Lead ' || i, 'lead' || i || '@example.test', '', 'Manager', "
            "'Company ' || (i %% 50000), 'software', 'United States', "
            "(%(statuses)s::text[])[1 + i %% 6], '', '', (%(sources)s::text[])[1 + i %% 8], "
            f"'bench', '', '', 'LEAD-' || i, '{{}}', true, {owner}, 10 + i %% 5000",
            {**common, "statuses": LEAD_STATUSES, "sources": LEAD_SOURCES},
        )
    if Opportunity.objects.count() < SIZES["opportunities"]:
        stages = list(Stage.objects.filter(pipeline=pipeline).order_by("order"))
        _generate(
            "pipeline_opportunity",
            SIZES["opportunities"],
            "created_at, updated_at, name, external_id, type, status, amount, currency, "
            "close_date, probability, forecast_category, next_step, loss_reason, loss_note, "
            "custom, is_generated, owner_position_id, pipeline_id, stage_id, account_id, "
            "stage_entered_at",
            f"{now}, {now}, 'Deal ' || i, 'OPP-' || i, 'new_business', "
            "(%(kinds)s::text[])[1 + i %% %(n_stages)s], 100 + i %% 9000, 'USD', "
            "current_date + (i %% 365 - 180), 10, 'pipeline', '', "
            "(CASE WHEN (%(kinds)s::text[])[1 + i %% %(n_stages)s] = 'lost' THEN 'price' "
            "ELSE '' END), '', '{}', true, "
            f"{owner}, %(pipeline)s, (%(stages)s::bigint[])[1 + i %% %(n_stages)s], "
            f"%(first_account)s + i %% {SIZES['accounts']}, {now}",
            {
                **common,
                "pipeline": pipeline.pk,
                "stages": [s.pk for s in stages],
                "kinds": [s.kind for s in stages],
                "n_stages": len(stages),
                "first_account": first_account,
            },
        )
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")


def backend_pid() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]


def backend_cpu(pid: int) -> float:
    """CPU seconds the PostgreSQL backend ``pid`` has used (0 when the server is not on this
    machine): with other work on the machine, wall times wander, CPU times much less."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(fn, repeat: int) -> dict:
    """Median and p95 wall time of ``repeat`` requests, their mean CPU time (this process, and
    the database backend serving it), SQL statements per request and the list's total."""
    samples, queries, total = [], 0, 0
    fn()  # warm-up (token last-used write, plans, caches)
    pid = backend_pid()
    cpu0, db0 = time.process_time(), backend_cpu(pid)
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = fn()
            samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:300])
        queries = len(ctx.captured_queries)
        total = response.json()["total"]
    cpu = (time.process_time() - cpu0) * 1000 / repeat
    db_cpu = (backend_cpu(pid) - db0) * 1000 / repeat
    samples.sort()
    return {
        "p50": statistics.median(samples),
        "p95": samples[round(0.95 * (len(samples) - 1))],
        "cpu": cpu,
        "db_cpu": db_cpu,
        "queries": queries,
        "total": total,
    }


ENDPOINTS = {
    "leads": crm_selectors.leads_list,
    "opportunities": pipeline_selectors.opportunities_list,
    "accounts": crm_selectors.accounts_list,
    "contacts": crm_selectors.contacts_list,
}
MODELS = {"leads": Lead, "opportunities": Opportunity, "accounts": Account, "contacts": Contact}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--only", default=",".join(ENDPOINTS), help="Endpoints, comma-separated.")
    parser.add_argument("--who", default="AE,manager,VP,CSO", help="Roles, comma-separated.")
    parser.add_argument("--build-only", action="store_true", help="Generate the data and stop.")
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/api_crm.py needs PostgreSQL (REVLINE_DATABASE_URL=postgresql://...).")
    settings.ALLOWED_HOSTS = ["*"]
    org_bench.call_command("migrate", verbosity=0)
    org_bench.build_org()
    build_data()
    print(
        f"database: {connection.settings_dict['NAME']}; {Position.objects.count():,} positions; "
        + "; ".join(f"{name}: {model.objects.count():,}" for name, model in MODELS.items())
    )
    if args.build_only:
        return

    def first(prefix: str) -> Position:
        return Position.objects.filter(title__startswith=prefix).order_by("id").first()

    people = {"AE": first("bench AE"), "manager": first("bench manager"),
              "VP": first("bench VP"), "CSO": first("bench CSO")}  # fmt: skip
    print(
        f"\n{'who':<8} {'endpoint':<14} {'request':<22} {'total':>10} "
        f"{'median ms':>10} {'p95 ms':>8} {'cpu ms':>7} {'db cpu':>7} {'SQL':>4}"
    )
    worst = 0.0
    people = {who: people[who] for who in args.who.split(",")}
    for who, position in people.items():
        user = position.holder
        _, raw = org_services.api_token_create(user=user, name="bench")
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        for name in args.only.split(","):
            rows = ENDPOINTS[name](user=user)  # the list in the API's default order
            n_visible = rows.count()
            deep = cursor_after(rows, rows[max(0, int(n_visible * 0.9) - 1)])
            one = rows[n_visible // 2].external_id
            url = f"/api/v1/{name}"
            cases = {
                "first page": lambda url=url, api=api: api.get(url, {"limit": 50}),
                "deep page (90%)": lambda url=url, api=api, c=deep: api.get(
                    url, {"limit": 50, "cursor": c}
                ),
                "external_id=": lambda url=url, api=api, x=one: api.get(url, {"external_id": x}),
            }
            for what, fn in cases.items():
                got = measure(fn, args.repeat)
                worst = max(worst, got["p95"])
                print(
                    f"{who:<8} {name:<14} {what:<22} {got['total']:>10,} {got['p50']:>10.1f} "
                    f"{got['p95']:>8.1f} {got['cpu']:>7.1f} {got['db_cpu']:>7.1f} "
                    f"{got['queries']:>4}"
                )
    print(f"\nworst p95: {worst:.1f} ms (budget: 100 ms)")


if __name__ == "__main__":
    main()
