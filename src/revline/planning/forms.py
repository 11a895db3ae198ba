"""Forms of the planning screens. They parse input; the services decide. A position, team or
region arrives as an id (a select offers the ones the user may plan for), so that one outside
the user's reach is answered by the view (404 unseen, 403 seen but not theirs), not hidden as a
form error."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from revline.pipeline.choices import OpportunityType
from revline.planning.calendar import FiscalYearRule, Period, fiscal_rule
from revline.planning.choices import BudgetCategory, ForecastFigure

MONTHS = [(i, dt.date(2000, i, 1).strftime("%B")) for i in range(1, 13)]
TYPE_CHOICES = [("", "All opportunity types"), *OpportunityType.choices]


def period_choices(
    rule: FiscalYearRule,
    around: dt.date,
    *,
    kinds: tuple[str, ...] = ("quarter", "month", "year"),
    extra: list[str] | None = None,
) -> list[tuple[str, list[tuple[str, str]]]]:
    """Grouped ``(key, label)`` choices: the periods of the fiscal year of ``around``, the one
    before and the one after, plus any ``extra`` keys (periods holding data)."""
    fy = rule.fiscal_year_of(around)
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    labels = {"quarter": "Quarters", "month": "Months", "year": "Fiscal years"}
    counts = {"quarter": 4, "month": 12, "year": 1}
    for kind in kinds:
        options: list[tuple[str, str]] = []
        for year in (fy - 1, fy, fy + 1):
            for n in range(1, counts[kind] + 1):
                p = rule.period(kind, year, n)  # type: ignore[arg-type]
                options.append((p.key, p.label))
        groups.append((labels[kind], options))
    known = {key for _, opts in groups for key, _ in opts}
    earlier = []
    for key in extra or []:
        if key not in known:
            try:
                p = rule.parse(key)
            except ValueError:
                continue
            earlier.append((p.key, p.label))
            known.add(p.key)
    if earlier:
        groups.insert(0, ("With data", earlier))
    return groups


class PeriodField(forms.CharField):
    """A period key (``2027-Q2``) parsed with the fiscal calendar into a ``Period``."""

    def __init__(self, *args: Any, rule: FiscalYearRule | None = None, **kwargs: Any) -> None:
        self.rule = rule
        kwargs.setdefault("widget", forms.Select())
        super().__init__(*args, **kwargs)

    def to_python(self, value: Any) -> Period | None:  # type: ignore[override]
        value = super().to_python(value)
        if not value:
            return None
        try:
            return (self.rule or fiscal_rule()).parse(value)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


class PlanningForm(forms.Form):
    def __init__(
        self,
        *args: Any,
        rule: FiscalYearRule | None = None,
        today: dt.date | None = None,
        extra_periods: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.rule = rule or fiscal_rule()
        if "period" in self.fields:
            field = self.fields["period"]
            field.rule = self.rule  # type: ignore[attr-defined]
            extra = list(extra_periods or [])
            # the period the page shows (or the one posted) is always a choice
            for chosen in (self.initial.get("period"), self.data.get("period")):
                if chosen:
                    extra.insert(0, str(chosen))
            field.widget.choices = period_choices(
                self.rule, today or timezone.localdate(), extra=extra
            )


class QuotaForm(PlanningForm):
    position = forms.IntegerField(label="Position", widget=forms.Select())
    period = PeriodField(label="Period")
    amount = forms.DecimalField(label="Quota amount", min_value=0, max_digits=14, decimal_places=2)
    deal_count = forms.IntegerField(label="Deals (optional)", min_value=0, required=False)
    opportunity_type = forms.ChoiceField(
        label="Opportunity type", choices=TYPE_CHOICES, required=False
    )
    note = forms.CharField(label="Note", max_length=255, required=False)

    def __init__(self, *args: Any, positions: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["position"].widget.choices = [
            (p.pk, f"{p.holder.get_full_name() if p.holder_id else 'Vacant'} — {p.title}")
            for p in positions
        ]


SCOPE_HELP = "The team or region the row is for."


def scope_choices(regions: list[Any], teams: list[Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    if regions:
        groups.append(("Regions", [(f"region:{r.pk}", r.name) for r in regions]))
    if teams:
        groups.append(("Teams", [(f"team:{t.pk}", t.name) for t in teams]))
    return groups


class ScopeField(forms.CharField):
    """``team:<id>`` or ``region:<id>`` -> ``("team" | "region", id)``."""

    def to_python(self, value: Any) -> tuple[str, int] | None:  # type: ignore[override]
        value = super().to_python(value)
        if not value:
            return None
        kind, _, raw = str(value).partition(":")
        if kind not in ("team", "region") or not raw.isdigit():
            raise ValidationError("Choose a team or a region.")
        return kind, int(raw)


class ScopedForm(PlanningForm):
    scope = ScopeField(label="Team or region", widget=forms.Select(), help_text=SCOPE_HELP)

    def __init__(
        self, *args: Any, regions: list[Any] = (), teams: list[Any] = (), **kwargs: Any
    ) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["scope"].widget.choices = scope_choices(list(regions), list(teams))


class TargetForm(ScopedForm):
    period = PeriodField(label="Period")
    amount = forms.DecimalField(
        label="Bookings target", min_value=0, max_digits=14, decimal_places=2
    )
    deal_count = forms.IntegerField(label="Deals (optional)", min_value=0, required=False)
    opportunity_type = forms.ChoiceField(
        label="Opportunity type", choices=TYPE_CHOICES, required=False
    )
    note = forms.CharField(label="Note", max_length=255, required=False)


class BudgetForm(ScopedForm):
    period = PeriodField(label="Period")
    category = forms.ChoiceField(label="Category", choices=BudgetCategory.choices)
    amount = forms.DecimalField(label="Budget", min_value=0, max_digits=14, decimal_places=2)
    note = forms.CharField(label="Note", max_length=255, required=False)


class SpendForm(forms.Form):
    amount = forms.DecimalField(label="Amount", min_value=0.01, max_digits=14, decimal_places=2)
    spent_on = forms.DateField(label="Day", widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label="What it was for", max_length=255, required=False)
    campaign = forms.IntegerField(
        label="Campaign (optional)", required=False, widget=forms.Select()
    )

    def __init__(self, *args: Any, campaigns: list[Any] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["campaign"].widget.choices = [("", "No campaign")] + [
            (c.pk, c.name) for c in campaigns
        ]


class ForecastForm(forms.Form):
    commit = forms.DecimalField(label="Commit", min_value=0, max_digits=14, decimal_places=2)
    best_case = forms.DecimalField(label="Best case", min_value=0, max_digits=14, decimal_places=2)
    pipeline = forms.DecimalField(label="Pipeline", min_value=0, max_digits=14, decimal_places=2)
    note = forms.CharField(
        label="Note to your manager",
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AdjustForm(forms.Form):
    position = forms.IntegerField(widget=forms.HiddenInput())
    figure = forms.ChoiceField(label="Figure", choices=ForecastFigure.choices)
    amount = forms.DecimalField(label="Your figure", min_value=0, max_digits=14, decimal_places=2)
    note = forms.CharField(label="Why", max_length=500, required=False)


class CalendarForm(forms.Form):
    start_month = forms.TypedChoiceField(
        label="The fiscal year starts in", choices=MONTHS, coerce=int
    )
    year_named_by_end = forms.BooleanField(
        label="Name a fiscal year after the calendar year it ends in",
        required=False,
        help_text="With a February start: on, Feb 2026 - Jan 2027 is FY2027; off, FY2026.",
    )
