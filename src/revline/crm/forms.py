"""Forms of the CRM screens. They parse and validate input; the services decide.

Choice lists come from the acting user's view of the organisation: owners are positions whose
records the user may edit (as in the API); receiving AEs, a lead's new owner and a complaint's
owner are positions the user sees in the org chart (hand-offs); records picked in a form (an
account, a contact, a lead) are looked up through the CRM selectors, so no form can reach a
record its user could not open.

Custom fields (``CustomFieldDefinition``) become typed form fields named ``cf_<key>``; their
values are checked with ``revline.crm.custom_fields.custom_values_clean`` and given to the
services as the ``custom`` dict.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html

from revline.crm import selectors, services
from revline.crm.choices import (
    ActivityKind,
    ActivityOutcome,
    Authority,
    CampaignKind,
    CampaignStatus,
    CompanySize,
    ComplaintSeverity,
    CustomerStatus,
    CustomFieldEntity,
    CustomFieldType,
    DisqualifyReason,
    LeadSource,
    LeadStatus,
    ReferralOutcome,
    RoutingMethod,
    SurveyKind,
)
from revline.crm.custom_fields import custom_values_clean
from revline.crm.models import Campaign, CustomFieldDefinition
from revline.org import selectors as org_selectors
from revline.org.choices import Domain
from revline.org.forms import PositionChoiceField
from revline.org.models import Position, Region, Team

DATE = {"type": "date"}
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

# Roles that own complaints (the services refuse any other).
COMPLAINT_OWNER_ROLES = tuple(sorted(str(r) for r in services.COMPLAINT_OWNER_ROLES))


def date_input() -> forms.DateInput:
    return forms.DateInput(attrs=DATE, format=DATE_FORMAT)


def datetime_input() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT)


def apply_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: on the field it names (``custom.<key>``
    is the custom field ``cf_<key>``), else above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            name = f"cf_{field[7:]}" if field.startswith("custom.") else field
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


# --- positions ---------------------------------------------------------------------------------


def visible_positions(user: Any, *, roles: tuple[str, ...] | None = None) -> QuerySet[Position]:
    """Positions ``user`` sees in the org chart (for owner and hand-off choices)."""
    qs = Position.objects.visible_to(user).select_related("holder")
    if roles:
        qs = qs.filter(role__in=roles)
    return qs.order_by("title", "id")


def assignable_positions(user: Any, domain: str, *, keep: Any = None) -> QuerySet[Position]:
    """Positions ``user`` may give a record of ``domain`` to (``org.selectors.record_owners``)."""
    from revline.org.selectors import record_owners

    keep = keep if isinstance(keep, Position) else None
    return record_owners(user=user, domain=domain, keep=keep).order_by("title", "id")


def receiving_positions(user: Any) -> QuerySet[Position]:
    """Who may receive an SQL from ``user`` (``selectors.handoff_targets``)."""
    from revline.crm.selectors import handoff_targets

    return handoff_targets(user=user)


def visible_campaigns(user: Any) -> QuerySet[Campaign]:
    """Campaigns ``user`` sees, for a choice list (no counts)."""
    return Campaign.objects.visible_to(user).order_by("name", "id")


class OwnerField(PositionChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", Position.objects.none())
        kwargs.setdefault("label", "Owner")
        super().__init__(**kwargs)


# --- picking a record by name ------------------------------------------------------------------

PICK_ID = re.compile(r"#(\d+)\s*$")


def pick_label(obj: Any) -> str:
    """How a picked record reads in a text box: its name and ``#id`` (which the field reads back)."""
    extra = ""
    if getattr(obj, "company", ""):
        extra = f" ({obj.company})"
    elif getattr(obj, "email", ""):
        extra = f" <{obj.email}>"
    return f"{obj}{extra} #{obj.pk}"


def pick_queryset(kind: str, user: Any, q: str = "") -> QuerySet:
    """The records of ``kind`` that ``user`` may pick, optionally searched."""
    if kind == "account":
        return selectors.accounts_list(user=user, q=q)
    if kind == "contact":
        return selectors.contacts_list(user=user, q=q)
    if kind == "lead":
        return selectors.leads_list(user=user, q=q)
    raise ValueError(kind)


