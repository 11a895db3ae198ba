"""Template helpers of the CRM screens."""

from __future__ import annotations

from typing import Any

from django import template

from revline.crm.forms import TARGET_KINDS, ActivityForm

register = template.Library()


@register.simple_tag(takes_context=True)
def activity_form_for(context: Any) -> ActivityForm | None:
    """The log-activity form of ``web/crm/_activity_form.html``: ``log_form`` when the page
    re-renders one with errors, else a fresh form aimed at ``target_kind``/``target`` (or, for
    pages that pass the record under its own name, at ``opportunity``, ``lead``, ``contact``
    or ``account``, in that order)."""
    bound = context.get("log_form")
    if isinstance(bound, ActivityForm):
        return bound
    kind, target = context.get("target_kind"), context.get("target")
    if kind not in TARGET_KINDS or target is None:
        kind, target = next(
            ((k, context.get(k)) for k in TARGET_KINDS[::-1] if context.get(k) is not None),
            (None, None),
        )
    if kind is None or getattr(target, "pk", None) is None:
        return None
    return ActivityForm(
        initial={"target_kind": kind, "target_id": target.pk, "next": context.get("next") or ""}
    )
