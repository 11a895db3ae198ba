"""``revline score``: train, evaluate and export the predictive lead score.

    revline score train --source "X Education"            # a new model version, leads rescored
    revline score evaluate --source "X Education" --json  # cross-validated figures + baselines
    revline score export --source "X Education" --format csv > scores.csv

``train`` stops (exit status 1) when a field alone predicts the outcome almost perfectly: it
lists the fields; leave them out with ``--exclude`` (kept for later retrains) or, once
reviewed, keep them with ``--allow-flagged``. ``evaluate`` reports on the active version (and
trains one first when the source has none). ``export`` first rescores the source's leads that
changed or arrived since they were scored, so leads imported after training are included.
Without ``--source`` the commands work on the model for every lead.

Who: ``--as EMAIL`` (default: the first active superuser) is the reader whose visibility
decides which leads an export or an evaluation covers.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from revline.core.export import csv_rows
from revline.org.models import User
from revline.scoring import selectors, services
from revline.scoring.choices import ModelStatus


class Command(BaseCommand):
    help = "Train, evaluate and export the predictive lead score."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        def common(p, source_help="The leads' source name (as imported); default: every lead."):
            p.add_argument("--source", default=None, metavar="NAME", help=source_help)
            p.add_argument("--as", default="", dest="as_user", metavar="EMAIL",
                           help="Act as this user (default: the first superuser).")  # fmt: skip

        train = sub.add_parser("train", help="Train a new model version and rescore the leads.")
        common(train)
        train.add_argument(
            "--exclude",
            nargs="+",
            default=None,
            metavar="FIELD",
            help="Fields to leave out (custom field keys or labels, e.g. tags 'Lead Quality'); "
            "kept for later retrains of this source.",
        )
        train.add_argument(
            "--no-exclude", action="store_true", help="Clear the fields left out before."
        )
        train.add_argument(
            "--allow-flagged",
            action="store_true",
            help="Train with fields flagged as likely leaks (after reviewing them).",
        )
        train.add_argument("--no-rescore", action="store_true", help="Do not rescore leads.")

        evaluate = sub.add_parser("evaluate", help="Cross-validated figures beside baselines.")
        common(evaluate)
        evaluate.add_argument("--json", action="store_true", help="Print one JSON object.")

        export = sub.add_parser("export", help="Each lead's probability, score and tier.")
        common(export, "The leads' source name; default: every lead.")
        export.add_argument("--format", choices=["csv", "json"], default="csv")
        export.add_argument("--output", default="", metavar="FILE", help="Default: stdout.")
        export.add_argument(
            "--no-rescore", action="store_true", help="Export the stored scores as they are."
        )

        rescore = sub.add_parser("rescore", help="Score leads again with the active models.")
        common(rescore, "The leads' source name; default: every lead.")
        rescore.add_argument(
            "--stale", action="store_true", help="Only leads that changed since their score."
        )

        versions = sub.add_parser("versions", help="List model versions.")
        common(versions, "The source name; default: every source.")

        sub.add_parser("fit", help="Recompute the ICP fit scores of leads and accounts.")
        sub.add_parser(
            "clock", help="Start the scoring schedule (rescore changed leads, nightly retrain)."
        )

    def handle(self, *args, **o):
        self.console = Console(file=sys.stderr, stderr=True)
        return getattr(self, f"_{o['action']}")(o)

    # --- actions ---------------------------------------------------------------------------------

    def _train(self, o: dict[str, Any]) -> None:
        user = self._user(o.get("as_user", ""))
        exclude = [] if o["no_exclude"] else o["exclude"]
        with self.console.status("Training") as status:
            model = services.scoring_model_train(
                by=user,
                source_name=o["source"] or "",
                exclude=exclude,
                allow_flagged=o["allow_flagged"],
                rescore=not o["no_rescore"],
                progress=lambda message: status.update(message),
            )
        self._summary(model)
        if model.status == ModelStatus.FLAGGED:
            raise CommandError(
                "Training stopped: fields flagged for review. Leave them out with "
                "--exclude FIELD ..., or keep them with --allow-flagged once reviewed."
            )

    def _evaluate(self, o: dict[str, Any]) -> None:
        user = self._user(o.get("as_user", ""))
        source = o["source"] or ""
        model = selectors.active_model(source)
        if model is None:
            latest = selectors.latest_model(source)
            if latest is None:
                self.console.print(f"No model for {source or 'every lead'} yet: training one.")
                with self.console.status("Training") as status:
                    latest = services.scoring_model_train(
                        by=user, source_name=source, progress=lambda m: status.update(m)
                    )
            model = latest
        report = selectors.evaluation_report(user, source_name=source, model=model)
        assert report is not None
        if o["json"]:
            self.stdout.write(json.dumps(report, default=str))
        else:
            self._report(report)
        if model.status != ModelStatus.ACTIVE:
            raise CommandError(f"{model.label} is {model.get_status_display().lower()}.")

    def _export(self, o: dict[str, Any]) -> None:
        user = self._user(o.get("as_user", ""))
        if not o["no_rescore"]:
            run = services.leads_rescore_stale(source_name=o["source"])
            if run.scored:
                self.console.print(f"Scored {run.scored:,} new or changed leads first.")
        rows = selectors.export_rows(user, source_name=o["source"])
        with contextlib.ExitStack() as stack:
            stream = (
                stack.enter_context(open(o["output"], "w", newline="", encoding="utf-8"))
                if o["output"]
                else self.stdout
            )
            if o["format"] == "json":
                stream.write(
                    json.dumps(
                        [
                            {"source_id": s, "probability": p, "score": sc, "tier": t}
                            for s, p, sc, t in rows
                        ]
                    )
                    + "\n"
                )
            else:
                writer = csv.writer(stream, lineterminator="\n")
                writer.writerows(csv_rows(rows, selectors.EXPORT_COLUMNS))

    def _rescore(self, o: dict[str, Any]) -> None:
        if o["stale"]:
            run = services.leads_rescore_stale(source_name=o["source"])
        else:
            run = services.leads_score(source_name=o["source"])
        self.stdout.write(f"Scored {run.scored:,} leads in {run.seconds:.1f} s "
                          f"({run.rate:,.0f} leads/s).")  # fmt: skip

    def _versions(self, o: dict[str, Any]) -> None:
        user = self._user(o.get("as_user", ""))
        for row in selectors.scoring_models(user, source_name=o["source"]):
            auc = (row.get("metrics") or {}).get("auc")
            figures = f" AUC {auc:.3f}" if auc is not None else ""
            self.stdout.write(
                f"{row['source_name'] or 'All leads'} v{row['version']}: {row['status']}, "
                f"{row['kind']}, {row.get('n', '?')} leads,{figures} "
                f"({row['trained_at']:%Y-%m-%d %H:%M})"
            )

    def _fit(self, o: dict[str, Any]) -> None:
        leads, accounts = services.fit_scores_refresh()
        self.stdout.write(f"Fit scores: {leads:,} leads, {accounts:,} accounts.")

    def _clock(self, o: dict[str, Any]) -> None:
        from revline.scoring.tasks import clock_ensure

        if clock_ensure():
            self.stdout.write("Scoring schedule started; `revline worker` runs it.")
        else:
            self.stdout.write(
                "The scoring schedule is already waiting (or the queue cannot defer)."
            )

    # --- helpers ---------------------------------------------------------------------------------

    def _user(self, email: str) -> User:
        if email:
            user = User.objects.filter(email__iexact=email.strip(), is_active=True).first()
            if user is None:
                raise CommandError(f"No active user with the e-mail address {email}.")
            return user
        user = User.objects.filter(is_superuser=True, is_active=True).order_by("id").first()
        if user is None:
            raise CommandError("No superuser to act as: create one or pass --as.")
        return user

    def _summary(self, model) -> None:
        out = self.stdout
        m = model.metrics
        out.write(
            f"{model.label}: {model.get_kind_display()}, {model.get_status_display().lower()}; "
            f"{model.n:,} leads with an outcome ({model.n_converted:,} converted); "
            f"{model.seconds:.1f} s."
        )
        if m.get("auc") is not None:
            b = m.get("baselines", {})
            out.write(
                f"{model.get_validation_display()}: ROC AUC {m['auc']:.3f} "
                f"(naive Bayes {b['naive_bayes']['auc']:.3f}, logistic regression "
                f"{b['logistic_regression']['auc']:.3f}); PR AUC {m['pr_auc']:.3f}; "
                f"Brier {m['brier']:.4f}."
            )
        for flag in model.leakage_flags:
            out.write(f"  flagged: {flag['label']} ({flag['field']}) predicts alone: "
                      f"AUC {flag['auc']:.3f}")  # fmt: skip
        if model.notes:
            out.write(model.notes)

    def _report(self, r: dict[str, Any]) -> None:
        out = self.stdout
        m = r["model"]
        out.write(
            f"{r['source'] or 'All leads'} v{m['version']} ({m['kind']}, {m['status']}), "
            f"{m['validation'] or 'no validation'}, {r.get('n', 0):,} leads"
        )
        if r.get("auc") is None:
            out.write(r.get("notes") or "No figures.")
            return
        b = r["baselines"]
        out.write(f"\n{'':24}{'model':>10}{'naive Bayes':>14}{'logistic':>10}")
        for key, name in (("auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("brier", "Brier score")):
            out.write(
                f"{name:24}{r[key]:>10.4f}{b['naive_bayes'][key]:>14.4f}"
                f"{b['logistic_regression'][key]:>10.4f}"
            )
        out.write("\nCalibration (predicted -> observed):")
        for c in r["calibration"]:
            out.write(f"  {c['low']:.1f}-{c['high']:.1f}: {c['predicted']:.3f} -> "
                      f"{c['observed']:.3f}  ({c['n']:,} leads)")  # fmt: skip
        out.write("\nLift by decile (best first):")
        for d in r["lift"]:
            out.write(f"  {d['decile']:>2}: converted {d['conversion_rate']:.1%}, lift "
                      f"{d['lift']:.2f}, gain {d['cumulative_gain']:.1%}")  # fmt: skip
        if r.get("top_features"):
            out.write("\nTop features:")
            for f in r["top_features"][:10]:
                out.write(f"  {f['label']}: {f['importance']:.1%}")
        if r.get("notes"):
            out.write("\n" + r["notes"])
