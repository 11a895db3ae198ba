"""Typed custom fields on accounts, contacts, leads and opportunities.

Values live in each record's ``custom`` JSON object, keyed by the definition's ``key``, stored as
JSON types: text and choice as strings, numbers as numbers, dates as ISO strings, booleans as
booleans. ``custom_values_clean`` validates and converts what a form, the API or an import
supplies; ``custom_filter_q`` turns a list filter (``cf_<key>=value``) into a query.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q

from revline.crm.choices import CustomFieldType
from revline.crm.models import CustomFieldDefinition

TRUE = {"1", "true", "yes", "y", "on", "won"}
FALSE = {"0", "false", "no", "n", "off", "lost"}


def definitions(entity: str) -> dict[str, CustomFieldDefinition]:
    return {d.key: d for d in CustomFieldDefinition.objects.filter(entity=entity)}


def convert(definition: CustomFieldDefinition, value: Any) -> Any:
    """``value`` as the definition's JSON type; raises ``ValueError`` with a readable reason.
    Blank values become ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = definition.field_type
    if kind == CustomFieldType.TEXT:
        return str(value).strip()
    if kind == CustomFieldType.CHOICE:
        text = str(value).strip()
        allowed = [str(c) for c in definition.choices or []]
        match = next((c for c in allowed if c.lower() == text.lower()), None)
        if match is None:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed) or 'the choices'}")
        return match
    if kind == CustomFieldType.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise ValueError(f"{value!r} is not yes or no")
    if kind in (CustomFieldType.NUMBER, CustomFieldType.INTEGER):
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is not a number")
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a number")
        if kind == CustomFieldType.INTEGER:
            if number != number.to_integral_value():
                raise ValueError(f"{value!r} is not a whole number")
            return int(number)
        return float(number)
    if kind == CustomFieldType.DATE:
        if isinstance(value, dt.datetime):
            return value.date().isoformat()
        if isinstance(value, dt.date):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None
    raise ValueError(f"unknown field type {kind!r}")


def custom_values_clean(*, entity: str, values: dict[str, Any], partial: bool = False) -> dict:
    """Validate ``values`` against the entity's definitions and return them converted.

    Unknown keys are refused; missing required fields are refused unless ``partial`` (an update
    of some fields). Raises one ``ValidationError`` naming every bad field (``custom.<key>``).
    """
    defs = definitions(entity)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key, value in (values or {}).items():
        definition = defs.get(key)
        if definition is None:
            errors[f"custom.{key}"] = f"There is no custom field {key!r} on {entity}s."
            continue
        try:
            converted = convert(definition, value)
        except ValueError as exc:
            errors[f"custom.{key}"] = f"{definition.label}: {exc}."
            continue
        if converted is not None:
            clean[key] = converted
    if not partial:
        for key, definition in defs.items():
            if definition.required and clean.get(key) is None and f"custom.{key}" not in errors:
                errors[f"custom.{key}"] = f"{definition.label} is required."
    if errors:
        raise ValidationError(errors)
    return clean


def custom_filter_q(entity: str, filters: dict[str, Any]) -> Q:
    """``cf_<key>=value`` filters as a query on the ``custom`` JSON; unknown keys are ignored,
    values that do not convert match nothing."""
    q = Q()
    defs = None
    for name, raw in filters.items():
        if not name.startswith("cf_") or raw in (None, ""):
            continue
        if defs is None:
            defs = definitions(entity)
        definition = defs.get(name[3:])
        if definition is None:
            continue
        try:
            value = convert(definition, raw)
        except ValueError:
            return Q(pk__in=[])
        if definition.field_type == CustomFieldType.TEXT:
            q &= Q(**{f"custom__{definition.key}__icontains": value})
        else:
            q &= Q(**{f"custom__{definition.key}": value})
    return q


def custom_field_save(
    *,
    by: Any,
    entity: str,
    key: str,
    label: str,
    field_type: str = CustomFieldType.TEXT,
    choices: list[str] | None = None,
    required: bool = False,
    help_text: str = "",
    definition: CustomFieldDefinition | None = None,
) -> CustomFieldDefinition:
    """Create or change a custom field definition (RevOps)."""
    from django.utils.text import slugify

    from revline.core.services import audit_event_record, diff_fields

    key = slugify(key or label).replace("-", "_")
    if not key:
        raise ValidationError({"key": "A custom field needs a key."})
    if field_type not in CustomFieldType.values:
        raise ValidationError({"field_type": f"Unknown type {field_type!r}."})
    choices = [str(c).strip() for c in (choices or []) if str(c).strip()]
    if field_type == CustomFieldType.CHOICE and not choices:
        raise ValidationError({"choices": "A choice field needs at least one choice."})
    values = {
        "entity": entity,
        "key": key,
        "label": label.strip() or key,
        "field_type": field_type,
        "choices": choices,
        "required": required,
        "help_text": help_text,
    }
    clash = CustomFieldDefinition.objects.filter(entity=entity, key=key)
    if definition is not None:
        clash = clash.exclude(pk=definition.pk)
    if clash.exists():
        raise ValidationError({"key": f"{entity} already has a custom field {key!r}."})
    if definition is None:
        definition = CustomFieldDefinition.objects.create(**values)
        audit_event_record(actor=by, action="custom_field.create", instance=definition)
        return definition
    changes = diff_fields(definition, values)
    if changes:
        definition.save()
        audit_event_record(
            actor=by, action="custom_field.update", instance=definition, changes=changes
        )
    return definition
