"""Benchmark: the org API and web pages on a large organisation, visibility applied.

Uses the organisation bench/visibility.py builds (~2,000 positions; run that first, or this
builds the org without the records) and times, through Django's test client (the whole request
path: middleware, auth, visibility, serialisation), per role level:

- ``GET /api/v1/org/positions?limit=50`` (first page with total), ``GET /api/v1/org/positions/ID``
  and ``GET /api/v1/org/chart``, with a bearer token;
- the web org chart ``GET /org/`` and a position page, with a session;

printing median and p95 in ms and the number of SQL statements per request.

    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/revline_bench \\
        .venv/bin/python bench/api_org.py [--repeat 30]
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

from revline.org import services  # noqa: E402
from revline.org.models import Position  # noqa: E402


def measure(fn, repeat: int) -> tuple[float, float, int]:
    samples, queries = [], 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            t0 = time.perf_counter()
            response = fn()
            samples.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (response.status_code, response.content[:200])
        queries = len(ctx.captured_queries)
    samples.sort()
    return statistics.median(samples), samples[round(0.95 * (len(samples) - 1))], queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    settings.ALLOWED_HOSTS = ["*"]
    org_bench.call_command("migrate", verbosity=0)
    org_bench.build_org()
    print(f"database: {connection.vendor}; {Position.objects.count():,} positions")

    def first(prefix: str) -> Position:
        return Position.objects.filter(title__startswith=prefix).order_by("id").first()

    people = {"AE": first("bench AE"), "manager": first("bench manager"),
              "VP": first("bench VP"), "CSO": first("bench CSO")}  # fmt: skip
    print(f"\n{'who':<9} {'request':<34} {'median ms':>10} {'p95 ms':>8} {'SQL':>4}")
    for who, position in people.items():
        user = position.holder
        _, raw = services.api_token_create(user=user, name="bench")
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        web = Client()
        web.force_login(user)
        own = f"/org/positions/{position.pk}/"
        cases = {
            "API positions?limit=50": lambda api=api: api.get("/api/v1/org/positions?limit=50"),
            "API positions/{id}": lambda api=api, p=position: api.get(
                f"/api/v1/org/positions/{p.pk}"
            ),
            "API org/chart": lambda api=api: api.get("/api/v1/org/chart"),
            "web org chart /org/": lambda web=web: web.get("/org/"),
            "web position page": lambda web=web, url=own: web.get(url),
        }
        for what, fn in cases.items():
            med, p95, nq = measure(fn, args.repeat)
            print(f"{who:<9} {what:<34} {med:>10.1f} {p95:>8.1f} {nq:>4}")


if __name__ == "__main__":
    main()
