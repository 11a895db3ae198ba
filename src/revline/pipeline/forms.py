"""Forms of the pipeline screens. They parse and validate input; the services decide.

Filter forms turn a query string into the filter dict the selectors take (the same keys as the
API's query parameters), so a list, its board, its CSV export and its API answer agree.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from revline.org.choices import Domain
from revline.org.models import Position
from revline.pipeline.choices import (
    REQUIREMENTS,
    ForecastCategory,
    LossReason,
    ObjectionCategory,
    OpportunityStatus,
    OpportunityType,
    StageKind,
)
from revline.pipeline.models import (
    DiscountPolicy,
    Pipeline,
    PriceBook,
    Product,
    Stage,
)

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONEY = {"min": "0", "step": "0.01", "inputmode": "decimal"}
PERCENT = {"min": "0", "max": "100", "step": "0.01", "inputmode": "decimal"}


def position_label(position: Position) -> str:
    holder = position.holder.get_full_name() if position.holder_id else "vacant"
    return f"{holder} — {position.title}"


class PositionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return position_label(obj)


def owner_positions(
    user: Any, action: str = "view", *, keep: Position | None = None
) -> QuerySet[Position]:
    """Owners a filter offers ("view") or a deal may be given to ("change"), with ``keep``, the
    deal's current owner (``org.selectors.record_owners``)."""
    from revline.org.selectors import record_owners

    qs = record_owners(user=user, domain=Domain.REVENUE, action=action, keep=keep)
    return qs.order_by("holder__full_name", "title", "id")


def apply_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: on the field it names, else on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


def _blank(label: str, choices: Any) -> list[tuple[str, str]]:
    return [("", label), *[(str(k), str(v)) for k, v in choices]]


# --- lists and the board ----------------------------------------------------------------------

# "" is the team view: every deal the user sees (for a manager, their team's); "mine" narrows to
# the deals owned by the user's own position(s).
SCOPE_CHOICES = [("", "My team's deals"), ("mine", "My deals")]
ORDER_CHOICES = [
    ("", "Newest"),
    ("close_date", "Close date, soonest"),
    ("-close_date", "Close date, latest"),
    ("-amount", "Amount, largest"),
    ("amount", "Amount, smallest"),
    ("name", "Name, A-Z"),
    ("-name", "Name, Z-A"),
    ("stage", "Stage, earliest"),
    ("-stage", "Stage, latest"),
    ("created_at", "Oldest"),
]


