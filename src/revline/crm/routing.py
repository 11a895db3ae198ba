"""Writes of the lead-routing configuration (RevOps): rules and their members.

Kept apart from ``revline.crm.services`` (which applies the rules in ``lead_route``); each
function is keyword-only, runs in one transaction and writes its audit event on the rule.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from revline.core.services import audit_event_record, diff_fields
from revline.crm.choices import LeadSource, RoutingMethod
from revline.crm.models import RoutingMember, RoutingRule
from revline.org.models import Position

RULE_FIELDS = frozenset(
    {"name", "method", "priority", "active", "team", "region", "source", "window_days"}
)


@transaction.atomic
def routing_rule_save(*, by: Any, rule: RoutingRule | None = None, **fields: Any) -> RoutingRule:
    """Create a routing rule, or change ``rule``."""
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise ValidationError(f"Unknown routing rule field(s): {', '.join(sorted(unknown))}.")
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ValidationError({"name": "A rule needs a name."})
    if "method" in fields and fields["method"] not in RoutingMethod.values:
        raise ValidationError({"method": f"Unknown routing method {fields['method']!r}."})
    if fields.get("source") and fields["source"] not in LeadSource.values:
        raise ValidationError({"source": f"Unknown lead source {fields['source']!r}."})
    if "source" in fields:
        fields["source"] = fields["source"] or ""
    if fields.get("window_days") is not None and fields["window_days"] < 1:
        raise ValidationError({"window_days": "The window is at least one day."})
    if rule is None:
        if "name" not in fields or "method" not in fields:
            raise ValidationError("A rule needs a name and a method.")
        rule = RoutingRule.objects.create(**fields)
        audit_event_record(actor=by, action="routing_rule.create", instance=rule)
        return rule
    rule = RoutingRule.objects.select_for_update().get(pk=rule.pk)
    changes = diff_fields(rule, fields)
    if changes:
        rule.save()
        audit_event_record(actor=by, action="routing_rule.update", instance=rule, changes=changes)
    return rule


@transaction.atomic
def routing_member_save(
    *,
    by: Any,
    rule: RoutingRule,
    position: Position,
    capacity: int = 100,
    opted_out: bool = False,
) -> RoutingMember:
    """Add ``position`` to ``rule`` or change its capacity and opt-out."""
    if not isinstance(position, Position):
        raise ValidationError({"position": "Choose a position."})
    if capacity is None or capacity < 0:
        raise ValidationError({"capacity": "Capacity cannot be negative."})
    member = RoutingMember.objects.filter(rule=rule, position=position).first()
    if member is None:
        member = RoutingMember.objects.create(
            rule=rule, position=position, capacity=capacity, opted_out=opted_out
        )
        audit_event_record(
            actor=by,
            action="routing_rule.member_add",
            instance=rule,
            changes={"member": (None, position), "capacity": (None, capacity)},
        )
        return member
    changes = diff_fields(member, {"capacity": capacity, "opted_out": opted_out})
    if changes:
        member.save()
        changes["member"] = (position, position)
        audit_event_record(
            actor=by, action="routing_rule.member_update", instance=rule, changes=changes
        )
    return member


@transaction.atomic
def routing_member_remove(*, by: Any, member: RoutingMember) -> None:
    rule, position = member.rule, member.position
    member.delete()
    audit_event_record(
        actor=by,
        action="routing_rule.member_remove",
        instance=rule,
        changes={"member": (position, None)},
    )
