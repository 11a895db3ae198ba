"""Benchmark: the forecasting backtest on the Maven demo history (2016-10 .. 2017-12).

Replays the history at the start of each month from May 2017 (two months after the first
close) to December 2017: at each cut-off the win-probability model is retrained on what was
known then, and every method forecasts that month and that quarter; the table gives each
method's MAPE, bias and (for the model) how often the actual fell inside the simulated
P10-P90 range. ``revline.forecasting.backtest`` documents the protocol; docs/forecasting.md
holds the figures.

    .venv/bin/python bench/forecast_backtest.py               # a fresh SQLite database
    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/forecast_bench \\
        .venv/bin/python bench/forecast_backtest.py --points

Without ``REVLINE_DATABASE_URL`` (or ``REVLINE_DATA_DIR``) a temporary SQLite database is
made, migrated and loaded with ``revline demo``; a given database is migrated and gets the
demo when it has no Maven deals yet. Prints CPU (process) time beside wall time: the machine
may be shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
if "REVLINE_DATABASE_URL" not in os.environ and "REVLINE_DATA_DIR" not in os.environ:
    os.environ["REVLINE_DATA_DIR"] = tempfile.mkdtemp(prefix="revline-forecast-bench-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revline.settings")

import django  # noqa: E402

django.setup()

from io import StringIO  # noqa: E402

from django.core.management import call_command  # noqa: E402

from revline.forecasting.backtest import METHODS, backtest_run  # noqa: E402
from revline.forecasting.history import history_load  # noqa: E402
from revline.forecasting.submitted import submitted_source  # noqa: E402
from revline.pipeline.models import Opportunity  # noqa: E402

ALL = ("predicted", "predicted_open", "logistic", "predicted_account", "stage_weighted", "run_rate")


def pct(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default=",".join(ALL), help="comma-separated")
    parser.add_argument("--points", action="store_true", help="print every cut-off too")
    args = parser.parse_args()
    methods = [m for m in args.methods.split(",") if m in METHODS]

    call_command("migrate", verbosity=0)
    if not Opportunity.objects.filter(is_generated=False).exclude(external_id="").exists():
        started = time.perf_counter()
        call_command("demo", stdout=StringIO())
        print(f"loaded the demo in {time.perf_counter() - started:.0f} s")

    wall, cpu = time.perf_counter(), time.process_time()
    history = history_load()
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"history: {len(history.deals):,} deals, {len(history.changes):,} stage changes, "
        f"{len(history.activities):,} activities; read in {load_wall:.1f} s "
        f"(CPU {load_cpu:.1f} s)"
    )
    submitted = submitted_source()
    if submitted is not None:
        methods.append("submitted")

    def progress(cutoff) -> None:
        print(f"  cut-off {cutoff:%Y-%m-%d} ...", flush=True)

    wall, cpu = time.perf_counter(), time.process_time()
    result = backtest_run(history, methods=methods, submitted=submitted, progress=progress)
    run_wall, run_cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = len({p.cutoff for p in result.points})
    print(f"\n{n} cut-offs, {run_wall:.0f} s wall, {run_cpu:.0f} s CPU\n")

    print(
        "| method | month MAPE | month bias | month P10-P90 hits | quarter MAPE | quarter bias | quarter P10-P90 hits |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for method in result.methods:
        month, quarter = result.score("month", method), result.score("quarter", method)
        if not any(s and s.n for s in (month, quarter)):
            print(f"| {METHODS[method]} | no data at any cut-off |  |  |  |  |  |")
            continue
        cells = []
        for s in (month, quarter):
            cells += [pct(s.mape), pct(s.bias, True), pct(s.coverage)] if s else ["—"] * 3
        print(f"| {METHODS[method]} | " + " | ".join(cells) + " |")

    if args.points:
        print("\n| cut-off | view | period | actual | " + " | ".join(result.methods) + " |")
        print("|---|---|---|---:|" + "---:|" * len(result.methods))
        for p in result.points:
            values = " | ".join(
                f"{p.forecasts[m]:,.0f}" if m in p.forecasts else "—" for m in result.methods
            )
            print(f"| {p.cutoff} | {p.view} | {p.period} | {p.actual:,.0f} | {values} |")


if __name__ == "__main__":
    main()