class OpportunityFilterForm(forms.Form):
    """The filters of the opportunity list and the board: ``filters()`` is the selector's dict."""

    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Deal, account or ID…", "autocomplete": "off"}
        ),
    )
    scope = forms.ChoiceField(required=False, choices=SCOPE_CHOICES, label="Whose")
    owner = forms.ChoiceField(required=False, label="Owner")
    pipeline = forms.ChoiceField(required=False, label="Pipeline")
    stage = forms.ChoiceField(required=False, label="Stage")
    status = forms.ChoiceField(
        required=False, choices=_blank("Any status", OpportunityStatus.choices)
    )
    type = forms.ChoiceField(required=False, choices=_blank("Any type", OpportunityType.choices))
    close_from = forms.DateField(required=False, label="Closing from", widget=DATE)
    close_to = forms.DateField(required=False, label="Closing to", widget=DATE)
    stuck = forms.BooleanField(required=False, label="Stuck only")
    order = forms.ChoiceField(required=False, choices=ORDER_CHOICES, label="Sort")

    def __init__(
        self,
        *args: Any,
        user: Any,
        owners: list[Position],
        pipelines: list[Pipeline],
        stages: list[Stage] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["owner"].choices = [("", "Any owner")] + [
            (str(p.pk), position_label(p)) for p in owners
        ]
        self.fields["pipeline"].choices = [("", "Any pipeline")] + [
            (str(p.pk), p.name) for p in pipelines
        ]
        names = {p.pk: p.name for p in pipelines}
        multi = len(pipelines) > 1
        self.fields["stage"].choices = [("", "Any stage")] + [
            (str(s.pk), f"{names.get(s.pipeline_id, '')}: {s.name}" if multi else s.name)
            for s in stages or []
        ]

    def data_or_empty(self) -> dict[str, Any]:
        return self.cleaned_data if self.is_bound and self.is_valid() else {}

    @property
    def search(self) -> str:
        return (self.data_or_empty().get("q") or "").strip()

    @property
    def sort(self) -> str:
        return self.data_or_empty().get("order") or ""

    def filters(self, *, held: list[int]) -> dict[str, Any]:
        """The selector's filter dict. ``held``: the user's own position ids (for "my deals";
        several are passed comma-separated)."""
        data = self.data_or_empty()
        f: dict[str, Any] = {}
        for key in ("pipeline", "stage", "status", "type", "owner"):
            if data.get(key):
                f[key] = data[key]
        for key in ("close_from", "close_to"):
            if data.get(key):
                f[key] = data[key].isoformat()
        if data.get("stuck"):
            f["stuck"] = "1"
        if data.get("scope") == "mine" and "owner" not in f:
            f["owner"] = ",".join(str(i) for i in held) or "0"
        return f

    @property
    def active_count(self) -> int:
        data = self.data_or_empty()
        return sum(1 for k, v in data.items() if k not in ("order", "pipeline") and v)


# --- opportunities ----------------------------------------------------------------------------


class OpportunityForm(forms.Form):
    """Create or edit a deal. On create the pipeline and stage may be chosen; afterwards the
    stage moves only through the stage path (which checks the stage's requirements)."""

    name = forms.CharField(max_length=200)
    account = forms.ModelChoiceField(queryset=None, required=False, empty_label="No account")
    contact = forms.ModelChoiceField(queryset=None, required=False, empty_label="No contact")
    type = forms.ChoiceField(choices=OpportunityType.choices, initial=OpportunityType.NEW_BUSINESS)
    owner_position = PositionChoiceField(queryset=None, label="Owner", empty_label=None)
    pipeline = forms.ModelChoiceField(queryset=None, empty_label=None)
    stage = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="First stage", label="Stage"
    )
    amount = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=14, decimal_places=2
    )
    currency = forms.CharField(max_length=3, initial="USD")
    close_date = forms.DateField(required=False, widget=DATE)
    probability = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=100,
        help_text="Win %. Blank: the stage's default.",
    )
    forecast_category = forms.ChoiceField(
        required=False,
        choices=_blank("The stage's default", ForecastCategory.choices),
    )
    next_step = forms.CharField(max_length=255, required=False)
    product = forms.ModelChoiceField(
        queryset=Product.objects.filter(active=True), required=False, empty_label="No product"
    )
    term_months = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=120,
        label="Subscription term (months)",
        help_text="A deal won with a term gets its renewal opportunity.",
    )
    engaged_on = forms.DateField(
        required=False, widget=DATE, label="Engaged on", help_text="When the sales cycle started."
    )

    CREATE_ONLY = ("pipeline", "stage")

    def __init__(
        self,
        *args: Any,
        user: Any,
        accounts: QuerySet,
        contacts: QuerySet,
        creating: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.creating = creating
        self.fields["account"].queryset = accounts
        self.fields["contact"].queryset = contacts
        self.fields["contact"].label_from_instance = lambda c: (
            f"{c.name} · {c.account.name}"
            if c.account_id and getattr(c, "account_visible", False)
            else c.name
        )
        current = self.initial.get("owner_position")
        if current is not None and not isinstance(current, Position):
            current = Position.objects.filter(pk=current).first()
        keep = None if creating else current
        self.fields["owner_position"].queryset = owner_positions(user, "change", keep=keep)
        self.fields["pipeline"].queryset = Pipeline.objects.all()
        self.fields["stage"].queryset = Stage.objects.filter(kind=StageKind.OPEN).select_related(
            "pipeline"
        )
        self.fields["stage"].label_from_instance = lambda s: f"{s.pipeline.name}: {s.name}"
        if not creating:
            for name in self.CREATE_ONLY:
                del self.fields[name]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        stage, pipeline = data.get("stage"), data.get("pipeline")
        if stage is not None and pipeline is not None and stage.pipeline_id != pipeline.pk:
            self.add_error("stage", "That stage belongs to another pipeline.")
        account, contact = data.get("account"), data.get("contact")
        if (
            contact is not None
            and account is not None
            and contact.account_id
            not in (
                None,
                account.pk,
            )
        ):
            self.add_error("contact", "That contact works at another account.")
        return data

    def service_fields(self) -> dict[str, Any]:
        """The cleaned values as service keyword arguments (blank choices dropped on create)."""
        data = dict(self.cleaned_data)
        data["currency"] = (data.get("currency") or "USD").upper()
        for key in ("probability", "forecast_category"):
            if data.get(key) in (None, ""):
                data.pop(key, None)
        if self.creating:
            data = {k: v for k, v in data.items() if v not in (None, "")}
        return data


class MoveForm(forms.Form):
    """A move to another stage, with what the stage may require supplied on the way."""

    stage = forms.ModelChoiceField(queryset=None, empty_label=None, label="Move to")
    loss_reason = forms.ChoiceField(
        required=False, choices=_blank("Choose a loss reason…", LossReason.choices)
    )
    loss_note = forms.CharField(required=False, max_length=255, label="Loss note")
    amount = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs=MONEY),
    )
    close_date = forms.DateField(required=False, widget=DATE)
    next_step = forms.CharField(required=False, max_length=255)

    SUPPLIED = ("amount", "close_date", "next_step")

    def __init__(self, *args: Any, pipeline: Pipeline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["stage"].queryset = pipeline.stages.all()

    def supplied(self) -> dict[str, Any]:
        """Fields given to satisfy the stage's requirements: written before the move."""
        return {k: self.cleaned_data[k] for k in self.SUPPLIED if self.cleaned_data.get(k)}


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("won", "Won"), ("lost", "Lost")])
    loss_reason = forms.ChoiceField(
        required=False, choices=_blank("Choose a loss reason…", LossReason.choices)
    )
    loss_note = forms.CharField(required=False, max_length=255, label="What happened")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("outcome") == "lost" and not data.get("loss_reason"):
            self.add_error("loss_reason", "Say why the deal was lost.")
        return data


