"""Web views of the scoring app: where SDRs and their managers meet the lead score.

- ``scoring``: the lead scoring overview for anyone signed in: how the scored leads the user
  sees spread over scores and tiers, and how those with a known outcome actually converted.
- ``scoring_models``: model versions with their figures, the evaluation beside both
  baselines (calibration, gain, lift, top features), fields flagged as likely leaks, the train
  button. Managers and above and RevOps (``selectors.MODEL_READERS``); anyone else 403.
  Figures are computed over the leads the reader sees.
- ``scoring_icp``: the ideal customer profile's weighted rules (RevOps/admin; others 404, as
  every configuration screen).
- The lead page's score card (``lead_score_context``, rendered by the CRM lead page), the
  manual override form it posts to, and the exact explanation of one lead.

Reads go through ``revline.scoring.selectors`` (from the visibility predicate): a lead outside
the user's view answers 404. Writes call one service each; the services queue training and fit
refreshes as background jobs once their transaction commits.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from revline.crm import selectors as crm_selectors
from revline.crm.models import CustomFieldDefinition, Lead
from revline.scoring import fit, selectors, services
from revline.scoring.choices import IcpAppliesTo, IcpOperator, ModelKind, ModelStatus, Tier
from revline.scoring.models import IcpRule, ScoringModel
from revline.web.charts import Bar, Series, bar_chart, line_chart

TIER_BADGES = {"A": "badge-success", "B": "badge-info", "C": "badge-warning", "D": "badge-muted"}
METRIC_ROWS = (
    ("auc", "ROC AUC", "higher is better: how well the score ranks converters above the rest"),
    ("pr_auc", "PR AUC", "higher is better: precision over recall, telling with rare conversions"),
    ("brier", "Brier score", "lower is better: mean squared error of the probabilities"),
    ("log_loss", "Log loss", "lower is better: penalises confident mistakes"),
)
LOWER_IS_BETTER = frozenset({"brier", "log_loss"})
BASELINES = (
    ("naive_bayes", "Naive Bayes (per-field frequency)"),
    ("logistic_regression", "Logistic regression"),
)


# --- access ----------------------------------------------------------------------------------------


def _require_reader(request: HttpRequest) -> None:
    if not selectors.may_read_models(request.user):
        raise PermissionDenied("Model figures are for managers and RevOps.")


def _require_manager(request: HttpRequest) -> None:
    if not selectors.may_manage_scoring(request.user):
        raise PermissionDenied("Only RevOps trains models and reviews their fields.")


def _require_icp_admin(request: HttpRequest) -> None:
    if not selectors.may_manage_scoring(request.user):
        raise Http404("Not found.")


def _source(request: HttpRequest, known: list[str]) -> str:
    """The source of the page: ``?source=`` when it has a model, else the first one."""
    raw = request.GET.get("source", request.POST.get("source"))
    if raw is not None and raw in known:
        return raw
    return known[0] if known else ""


def _source_label(source: str) -> str:
    return source or "All leads"


# --- the overview ----------------------------------------------------------------------------------


@login_required
@require_GET
def scoring(request: HttpRequest) -> HttpResponse:
    user = request.user
    known = selectors.sources()
    source = _source(request, known)
    scope = source or None  # "All leads": every lead the user sees, whatever its source
    model = selectors.active_model(source) if known else None
    distribution = selectors.score_distribution(user, source_name=scope)
    bands = selectors.conversion_by_band(user, source_name=scope)
    probabilistic = model is not None and model.kind != ModelKind.FIT
    band_bars = [
        Bar(
            label=b["label"],
            value=b["conversion_rate"],
            target=(b["low"] + min(b["high"], 99) + 1) / 200 if probabilistic else None,
        )
        for b in bands
        if b["closed"]
    ]
    tier_bars = [
        Bar(label=f"Tier {t['tier']}", value=t["conversion_rate"])
        for t in distribution["tiers"]
        if t["closed"]
    ]
    context = {
        "sources": [(s, _source_label(s)) for s in known],
        "source": source,
        "source_label": _source_label(source),
        "model": model,
        "distribution": distribution,
        "bands": bands,
        "histogram_chart": bar_chart(
            [Bar(label=h["label"], value=h["leads"]) for h in _histogram(distribution)],
            title="Scored leads by score band",
        ),
        "band_chart": bar_chart(
            band_bars,
            title="Conversion by score band (marker: what the score predicts)",
            unit="ratio",
        )
        if band_bars
        else "",
        "tier_chart": bar_chart(tier_bars, title="Conversion by tier", unit="ratio")
        if tier_bars
        else "",
        "top_features": (model.metrics.get("top_features") or [])[:8] if model else [],
        "probabilistic": probabilistic,
        "may_read_models": selectors.may_read_models(user),
        "may_manage": selectors.may_manage_scoring(user),
        "sees_every_lead": selectors.sees_every_lead(user),
        "tier_badges": TIER_BADGES,
    }
    return render(request, "web/scoring/overview.html", context)


def _histogram(distribution: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**h, "label": f"{h['low']}–{h['high']}"} for h in distribution["histogram"]]


# --- the model page ----------------------------------------------------------------------------------


def _metric_table(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of (metric, model, naive Bayes, logistic regression), the best one marked."""
    baselines = report.get("baselines") or {}
    rows = []
    for key, label, help_text in METRIC_ROWS:
        values = [report.get(key)] + [(baselines.get(b) or {}).get(key) for b, _ in BASELINES]
        present = [v for v in values if v is not None]
        best = None
        if present:
            best = min(present) if key in LOWER_IS_BETTER else max(present)
        rows.append(
            {
                "key": key,
                "label": label,
                "help": help_text,
                "cells": [{"value": v, "best": v is not None and v == best} for v in values],
            }
        )
    return rows