class PickInput(forms.TextInput):
    """A text box with a ``<datalist>`` that htmx fills with matching records as one types."""

    def __init__(self, kind: str, attrs: dict | None = None) -> None:
        self.kind = kind
        super().__init__(attrs={"autocomplete": "off", **(attrs or {})})

    def render(self, name: str, value: Any, attrs: dict | None = None, renderer: Any = None):
        attrs = dict(attrs or {})
        list_id = f"{attrs.get('id') or 'id_' + name}-options"
        attrs.update(
            {
                "list": list_id,
                "placeholder": self.attrs.get("placeholder") or f"Type a {self.kind} name…",
                "hx-get": reverse("web:crm_pick", args=[self.kind]),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{list_id}",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )
        html = super().render(name, value, attrs, renderer)
        return html + format_html('<datalist id="{}"></datalist>', list_id)


class PickField(forms.CharField):
    """A record typed by name (``Acme`` or ``Acme #12``) and resolved among the records the
    user may see; works without JavaScript, a datalist suggests names with it."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        self.user: Any = None
        kwargs.setdefault("widget", PickInput(kind))
        kwargs.setdefault("help_text", f"Start typing; or give the {kind}'s number as #123.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if hasattr(value, "pk"):
            return pick_label(value)
        return value

    def clean(self, value: Any) -> Any:
        if hasattr(value, "pk"):
            return value
        text = super().clean(value)
        if not text:
            return None
        if self.user is None:
            raise ValidationError("No user to pick for.")
        match = PICK_ID.search(text)
        if match:
            found = pick_queryset(self.kind, self.user).filter(pk=int(match.group(1))).first()
            if found is None:
                raise ValidationError(f"There is no {self.kind} #{match.group(1)} you can see.")
            return found
        candidates = list(pick_queryset(self.kind, self.user, q=text)[:20])
        if len(candidates) == 1:
            return candidates[0]
        exact = [c for c in candidates if str(c).strip().lower() == text.lower()]
        if len(exact) == 1:
            return exact[0]
        if not candidates:
            raise ValidationError(f"No {self.kind} you can see matches “{text}”.")
        raise ValidationError(
            f"Several {self.kind}s match “{text}”: pick one from the suggestions or type its #number."
        )


def bind_pickers(form: forms.Form, user: Any) -> None:
    for field in form.fields.values():
        if isinstance(field, PickField):
            field.user = user


# --- custom fields -----------------------------------------------------------------------------


def custom_definitions(entity: str) -> list[CustomFieldDefinition]:
    return list(selectors.custom_field_definitions(entity=entity).order_by("order", "label", "id"))


def custom_form_field(
    definition: CustomFieldDefinition, *, for_filter: bool = False
) -> forms.Field:
    """The typed form field of one custom field (optional when used as a list filter)."""
    common: dict[str, Any] = {
        "label": definition.label,
        "required": definition.required and not for_filter,
        "help_text": "" if for_filter else definition.help_text,
    }
    kind = definition.field_type
    if kind == CustomFieldType.NUMBER:
        return forms.DecimalField(**common)
    if kind == CustomFieldType.INTEGER:
        return forms.IntegerField(**common)
    if kind == CustomFieldType.DATE:
        return forms.DateField(widget=date_input(), **common)
    if kind == CustomFieldType.BOOLEAN:
        return forms.NullBooleanField(
            widget=forms.Select(choices=[("", "—"), ("true", "Yes"), ("false", "No")]), **common
        )
    if kind == CustomFieldType.CHOICE:
        choices = [("", "—")] + [(str(c), str(c)) for c in definition.choices or []]
        return forms.ChoiceField(choices=choices, **common)
    return forms.CharField(max_length=500, **common)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value == "":
        return None
    return value


class CustomFieldsMixin:
    """Adds the entity's custom fields (``cf_<key>``) to a form and checks them as a whole."""

    entity: str = ""
    custom_defs: list[CustomFieldDefinition]

    def add_custom_fields(
        self, definitions: list[CustomFieldDefinition], values: dict | None = None
    ) -> None:
        self.custom_defs = definitions
        for definition in definitions:
            name = f"cf_{definition.key}"
            self.fields[name] = custom_form_field(definition)  # type: ignore[attr-defined]
            if values and definition.key in values:
                self.initial.setdefault(name, values[definition.key])  # type: ignore[attr-defined]

    @property
    def custom_fields(self) -> list[Any]:
        return [self[f"cf_{d.key}"] for d in getattr(self, "custom_defs", [])]  # type: ignore[index]

    def custom_values(self) -> dict[str, Any]:
        data = self.cleaned_data  # type: ignore[attr-defined]
        return {d.key: _plain(data.get(f"cf_{d.key}")) for d in self.custom_defs}

    def clean_custom(self) -> None:
        """Validate the custom values together (required fields, types) as the services will."""
        if not getattr(self, "custom_defs", None):
            return
        names = [f"cf_{d.key}" for d in self.custom_defs]
        if any(name in self.errors for name in names):  # type: ignore[attr-defined]
            return
        try:
            custom_values_clean(entity=self.entity, values=self.custom_values())
        except ValidationError as error:
            apply_service_error(self, error)  # type: ignore[arg-type]


class RecordForm(CustomFieldsMixin, forms.Form):
    """Base of the account, contact and lead forms: owner choices, pickers, custom fields."""

    def __init__(
        self,
        *args: Any,
        user: Any,
        custom: list[CustomFieldDefinition] | None = None,
        custom_values: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if "owner_position" in self.fields:
            domain = Domain.LEADS if self.entity == CustomFieldEntity.LEAD else Domain.REVENUE
            self.fields["owner_position"].queryset = assignable_positions(
                user, domain, keep=self.initial.get("owner_position")
            )
        bind_pickers(self, user)
        self.add_custom_fields(custom or [], custom_values)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.clean_custom()
        return data

    def values(self, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """Cleaned values as service keyword arguments (custom fields as ``custom``)."""
        data = {
            k: v
            for k, v in self.cleaned_data.items()
            if not k.startswith("cf_") and k not in exclude
        }
        if self.custom_defs:
            data["custom"] = self.custom_values()
        return data


def _text(max_length: int = 100, **kwargs: Any) -> forms.CharField:
    return forms.CharField(max_length=max_length, required=kwargs.pop("required", False), **kwargs)


class AccountForm(RecordForm):
    entity = CustomFieldEntity.ACCOUNT

    name = forms.CharField(max_length=200)
    owner_position = OwnerField()
    parent = PickField("account", required=False, label="Parent account")
    customer_status = forms.ChoiceField(choices=CustomerStatus.choices, label="Status")
    customer_since = forms.DateField(required=False, widget=date_input())
    sector = _text()
    employees = forms.IntegerField(required=False, min_value=0)
    annual_revenue = forms.DecimalField(
        required=False, min_value=0, max_digits=16, decimal_places=2
    )
    region = forms.ModelChoiceField(
        queryset=Region.objects.order_by("name"), required=False, empty_label="—"
    )
    country = _text()
    website = _text(200)
    year_established = forms.IntegerField(required=False, min_value=1000, max_value=2999)
    external_id = _text(label="External ID")

    def __init__(self, *args: Any, account: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_parent(self) -> Any:
        parent = self.cleaned_data.get("parent")
        if parent is not None and self.account is not None and parent.pk == self.account.pk:
            raise ValidationError("An account cannot be its own parent.")
        return parent


class ContactForm(RecordForm):
    entity = CustomFieldEntity.CONTACT

    first_name = _text()
    last_name = forms.CharField(max_length=100)
    account = PickField("account", required=False)
    email = forms.EmailField(required=False)
    phone = _text(50)
    title = _text(150, label="Job title")
    owner_position = OwnerField()
    external_id = _text(label="External ID")


class LeadForm(RecordForm):
    entity = CustomFieldEntity.LEAD

    first_name = _text()
    last_name = _text()
    email = forms.EmailField(required=False)
    phone = _text(50)
    title = _text(150, label="Job title")
    company = _text(200)
    sector = _text()
    employees = forms.IntegerField(required=False, min_value=0)
    annual_revenue = forms.DecimalField(
        required=False, min_value=0, max_digits=16, decimal_places=2
    )
    region = forms.ModelChoiceField(
        queryset=Region.objects.order_by("name"), required=False, empty_label="—"
    )
    country = _text()
    source = forms.ChoiceField(choices=LeadSource.choices, initial=LeadSource.OTHER)
    source_name = _text(label="Source name", help_text="The list, event or data set.")
    campaign = forms.ModelChoiceField(
        queryset=Campaign.objects.none(), required=False, empty_label="—"
    )
    external_id = _text(label="External ID")
    owner_position = OwnerField(
        required=False,
        empty_label="— route automatically —",
        help_text="Leave empty to let the routing rules pick an owner (else you).",
    )

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = visible_campaigns(self.user)
        if editing:
            del self.fields["owner_position"]  # a change of owner goes through "Reassign"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(k) for k in ("last_name", "email", "company")):
            raise ValidationError("A lead needs at least a last name, an e-mail or a company.")
        return data


# --- the lead flow ------------------------------------------------------------------------------


class LeadStatusForm(forms.Form):
    status = forms.ChoiceField(choices=LeadStatus.choices)
    note = _text(255)


class DisqualifyForm(forms.Form):
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason…"), *DisqualifyReason.choices],
        error_messages={"required": "Say why the lead is disqualified."},
    )
    note = _text(255, help_text="Anything the next person should know.")


class BantForm(forms.Form):
    budget = forms.DecimalField(required=False, min_value=0, max_digits=16, decimal_places=2)
    authority = forms.ChoiceField(choices=Authority.choices, required=False)
    need = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Required to qualify."
    )
    timeline = forms.DateField(
        required=False, widget=date_input(), help_text="When they expect to buy."
    )


class LeadAssignForm(forms.Form):
    to_position = PositionChoiceField(queryset=Position.objects.none(), label="New owner")
    note = _text(255)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "assign_%s")  # the lead page also has a disqualify note
        super().__init__(*args, **kwargs)
        self.fields["to_position"].queryset = selectors.lead_assign_targets(user=user)


class ConvertForm(forms.Form):
    ae_position = PositionChoiceField(
        queryset=Position.objects.none(),
        label="Receiving account executive",
        help_text="Who owns the opportunity from now on.",
    )
    opportunity_name = _text(200, help_text="Default: “<account>: new business”.")
    amount = forms.DecimalField(
        required=False, min_value=0, max_digits=14, decimal_places=2, help_text="Default: budget."
    )
    close_date = forms.DateField(
        required=False, widget=date_input(), help_text="Default: the BANT timeline."
    )
    product = forms.ModelChoiceField(queryset=None, required=False, empty_label="—")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        from revline.pipeline.models import Product

        super().__init__(*args, **kwargs)
        self.fields["ae_position"].queryset = receiving_positions(user)
        self.fields["product"].queryset = Product.objects.filter(active=True).order_by("name")


# --- activities ---------------------------------------------------------------------------------

TARGET_KINDS = ("account", "contact", "lead", "opportunity")  # least to most specific


class ActivityForm(forms.Form):
    target_kind = forms.ChoiceField(
        choices=[(k, k) for k in TARGET_KINDS], widget=forms.HiddenInput
    )
    target_id = forms.IntegerField(widget=forms.HiddenInput)
    next = forms.CharField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=ActivityKind.choices, initial=ActivityKind.CALL)
    subject = _text(200, help_text="Default: the kind.")
    occurred_at = forms.DateTimeField(
        required=False, widget=datetime_input(), label="When", help_text="Default: now."
    )
    due_at = forms.DateTimeField(
        required=False, widget=datetime_input(), label="Due", help_text="Tasks only."
    )
    outcome = forms.ChoiceField(choices=ActivityOutcome.choices, required=False)
    body = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Notes")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("kind") == ActivityKind.TASK and not data.get("due_at"):
            self.add_error("due_at", "A task needs a due date.")
        return data


class ActivityCompleteForm(forms.Form):
    outcome = forms.ChoiceField(choices=ActivityOutcome.choices, required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)


# --- list filters -------------------------------------------------------------------------------


def _any(label: str, choices: Any) -> list[tuple[str, str]]:
    return [("", label), *[(str(v), str(lab)) for v, lab in choices]]


class ListFilterForm(forms.Form):
    """The filters of a list page. Field names are the selector's filter keys, so the query
    string, the CSV export and the API speak the same language."""

    entity = ""
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Search…", "autocomplete": "off"}
        ),
    )

    def __init__(self, *args: Any, user: Any, custom: list[CustomFieldDefinition], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.user = user
        self.custom_defs = custom
        for definition in custom:
            field = custom_form_field(definition, for_filter=True)
            field.widget.attrs["class"] = "crm-cf-filter"
            self.fields[f"cf_{definition.key}"] = field
        if "owner" in self.fields:
            self.fields["owner"].choices = [("", "Any owner")] + [
                (str(p.pk), str(p)) for p in visible_positions(user)
            ]
        if "region" in self.fields:
            self.fields["region"].choices = [("", "Any region")] + [
                (r.code, r.name) for r in Region.objects.order_by("name")
            ]

    @property
    def main_fields(self) -> list[Any]:
        return [f for f in self if f.name != "q" and not f.name.startswith("cf_")]

    @property
    def custom_filter_fields(self) -> list[Any]:
        return [f for f in self if f.name.startswith("cf_")]

    def search(self) -> str:
        self.is_valid()
        return (self.cleaned_data.get("q") or "").strip()

    def filters(self) -> dict[str, str]:
        """The non-empty filters as strings. A value the form cannot read (an owner outside the
        choices, a bad date) goes to the selector as typed, where it matches nothing: a filter
        never widens the list."""
        self.is_valid()
        out: dict[str, str] = {}
        for name in self.errors:
            raw = self.data.get(name, "")
            if name in self.fields and name != "q" and str(raw).strip():
                out[name] = str(raw).strip()
        for name, value in self.cleaned_data.items():
            if name == "q" or value is None or value == "" or (name == "untouched" and not value):
                continue
            if isinstance(value, bool):
                value = "1" if name == "untouched" else ("true" if value else "false")
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[name] = str(value)
        return out


class AccountFilterForm(ListFilterForm):
    entity = "account"
    customer_status = forms.ChoiceField(
        required=False, choices=_any("Any status", CustomerStatus.choices), label="Status"
    )
    owner = forms.ChoiceField(required=False)
    region = forms.ChoiceField(required=False)
    size = forms.ChoiceField(required=False, choices=_any("Any size", CompanySize.choices))
    sector = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "Sector"})
    )
    country = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "Country"})
    )


