"""Forms of the organisation screens. They parse and validate input; the services decide."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from revline.core.catalog import CAPABILITIES, KPIS
from revline.org.choices import RoleType
from revline.org.models import Position, Region, Team, User

ROLE_CHOICES = [("", "Any role"), *RoleType.choices]


def position_label(position: Position) -> str:
    holder = position.holder.get_full_name() if position.holder_id else "vacant"
    return f"{position.title} — {holder}"


class PositionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return position_label(obj)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.get_full_name()} <{obj.email}>"


def changeable_positions(user: Any) -> QuerySet[Position]:
    """The positions ``user`` may reorganise, ready for a select box."""
    return Position.objects.visible_to(user, "change").select_related("holder").order_by("title")


def active_people() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("full_name", "email")


def apply_service_error(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on ``form``: on the field it names, else on the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


# --- org chart and admin list filters ---------------------------------------------------------


class ChartSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "Name, title or email…",
                "autocomplete": "off",
            }
        ),
    )
    role = forms.ChoiceField(required=False, choices=ROLE_CHOICES)
    region = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, regions: list[Region], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "Any region")] + [(r.code, r.name) for r in regions]

    def criteria(self) -> dict[str, str]:
        if not self.is_valid():
            return {"q": "", "role": "", "region": ""}
        return {k: (self.cleaned_data.get(k) or "").strip() for k in ("q", "role", "region")}


class PositionFilterForm(ChartSearchForm):
    team = forms.ChoiceField(required=False)
    vacant = forms.ChoiceField(
        required=False,
        choices=[("", "Filled and vacant"), ("yes", "Vacant only"), ("no", "Filled only")],
    )

    def __init__(self, *args: Any, regions: list[Region], teams: list[Team], **kwargs: Any):
        super().__init__(*args, regions=regions, **kwargs)
        self.fields["team"].choices = [("", "Any team")] + [(str(t.pk), t.name) for t in teams]

    def criteria(self) -> dict[str, Any]:  # type: ignore[override]
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        vacant = {"yes": True, "no": False}.get(data.get("vacant") or "")
        return {
            "q": (data.get("q") or "").strip(),
            "role": data.get("role") or "",
            "region": data.get("region") or "",
            "team": data.get("team") or "",
            "vacant": vacant,
        }


# --- positions --------------------------------------------------------------------------------


class PositionEditForm(forms.Form):
    title = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=RoleType.choices)
    region = forms.ModelChoiceField(queryset=Region.objects.all(), required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)


class PositionCreateForm(PositionEditForm):
    reports_to = PositionChoiceField(
        queryset=Position.objects.none(),
        required=False,
        empty_label="— nobody (top of the organisation) —",
        help_text="The solid reporting line.",
    )
    holder = UserChoiceField(
        queryset=User.objects.none(),
        required=False,
        empty_label="— vacant —",
        help_text="Leave vacant to fill it later.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reports_to"].queryset = changeable_positions(user)
        self.fields["holder"].queryset = active_people()


class PositionMoveForm(forms.Form):
    reports_to = PositionChoiceField(
        queryset=Position.objects.none(),
        required=False,
        label="New manager",
        empty_label="— nobody (top of the organisation) —",
        help_text="The position moves with everyone below it.",
    )
    join_team = forms.BooleanField(
        required=False,
        initial=True,
        label="Also move it into the new manager's team",
        help_text="Team-mates see each other; leave unticked to keep its current team.",
    )

    def __init__(self, *args: Any, user: Any, position: Position, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reports_to"].queryset = changeable_positions(user).exclude(pk=position.pk)


class DottedLineForm(forms.Form):
    manager = PositionChoiceField(
        queryset=Position.objects.none(),
        label="Also reports to",
        help_text="A dotted line: this manager oversees the position too.",
    )

    def __init__(self, *args: Any, user: Any, position: Position, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["manager"].queryset = changeable_positions(user).exclude(pk=position.pk)


class HolderForm(forms.Form):
    holder = UserChoiceField(
        queryset=User.objects.none(),
        required=False,
        label="Person",
        empty_label="— vacate the position —",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["holder"].queryset = active_people()


class ReassignForm(forms.Form):
    to_position = PositionChoiceField(
        queryset=Position.objects.none(),
        label="Give the records to",
    )

    def __init__(self, *args: Any, user: Any, position: Position, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to_position"].queryset = changeable_positions(user).exclude(pk=position.pk)


# --- people -----------------------------------------------------------------------------------


class PersonCreateForm(forms.Form):
    email = forms.EmailField()
    full_name = forms.CharField(max_length=150)
    password = forms.CharField(
        required=False,
        label="Initial password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional. Without one the person cannot log in until a password is set.",
    )

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password") or ""
        if password:
            validate_password(password)
        return password


class OffboardForm(forms.Form):
    person = UserChoiceField(queryset=User.objects.none(), label="Person leaving")
    successor = PositionChoiceField(
        queryset=Position.objects.none(),
        label="Hand their records to",
        empty_label="— choose the successor position —",
        help_text="Every record their positions own moves to this position.",
    )

    def __init__(self, *args: Any, user: Any, person: User | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.acting_user = user
        self.fields["person"].queryset = active_people()
        successors = changeable_positions(user)
        if person is not None:
            successors = successors.exclude(holder=person)
            self.fields["person"].widget = forms.HiddenInput()
        self.fields["successor"].queryset = successors

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        person = data.get("person")
        if person is None and "person" in self.errors:
            self.add_error(None, "Choose the person who is leaving.")
        if person is not None and person.pk == getattr(self.acting_user, "pk", None):
            raise ValidationError("You cannot offboard yourself.")
        return data


class OffboardPickForm(forms.Form):
    person = UserChoiceField(queryset=User.objects.none(), label="Person leaving")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = active_people()


# --- role templates ---------------------------------------------------------------------------


class RoleTemplateForm(forms.Form):
    name = forms.CharField(max_length=100)
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _catalogue_choices(items: dict[str, Any], attr: str) -> list[tuple[str, str]]:
    choices = sorted(
        ((key, getattr(item, attr)) for key, item in items.items()), key=lambda c: c[1]
    )
    return [("", "— none —"), *choices]


class ResponsibilityForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    capability = forms.ChoiceField(
        required=False,
        label="Served by",
        help_text="The screen that serves this responsibility.",
    )
    kpi = forms.ChoiceField(
        required=False,
        label="Measured by",
        help_text="The KPI that measures it.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capability"].choices = _catalogue_choices(CAPABILITIES, "label")
        self.fields["kpi"].choices = _catalogue_choices(KPIS, "name")


# --- regions and teams ------------------------------------------------------------------------


class RegionForm(forms.Form):
    name = forms.CharField(max_length=100)
    code = forms.SlugField(max_length=40, help_text="Short identifier, e.g. emea-north.")
    parent = forms.ModelChoiceField(
        queryset=Region.objects.all(),
        required=False,
        empty_label="— none (a top-level region) —",
        help_text="Set it to make this a territory inside a region.",
    )


class TeamForm(forms.Form):
    name = forms.CharField(max_length=100)
    region = forms.ModelChoiceField(queryset=Region.objects.all(), required=False)
    share_records = forms.BooleanField(
        required=False,
        label="Members see each other's records",
        help_text="Read-only access to the records owned by the team's other positions.",
    )