def _bins(points: list[dict[str, Any]], field: str, bins: int = 10) -> list[float | None]:
    """A curve's values on the ten probability bins, None where a bin is empty."""
    out: list[float | None] = [None] * bins
    for p in points or []:
        i = min(round(p["low"] * bins), bins - 1)
        out[i] = p[field]
    return out


def _legend(series: list[Series]) -> list[dict[str, Any]]:
    """The legend of a line chart: each series' name, colour class and dash."""
    return [{"name": s.name, "index": i, "dashed": s.dashed} for i, s in enumerate(series)]


def _with_baselines(report: dict[str, Any], values: Any) -> list[Series]:
    """The model's series and each baseline's, in the chart colours' order."""
    series = [Series("Model", values(report))]
    for key, label in BASELINES:
        b = (report.get("baselines") or {}).get(key) or {}
        if b:
            series.append(Series(label, values(b)))
    return series


def _calibration_chart(report: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    labels = [f"{10 * i}–{10 * i + 10}%" for i in range(10)]
    series = _with_baselines(report, lambda r: _bins(r.get("calibration"), "observed"))
    series.append(Series("Perfect calibration", [(i + 0.5) / 10 for i in range(10)], dashed=True))
    chart = line_chart(
        labels,
        series,
        title="Calibration: share converted by predicted probability",
        unit="ratio",
        width=560,
        height=220,
    )
    return chart, _legend(series)


def _gain_chart(report: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    lift = report.get("lift") or []
    labels = [f"{10 * r['decile']}%" for r in lift]
    series = _with_baselines(report, lambda r: [d["cumulative_gain"] for d in r.get("lift") or []])
    series.append(Series("Random order", [r["decile"] / len(lift) for r in lift], dashed=True))
    chart = line_chart(
        labels,
        series,
        title="Cumulative gain: share of conversions found by working the top x% of leads",
        unit="ratio",
        width=560,
        height=220,
    )
    return chart, _legend(series)


def _lift_chart(report: dict[str, Any]) -> str:
    return bar_chart(
        [
            Bar(label=f"Decile {r['decile']}", value=r["lift"], target=1.0)
            for r in report.get("lift") or []
        ],
        title="Lift per decile of score (marker: no lift)",
    )


def _features_chart(report: dict[str, Any]) -> str:
    """Top features by their share of the model's importance (the frequency model's spreads
    are not shares, so every list is brought to shares)."""
    top = report.get("top_features") or []
    total = sum(max(float(f.get("importance") or 0), 0.0) for f in top) or 1.0
    bars = [Bar(label=f["label"], value=max(float(f["importance"] or 0), 0) / total) for f in top]
    return bar_chart(bars, title="Top features (share of importance)", unit="ratio") if bars else ""


def _model_choice(request: HttpRequest, source: str) -> ScoringModel | None:
    raw = request.GET.get("model")
    qs = ScoringModel.objects.defer("artifact", "oof").filter(source_name=source)
    if raw:
        try:
            return qs.get(pk=int(raw))
        except (ValueError, ScoringModel.DoesNotExist):
            raise Http404("No such model version.") from None
    return qs.filter(status=ModelStatus.ACTIVE).first() or qs.order_by("-version").first()


@login_required
@require_GET
def scoring_models(request: HttpRequest) -> HttpResponse:
    _require_reader(request)
    user = request.user
    known = selectors.sources()
    source = _source(request, known)
    chosen = _model_choice(request, source) if known else None
    report = selectors.evaluation_report(user, model=chosen) if chosen else None
    figures: dict[str, Any] = report if report and report.get("auc") is not None else {}
    has_figures = bool(figures)
    context = {
        "sources": [(s, _source_label(s)) for s in known],
        "source": source,
        "source_label": _source_label(source),
        "versions": selectors.scoring_models(user, source_name=source) if known else [],
        "chosen": chosen,
        "report": report,
        "has_figures": has_figures,
        "metric_rows": _metric_table(figures) if has_figures else [],
        "baselines": BASELINES,
        "calibration": _calibration_chart(figures) if has_figures else ("", []),
        "gain": _gain_chart(figures) if has_figures else ("", []),
        "lift_chart": _lift_chart(figures) if has_figures else "",
        "features_chart": _features_chart(report) if report else "",
        "review": [m for m in selectors.awaiting_review() if m.source_name == source],
        "jobs": selectors.training_jobs(source) if known else [],
        "may_manage": selectors.may_manage_scoring(user),
        "sees_every_lead": selectors.sees_every_lead(user),
        "train_sources": _train_sources(known),
    }
    return render(request, "web/scoring/models.html", context)


def _train_sources(known: list[str]) -> list[tuple[str, str]]:
    """Sources one may train: those with a model, every imported source, and all leads."""
    names = set(known) | {""}
    names |= set(
        Lead.objects.exclude(source_name="")
        .order_by()
        .values_list("source_name", flat=True)
        .distinct()[:50]
    )
    return [(s, _source_label(s)) for s in sorted(names, key=lambda s: (s != "", s.casefold()))]


@login_required
@require_POST
def scoring_train(request: HttpRequest) -> HttpResponse:
    """Queue the training of a new version (the background job rescores the leads after)."""
    _require_manager(request)
    source = (request.POST.get("source") or "").strip()
    services.scoring_train_queue(by=request.user, source_name=source)
    messages.success(
        request,
        f"Training of {_source_label(source)} is queued; the new version shows here once a "
        "worker has trained it, and its leads are rescored.",
    )
    return redirect(_models_url(source))


def _models_url(source: str) -> str:
    from urllib.parse import urlencode

    return reverse("web:scoring_models") + "?" + urlencode({"source": source})


@login_required
@require_POST
def scoring_review(request: HttpRequest, pk: int) -> HttpResponse:
    """Exclude or allow fields a version flagged as likely leaks, then queue a retrain."""
    _require_manager(request)
    try:
        model = ScoringModel.objects.defer("artifact", "oof").get(pk=pk)
    except ScoringModel.DoesNotExist:
        raise Http404("No such model version.") from None
    decision = request.POST.get("decision", "")
    fields = request.POST.getlist("field")
    if decision not in ("exclude", "allow") or not fields:
        messages.error(request, "Choose at least one flagged field, and exclude or allow.")
        return redirect(_models_url(model.source_name))
    services.leakage_review(by=request.user, model=model, fields=fields, decision=decision)
    labels = {f["field"]: f["label"] for f in model.leakage_flags}
    named = ", ".join(labels.get(f, f) for f in fields if f in labels)
    verb = "excluded from training" if decision == "exclude" else "allowed after review"
    messages.success(request, f"{named}: {verb}. A retrain is queued.")
    return redirect(_models_url(model.source_name))


# --- the lead page's score card, the override ----------------------------------------------------


class ScoreOverrideForm(forms.Form):
    score = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        help_text="0-100; leave blank to set a tier only.",
    )
    tier = forms.ChoiceField(
        required=False,
        choices=[("", "From the score")] + [(t, f"Tier {t}") for t in Tier.values],
    )
    reason = forms.CharField(max_length=255, help_text="Why you know better than the model.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "override-%s")  # the lead page has other "reason" fields
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("score") is None and not data.get("tier") and not self.errors:
            raise ValidationError("Give a score, a tier or both.")
        return data


def lead_score_context(
    request: HttpRequest, lead: Lead, *, form: ScoreOverrideForm | None = None
) -> dict[str, Any]:
    """What the CRM lead page shows about the score: the explanation, the fit with the rules
    that matched, the model version, and the override form (for those who may change the
    lead)."""
    from revline.org.visibility import can

    explanation = selectors.lead_score_detail(request.user, lead.pk)
    override = explanation.override
    initial = {}
    if override is not None:
        initial = {"score": override.score, "tier": override.tier, "reason": override.reason}
    return {
        "explanation": explanation,
        "override_form": form or ScoreOverrideForm(initial=initial),
        "can_override": can(request.user, "change", lead),
        "may_read_models": selectors.may_read_models(request.user),
        "tier_badges": TIER_BADGES,
        "fit_rules": (explanation.fit.matched if explanation.fit else []) or [],
    }


def _lead_for(request: HttpRequest, pk: int, action: str) -> Lead:
    from revline.web.views.crm import _get

    return _get(crm_selectors.lead_get, request, pk, action)


@login_required
@require_POST
def lead_score_override(request: HttpRequest, pk: int) -> HttpResponse:
    """Set (or change) the manual score of a lead the user may change: 404 for a lead outside
    their view, 403 for one they only see. Automation never overwrites it."""
    from revline.web.views.crm import _lead_page

    lead = _lead_for(request, pk, "change")
    form = ScoreOverrideForm(request.POST)
    if form.is_valid():
        try:
            services.score_override_set(
                lead=lead,
                by=request.user,
                reason=form.cleaned_data["reason"],
                score=form.cleaned_data["score"],
                tier=form.cleaned_data["tier"] or None,
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Score of {lead} overridden; automation keeps it.")
            return redirect(reverse("web:lead_detail", args=[lead.pk]) + "#score")
    return _lead_page(request, lead, forms={"score_override": form}, status=400)


def _form_error(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@login_required
@require_POST
def lead_score_override_clear(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_for(request, pk, "change")
    if services.score_override_clear(lead=lead, by=request.user):
        messages.success(request, f"Override of {lead} removed; the automated score shows again.")
    return redirect(reverse("web:lead_detail", args=[lead.pk]) + "#score")


@login_required
@require_GET
def lead_score_explain(request: HttpRequest, pk: int) -> HttpResponse:
    """One visible lead's score with the exact per-field contributions (TreeSHAP for the
    gradient-boosted model), more factors than the stored ones."""
    try:
        view = selectors.lead_score_detail(request.user, int(pk), exact=True)
    except (Lead.DoesNotExist, ObjectDoesNotExist, ValueError):
        raise Http404("Not found.") from None
    return render(
        request,
        "web/scoring/explain.html",
        {"lead": view.lead, "explanation": view, "tier_badges": TIER_BADGES},
    )


# --- the ideal customer profile ------------------------------------------------------------------


def _field_choices() -> list[tuple[str, str]]:
    choices = list(fit.STANDARD_FIELDS.items())
    seen = set()
    for d in CustomFieldDefinition.objects.filter(entity__in=("lead", "account")).order_by("label"):
        key = f"custom:{d.key}"
        if key not in seen:
            seen.add(key)
            choices.append((key, f"{d.label} (custom)"))
    return choices


class IcpRuleForm(forms.Form):
    name = forms.CharField(max_length=150)
    field = forms.ChoiceField()
    custom_field = forms.CharField(
        required=False,
        max_length=100,
        help_text="Or any custom attribute, by its key (it overrides the field above).",
    )
    operator = forms.ChoiceField(choices=IcpOperator.choices)
    value = forms.CharField(
        required=False, max_length=500, help_text="One value; for “is one of”, commas between."
    )
    value_min = forms.DecimalField(required=False, label="From")
    value_max = forms.DecimalField(required=False, label="To")
    weight = forms.IntegerField(
        initial=10, min_value=-100, max_value=100, help_text="-100 to 100; negative: a bad fit."
    )
    applies_to = forms.ChoiceField(choices=IcpAppliesTo.choices, initial=IcpAppliesTo.BOTH)
    active = forms.BooleanField(required=False, initial=True)
    order = forms.IntegerField(required=False, min_value=0, initial=0)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["field"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = _field_choices()
        field.required = False

    @classmethod
    def for_rule(cls, rule: IcpRule) -> IcpRuleForm:
        initial: dict[str, Any] = {
            "name": rule.name,
            "operator": rule.operator,
            "weight": rule.weight,
            "applies_to": rule.applies_to,
            "active": rule.active,
            "order": rule.order,
        }
        known = {k for k, _ in _field_choices()}
        if rule.field in known:
            initial["field"] = rule.field
        else:
            initial["custom_field"] = rule.field
        if rule.operator == IcpOperator.RANGE and isinstance(rule.value, dict):
            initial["value_min"] = rule.value.get("min")
            initial["value_max"] = rule.value.get("max")
        elif isinstance(rule.value, list):
            initial["value"] = ", ".join(str(v) for v in rule.value)
        else:
            initial["value"] = rule.value
        return cls(initial=initial)

    def rule_values(self) -> dict[str, Any]:
        """The service's arguments from the cleaned form."""
        d = self.cleaned_data
        field = (d.get("custom_field") or "").strip() or d.get("field") or ""
        if field and not field.startswith("custom:") and field not in fit.STANDARD_FIELDS:
            field = f"custom:{field}"
        if d["operator"] == IcpOperator.RANGE:
            value: Any = {
                k: float(v)
                for k, v in (("min", d.get("value_min")), ("max", d.get("value_max")))
                if v is not None
            }
        else:
            value = (d.get("value") or "").strip()
        return {
            "name": d["name"],
            "field": field,
            "operator": d["operator"],
            "value": value,
            "weight": d["weight"],
            "applies_to": d["applies_to"],
            "active": d["active"],
            "order": d.get("order") or 0,
        }


def _rule_text(rule: IcpRule) -> str:
    label = dict(_field_choices()).get(rule.field, rule.field)
    op = IcpOperator(rule.operator).label
    if rule.operator == IcpOperator.RANGE and isinstance(rule.value, dict):
        ends = [
            f"{'at least' if k == 'min' else 'at most'} {v:g}"
            for k, v in sorted(rule.value.items(), key=lambda kv: kv[0] != "min")
        ]
        return f"{label} {' and '.join(ends)}"
    if isinstance(rule.value, list):
        return f"{label} {op} {', '.join(str(v) for v in rule.value)}"
    return f"{label} {op} {rule.value}"


def _icp_page(
    request: HttpRequest,
    *,
    form: IcpRuleForm | None = None,
    editing: IcpRule | None = None,
    status: int = 200,
) -> HttpResponse:
    rules = list(selectors.icp_rules(request.user))
    context = {
        "rules": [{"rule": r, "text": _rule_text(r)} for r in rules],
        "form": form or (IcpRuleForm.for_rule(editing) if editing else IcpRuleForm()),
        "editing": editing,
        "positive_total": sum(r.weight for r in rules if r.active and r.weight > 0),
    }
    return render(request, "web/scoring/icp.html", context, status=status)


def _icp_save(request: HttpRequest, rule: IcpRule | None) -> HttpResponse:
    form = IcpRuleForm(request.POST)
    if form.is_valid():
        try:
            saved = services.icp_rule_save(by=request.user, rule=rule, **form.rule_values())
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            verb = "Added" if rule is None else "Saved"
            messages.success(
                request,
                f"{verb} the rule “{saved.name}”. Recompute the fit scores to apply it.",
            )
            return redirect("web:scoring_icp")
    return _icp_page(request, form=form, editing=rule, status=400)


@login_required
def scoring_icp(request: HttpRequest) -> HttpResponse:
    _require_icp_admin(request)
    if request.method == "POST":
        return _icp_save(request, None)
    return _icp_page(request)


def _rule(pk: int) -> IcpRule:
    try:
        return IcpRule.objects.get(pk=pk)
    except IcpRule.DoesNotExist:
        raise Http404("No such rule.") from None


@login_required
def scoring_icp_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require_icp_admin(request)
    rule = _rule(pk)
    if request.method == "POST":
        return _icp_save(request, rule)
    return _icp_page(request, editing=rule)


@login_required
@require_POST
def scoring_icp_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require_icp_admin(request)
    rule = _rule(pk)
    name = rule.name
    services.icp_rule_delete(rule=rule, by=request.user)
    messages.success(request, f"Deleted the rule “{name}”. Recompute the fit scores to apply it.")
    return redirect("web:scoring_icp")


@login_required
@require_POST
def scoring_icp_refresh(request: HttpRequest) -> HttpResponse:
    _require_icp_admin(request)
    services.fit_refresh_queue()
    messages.success(
        request, "Fit scores are being recomputed in the background for every lead and account."
    )
    return redirect("web:scoring_icp")


urlpatterns: list = [
    path("scoring/", scoring, name="scoring"),
    path("scoring/models/", scoring_models, name="scoring_models"),
    path("scoring/train/", scoring_train, name="scoring_train"),
    path("scoring/review/<int:pk>/", scoring_review, name="scoring_review"),
    path("scoring/icp/", scoring_icp, name="scoring_icp"),
    path("scoring/icp/refresh/", scoring_icp_refresh, name="scoring_icp_refresh"),
    path("scoring/icp/<int:pk>/", scoring_icp_edit, name="scoring_icp_edit"),
    path("scoring/icp/<int:pk>/delete/", scoring_icp_delete, name="scoring_icp_delete"),
    path("scoring/leads/<int:pk>/explain/", lead_score_explain, name="lead_score_explain"),
    path("scoring/leads/<int:pk>/override/", lead_score_override, name="lead_score_override"),
    path(
        "scoring/leads/<int:pk>/override/clear/",
        lead_score_override_clear,
        name="lead_score_override_clear",
    ),
]
