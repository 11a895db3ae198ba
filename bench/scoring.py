"""Benchmark: predictive lead scoring (DESIGN.md §5: training on 100k leads under 60 s on two
cores, scoring at least 10,000 leads/s).

Generates N leads with a known chance of converting (``revline.scoring.synthetic``: firmographics,
a few hundred job titles, six custom fields of every type, a creation date over two years, so
validation is a time split), all with an outcome, under the source "bench scoring". Then:

1. trains through the service ``revline score train`` uses (reading the leads from the database,
   the leakage check, LightGBM on five folds plus the final model, both baselines on the same
   folds, calibration), without rescoring;
2. scores all N leads through the service the rescoring tasks use (read, features, LightGBM,
   per-lead factors, fit score, upsert of the stored scores), twice (the first run also loads
   the model);
3. scores the same leads in memory only (features already read: the model's own rate).

Prints wall and CPU (process) time for each: the machine is shared, and CPU time says what the
work costs when the wall clock is stretched by other processes.

    .venv/bin/python bench/scoring.py [--rows 100000] [--keep]
    REVLINE_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/revline_bench_scoring \\
        .venv/bin/python bench/scoring.py

Each run first deletes the leads and model versions of an earlier run (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "revline.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from revline.crm.models import Lead  # noqa: E402
from revline.org.choices import RoleType  # noqa: E402
from revline.org.models import Position  # noqa: E402
from revline.org.services import position_create  # noqa: E402
from revline.scoring import conf, features, services  # noqa: E402
from revline.scoring.models import FitScore, LeadScore, ScoreOverride, ScoringModel  # noqa: E402
from revline.scoring.synthetic import generate_leads  # noqa: E402

SOURCE = "bench scoring"


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def owner() -> Position:
    position = Position.objects.filter(title="Bench scoring SDR").first()
    return position or position_create(
        title="Bench scoring SDR", role=RoleType.SDR, by=None, holder=None
    )


def clean() -> None:
    leads = Lead.objects.filter(source_name=SOURCE)
    for model in (LeadScore, FitScore, ScoreOverride):
        model.objects.filter(lead__in=leads)._raw_delete(model.objects.db)
    leads._raw_delete(Lead.objects.db)
    ScoringModel.objects.filter(source_name=SOURCE).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="Keep the leads of an earlier run.")
    parser.add_argument(
        "--no-train", action="store_true", help="Score with the model of an earlier run (--keep)."
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    db = connection.vendor
    print(f"Database: {db} ({settings.DATABASES['default']['NAME']}); LightGBM threads: "
          f"{conf.get('THREADS')}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip

    if not args.keep:
        clean()
    have = Lead.objects.filter(source_name=SOURCE).count()
    if have < args.rows:
        with Clock() as c:
            generate_leads(n=args.rows - have, owner=owner(), source_name=SOURCE, seed=2026)
        print(f"Generated {args.rows - have:,} leads in {c.wall:.1f} s")

    model = services.active_models().get(SOURCE) if args.no_train else None
    if model is None:
        with Clock() as c:
            model = services.scoring_model_train(by=None, source_name=SOURCE, rescore=False)
        print(
            f"Train on {model.n:,} leads ({model.get_validation_display().lower()}, "
            f"{len(model.feature_spec['features'])} features, "
            f"{model.metrics['rounds']['final']} trees): wall {c.wall:.1f} s, CPU {c.cpu:.1f} s"
        )
    m = model.metrics
    b = m["baselines"]
    print(
        f"  ROC AUC {m['auc']:.4f} (naive Bayes {b['naive_bayes']['auc']:.4f}, logistic "
        f"regression {b['logistic_regression']['auc']:.4f}); PR AUC {m['pr_auc']:.4f}; "
        f"Brier {m['brier']:.4f} (naive Bayes {b['naive_bayes']['brier']:.4f}, logistic "
        f"regression {b['logistic_regression']['brier']:.4f}); on {m['n']:,} newer leads"
    )

    for run in (1, 2):
        with Clock() as c:
            scored = services.leads_score(source_name=SOURCE).scored
        print(
            f"Score {scored:,} leads, stored (run {run}): wall {c.wall:.1f} s "
            f"({scored / c.wall:,.0f} leads/s), CPU {c.cpu:.1f} s ({scored / c.cpu:,.0f} leads/s)"
        )

    scorer = services._scorer(model)
    keys = {f["key"] for f in scorer.spec["features"]}
    frame, _, _ = features.load_frame(Lead.objects.filter(source_name=SOURCE), keys=keys)
    with Clock() as c:
        X = features.encode(frame, scorer.spec)
        _, contributions = scorer.score(X)
        services._factor_lists(contributions, scorer.spec, frame, conf.get("FACTORS"))
    n = len(frame)
    print(
        f"Score {n:,} leads in memory (features, model, factors): wall {c.wall:.1f} s "
        f"({n / c.wall:,.0f} leads/s), CPU {c.cpu:.1f} s ({n / c.cpu:,.0f} leads/s)"
    )


if __name__ == "__main__":
    main()