class ContactFilterForm(ListFilterForm):
    entity = "contact"
    owner = forms.ChoiceField(required=False)
    email = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "Exact e-mail"})
    )


class LeadFilterForm(ListFilterForm):
    entity = "lead"
    status = forms.ChoiceField(required=False, choices=_any("Any status", LeadStatus.choices))
    source = forms.ChoiceField(required=False, choices=_any("Any source", LeadSource.choices))
    owner = forms.ChoiceField(required=False)
    region = forms.ChoiceField(required=False)
    campaign = forms.ChoiceField(required=False)
    source_name = forms.CharField(
        required=False, widget=forms.TextInput(attrs={"placeholder": "Source name"})
    )
    created_from = forms.DateField(required=False, widget=date_input(), label="Created from")
    created_to = forms.DateField(required=False, widget=date_input(), label="Created to")
    untouched = forms.BooleanField(required=False, label="Never touched")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["campaign"].choices = [("", "Any campaign")] + [
            (str(pk), name) for pk, name in visible_campaigns(self.user).values_list("id", "name")
        ]


class ProspectRuleForm(LeadFilterForm):
    """A prospect list's rule: the lead-list filters, saved."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["q"]


# --- prospect lists -----------------------------------------------------------------------------


class ProspectListForm(forms.Form):
    name = forms.CharField(max_length=150)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_position = OwnerField(required=False, empty_label="— me —")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_position"].queryset = assignable_positions(user, Domain.LEADS)


class ProspectAddForm(forms.Form):
    first_name = _text()
    last_name = _text()
    email = forms.EmailField(required=False)
    phone = _text(50)
    title = _text(150, label="Job title")
    company = _text(200)
    sector = _text()
    region = forms.ModelChoiceField(
        queryset=Region.objects.order_by("name"), required=False, empty_label="—"
    )
    country = _text()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(k) for k in ("last_name", "email", "company")):
            raise ValidationError("A prospect needs at least a last name, an e-mail or a company.")
        return data


# --- service: complaints and surveys -----------------------------------------------------------


class ComplaintForm(forms.Form):
    account = PickField("account")
    contact = PickField("contact", required=False)
    subject = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    severity = forms.ChoiceField(choices=ComplaintSeverity.choices, initial="medium")
    owner_position = OwnerField(help_text="A sales manager or customer success.")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_position"].queryset = visible_positions(
            user, roles=COMPLAINT_OWNER_ROLES
        )
        bind_pickers(self, user)


class ComplaintResolveForm(forms.Form):
    resolution = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say how the complaint was resolved."},
    )


class SurveyForm(forms.Form):
    account = PickField("account")
    contact = PickField("contact", required=False)
    kind = forms.ChoiceField(choices=SurveyKind.choices)
    score = forms.IntegerField(min_value=0, max_value=10, help_text="CSAT 1-5, NPS 0-10.")
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    responded_at = forms.DateTimeField(
        required=False, widget=datetime_input(), label="Answered", help_text="Default: now."
    )
    owner_position = OwnerField()

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_position"].queryset = assignable_positions(user, Domain.SERVICE)
        bind_pickers(self, user)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, score = data.get("kind"), data.get("score")
        if kind == SurveyKind.CSAT and score is not None and not 1 <= score <= 5:
            self.add_error("score", "A CSAT score is between 1 and 5.")
        return data


# --- marketing: campaigns and referrals --------------------------------------------------------


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=CampaignKind.choices, initial=CampaignKind.OTHER)
    status = forms.ChoiceField(choices=CampaignStatus.choices, initial=CampaignStatus.PLANNED)
    start_date = forms.DateField(required=False, widget=date_input())
    end_date = forms.DateField(required=False, widget=date_input())
    cost = forms.DecimalField(min_value=0, max_digits=14, decimal_places=2, initial=0)
    currency = forms.CharField(max_length=3, initial="USD")
    external_id = _text(label="External ID")
    owner_position = OwnerField()

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_position"].queryset = assignable_positions(user, Domain.CAMPAIGNS)

    def clean_currency(self) -> str:
        currency = (self.cleaned_data.get("currency") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise ValidationError("A three-letter currency code, like USD.")
        return currency

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", "The campaign ends before it starts.")
        return data


class ReferralForm(forms.Form):
    referrer_contact = PickField("contact", required=False, label="Referred by (contact)")
    referrer_name = _text(200, label="…or by (name)", help_text="Someone who is not a contact.")
    lead = PickField("lead", required=False, label="Referred lead")
    reward = _text(200)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    owner_position = OwnerField()

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner_position"].queryset = assignable_positions(user, Domain.LEADS)
        bind_pickers(self, user)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        named = data.get("referrer_contact") or (data.get("referrer_name") or "").strip()
        if not named and "referrer_contact" not in self.errors:
            self.add_error("referrer_name", "Say who made the referral.")
        return data


class ReferralOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(choices=ReferralOutcome.choices)
    reward = _text(200)


# --- configuration (RevOps) ---------------------------------------------------------------------


class CustomFieldForm(forms.Form):
    entity = forms.ChoiceField(choices=CustomFieldEntity.choices, label="Record")
    label = forms.CharField(max_length=100)
    key = forms.SlugField(
        max_length=60,
        required=False,
        help_text="Used in imports, the API and list filters (cf_<key>). Default: from the label.",
    )
    field_type = forms.ChoiceField(choices=CustomFieldType.choices, label="Type")
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For a choice field: one value per line.",
    )
    required = forms.BooleanField(required=False)
    help_text = _text(255, label="Help text")

    def clean_choices(self) -> list[str]:
        raw = self.cleaned_data.get("choices") or ""
        return [line.strip() for line in re.split(r"[\n,]", raw) if line.strip()]


class RoutingRuleForm(forms.Form):
    name = forms.CharField(max_length=150)
    method = forms.ChoiceField(choices=RoutingMethod.choices)
    priority = forms.IntegerField(min_value=0, initial=100, help_text="Lower runs first.")
    active = forms.BooleanField(required=False, initial=True)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        help_text="Round-robin over the team's SDRs when the rule has no members.",
    )
    region = forms.ModelChoiceField(
        queryset=Region.objects.order_by("name"),
        required=False,
        help_text="Only leads from this region.",
    )
    source = forms.ChoiceField(
        choices=_any("Any source", LeadSource.choices),
        required=False,
        help_text="Only leads from this source.",
    )
    window_days = forms.IntegerField(min_value=1, initial=30, label="Capacity window (days)")


class RoutingMemberForm(forms.Form):
    position = PositionChoiceField(queryset=Position.objects.none())
    capacity = forms.IntegerField(min_value=0, initial=100, help_text="Leads per window.")
    opted_out = forms.BooleanField(required=False, label="Opted out (receives no new leads)")

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["position"].queryset = org_selectors.positions_visible(user=user).order_by(
            "title", "id"
        )