class NextStepForm(forms.Form):
    next_step = forms.CharField(required=False, max_length=255, label="Next step")
    forecast_category = forms.ChoiceField(choices=ForecastCategory.choices, label="Forecast")


class ObjectionForm(forms.Form):
    category = forms.ChoiceField(choices=ObjectionCategory.choices)
    text = forms.CharField(
        label="Objection", widget=forms.Textarea(attrs={"rows": 2}), max_length=4000
    )
    response = forms.CharField(
        required=False,
        label="How it was handled",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
    )
    resolved = forms.BooleanField(required=False)


class ObjectionUpdateForm(forms.Form):
    response = forms.CharField(
        required=False,
        label="How it was handled",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=4000,
    )
    resolved = forms.BooleanField(required=False)


class CompetitorsForm(forms.Form):
    names = forms.CharField(
        required=False,
        label="Competitors",
        max_length=1000,
        help_text="Comma-separated; a new name adds the competitor.",
        widget=forms.TextInput(attrs={"list": "competitor-names", "autocomplete": "off"}),
    )

    def cleaned_names(self) -> list[str]:
        raw = self.cleaned_data.get("names") or ""
        return [n.strip() for n in raw.split(",") if n.strip()]


# --- quotes -----------------------------------------------------------------------------------


class QuoteForm(forms.Form):
    price_book = forms.ModelChoiceField(queryset=None, empty_label=None)
    discount_percent = forms.DecimalField(
        label="Quote discount %",
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        initial=Decimal(0),
        required=False,
        widget=forms.NumberInput(attrs={**PERCENT, "data-quote-discount": ""}),
    )
    valid_until = forms.DateField(required=False, widget=DATE)
    terms = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["price_book"].queryset = PriceBook.objects.filter(active=True)
        self.fields["price_book"].widget.attrs["data-price-book"] = ""


class QuoteLineForm(forms.Form):
    product = forms.ModelChoiceField(
        queryset=Product.objects.filter(active=True),
        required=False,
        empty_label="Choose a product…",
        widget=forms.Select(attrs={"data-line-product": ""}),
    )
    quantity = forms.DecimalField(
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        initial=Decimal(1),
        required=False,
        widget=forms.NumberInput(attrs={"min": "0", "step": "1", "data-line-quantity": ""}),
    )
    unit_price = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=2,
        help_text="Blank: the price book's.",
        widget=forms.NumberInput(attrs={**MONEY, "data-line-price": "", "placeholder": "list"}),
    )
    discount_percent = forms.DecimalField(
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(100),
        max_digits=5,
        decimal_places=2,
        label="Discount %",
        widget=forms.NumberInput(attrs={**PERCENT, "data-line-discount": ""}),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        # an untouched extra row is ignored; a row with numbers and no product is an error
        numbers = data.get("unit_price") is not None or data.get("discount_percent")
        if data.get("product") is None and not data.get("DELETE") and numbers:
            self.add_error("product", "Choose the product of this line.")
        return data


class BaseQuoteLineFormSet(forms.BaseFormSet):
    def lines(self) -> list[dict[str, Any]]:
        """The lines the quoting service takes, in order, without deleted or empty rows."""
        lines = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None) or {}
            if data.get("DELETE") or data.get("product") is None:
                continue
            lines.append(
                {
                    "product": data["product"],
                    "quantity": data.get("quantity") or Decimal(1),
                    "discount_percent": data.get("discount_percent") or Decimal(0),
                    "unit_price": data.get("unit_price"),
                }
            )
        return lines

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        if not self.lines():
            raise ValidationError("Add at least one product line.")


QuoteLineFormSet = forms.formset_factory(
    QuoteLineForm, formset=BaseQuoteLineFormSet, extra=1, can_delete=True, max_num=200
)


def line_preview(
    lines: list[dict[str, Any]], prices: dict[int, Decimal], discount: Decimal
) -> dict[str, Any]:
    """Totals shown beside the builder before saving (the quoting service computes the stored
    ones): each line is quantity x unit price less its discount, then the quote discount."""
    cent = Decimal("0.01")
    rows = []
    subtotal = Decimal(0)
    listed = Decimal(0)
    for line in lines:
        product = line["product"]
        list_price = prices.get(product.pk, product.list_price)
        unit = line["unit_price"] if line["unit_price"] is not None else list_price
        quantity = line["quantity"]
        total = (quantity * unit * (100 - line["discount_percent"]) / 100).quantize(cent)
        subtotal += total
        listed += quantity * list_price
        rows.append({**line, "list_price": list_price, "unit": unit, "total": total})
    total = (subtotal * (100 - (discount or 0)) / 100).quantize(cent)
    effective = ((listed - total) / listed * 100).quantize(cent) if listed else Decimal(0)
    return {"rows": rows, "subtotal": subtotal, "total": total, "effective": effective}


class ApprovalDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("decision") == "reject" and not (data.get("comment") or "").strip():
            self.add_error("comment", "Say why, so the rep can revise the quote.")
        return data


class QuoteOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=[("accepted", "Accepted"), ("declined", "Declined")])


# --- cross-sell ---------------------------------------------------------------------------------


class ProspectListPickForm(forms.Form):
    prospect_list = forms.ModelChoiceField(queryset=None, empty_label=None, label="Add to list")

    def __init__(self, *args: Any, lists: QuerySet, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["prospect_list"].queryset = lists


# --- RevOps admin ---------------------------------------------------------------------------


class PipelineForm(forms.Form):
    name = forms.CharField(max_length=100)
    order = forms.IntegerField(min_value=0, initial=0, required=False)
    is_default = forms.BooleanField(required=False, label="Default pipeline")


class StageForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=StageKind.choices)
    order = forms.IntegerField(min_value=0, required=False, help_text="Blank: after the last.")
    probability = forms.IntegerField(min_value=0, max_value=100, initial=10)
    forecast_category = forms.ChoiceField(choices=ForecastCategory.choices)
    required_fields = forms.MultipleChoiceField(
        required=False,
        choices=list(REQUIREMENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        label="To enter, a deal needs",
    )
    max_days = forms.IntegerField(
        required=False,
        min_value=1,
        label="Stuck after (days)",
        help_text="A deal longer than this in the stage is flagged.",
    )


class ProductForm(forms.Form):
    name = forms.CharField(max_length=150)
    code = forms.CharField(max_length=50, required=False)
    series = forms.CharField(max_length=100, required=False, label="Family")
    list_price = forms.DecimalField(min_value=Decimal(0), max_digits=14, decimal_places=2)
    currency = forms.CharField(max_length=3, initial="USD")
    is_subscription = forms.BooleanField(required=False, label="Subscription")
    term_months = forms.IntegerField(min_value=1, max_value=120, initial=12, label="Term (months)")
    active = forms.BooleanField(required=False, initial=True)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    @classmethod
    def for_product(cls, product: Product, data: Any = None) -> ProductForm:
        initial = {f: getattr(product, f) for f in cls.base_fields}
        return cls(data, initial=initial, prefix=f"p{product.pk}")


class PriceBookForm(forms.Form):
    name = forms.CharField(max_length=100)
    currency = forms.CharField(max_length=3, initial="USD")
    is_default = forms.BooleanField(required=False, label="Default price book")
    active = forms.BooleanField(required=False, initial=True)
    valid_from = forms.DateField(required=False, widget=DATE)
    valid_until = forms.DateField(required=False, widget=DATE)


class PriceEntryForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.all(), empty_label=None)
    unit_price = forms.DecimalField(min_value=Decimal(0), max_digits=14, decimal_places=2)

    def __init__(self, *args: Any, exclude: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if exclude:
            self.fields["product"].queryset = Product.objects.exclude(pk__in=exclude)


class DiscountPolicyForm(forms.ModelForm):
    class Meta:
        model = DiscountPolicy
        fields = ["manager_threshold", "vp_threshold"]
        labels = {
            "manager_threshold": "Manager approves above (%)",
            "vp_threshold": "VP approves as well above (%)",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        low, high = data.get("manager_threshold"), data.get("vp_threshold")
        if low is not None and high is not None and high < low:
            self.add_error("vp_threshold", "The VP threshold is at or above the manager's.")
        return data


class CompetitorForm(forms.Form):
    name = forms.CharField(max_length=150)
    website = forms.CharField(max_length=200, required=False)
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
