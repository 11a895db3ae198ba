"""Merging duplicate accounts, contacts and leads.

``account_merge(keep=A, merge=B, by=user)`` makes B part of A:

1. every record pointing at B points at A instead: contacts, opportunities, activities, leads,
   complaints, surveys, referrals, prospect-list memberships, status history, subsidiaries,
   explicit shares, and records merged into B earlier. The relations are found from the model
   (every foreign key to it, hidden ones included), so one added later moves too; a move that
   would break a uniqueness rule (B and A on the same prospect list) drops B's duplicate row,
   and a one-to-one link A already has stays with B;
2. A's blank fields are filled from B (custom values too; A's own values win);
3. B is marked ``merged_into = A`` and kept, out of every list (selectors exclude merged
   records) and out of duplicate detection; re-imports that name B's source id or e-mail land
   on A;
4. an audit event on each: ``<entity>.merge`` on A (the fields filled and the records moved),
   ``<entity>.merged_into`` on B.

The caller needs change rights on both records (``visible_to(by, "change")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import UniqueConstraint

from revline.core.services import audit_event_record
from revline.crm.models import Account, Contact, Lead
from revline.crm.names import normalize_company
from revline.org.models import RecordShare

# Fields never copied from the merged record to the kept one.
NOT_FILLED = frozenset(
    {"id", "owner_position", "created_at", "updated_at", "merged_into", "normalized_name"}
)


@dataclass
class MergeResult:
    keep: Any
    merged: Any
    filled: list[str] = field(default_factory=list)
    moved: dict[str, int] = field(default_factory=dict)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


def _unique_sets(model: type[models.Model], field_name: str) -> list[list[str]]:
    """The uniqueness rules of ``model`` that involve ``field_name``: the other fields of each."""
    sets: list[list[str]] = []
    for constraint in model._meta.constraints:
        if (
            isinstance(constraint, UniqueConstraint)
            and constraint.condition is None
            and field_name in constraint.fields
        ):
            sets.append([f for f in constraint.fields if f != field_name])
    for together in model._meta.unique_together:
        if field_name in together:
            sets.append([f for f in together if f != field_name])
    return sets


def _move_related(keep: models.Model, merge: models.Model) -> dict[str, int]:
    """Point every foreign key that targets ``merge`` at ``keep``; returns counts per relation."""
    moved: dict[str, int] = {}
    model = type(keep)
    relations = [
        f
        for f in model._meta.get_fields(include_hidden=True)
        if f.auto_created and not f.concrete and (f.one_to_many or f.one_to_one)
    ]
    for rel in relations:
        related = rel.related_model
        fk = rel.field.name
        manager = related._base_manager
        rows = manager.filter(**{fk: merge})
        if related is model:  # subsidiaries, records merged into ``merge`` earlier
            rows = rows.exclude(pk=keep.pk)
        if rel.one_to_one:
            if manager.filter(**{fk: keep}).exists():
                continue  # the kept record has its own; the merged one keeps its link
        else:
            for others in _unique_sets(related, fk):
                if not others:
                    continue
                taken = set(manager.filter(**{fk: keep}).values_list(*others))
                clash = [
                    pk for pk, *values in rows.values_list("pk", *others) if tuple(values) in taken
                ]
                if clash:
                    manager.filter(pk__in=clash).delete()
        count = rows.update(**{fk: keep})
        if count:
            label = f"{related._meta.model_name}.{fk}"
            moved[label] = moved.get(label, 0) + count
    # explicit shares of the merged record become shares of the kept one
    ct = ContentType.objects.get_for_model(model, for_concrete_model=True)
    kept_shares = set(
        RecordShare.objects.filter(content_type=ct, object_id=keep.pk).values_list(
            "position_id", flat=True
        )
    )
    shares = RecordShare.objects.filter(content_type=ct, object_id=merge.pk)
    shares.filter(position_id__in=kept_shares).delete()
    count = shares.update(object_id=keep.pk)
    if count:
        moved["recordshare"] = count
    return moved


def _fill_blanks(keep: models.Model, merge: models.Model) -> list[str]:
    filled: list[str] = []
    for f in type(keep)._meta.concrete_fields:
        if f.name in NOT_FILLED or f.primary_key:
            continue
        if f.name == "custom":
            combined = {**(merge.custom or {}), **(keep.custom or {})}
            if combined != (keep.custom or {}):
                keep.custom = combined
                filled.append("custom")
            continue
        mine, theirs = getattr(keep, f.attname), getattr(merge, f.attname)
        if f.is_relation and f.related_model is type(keep) and theirs in (merge.pk, keep.pk):
            continue  # never point the kept record at the merged one, or at itself
        if _blank(mine) and not _blank(theirs):
            setattr(keep, f.attname, theirs)
            filled.append(f.name)
    # a parent that was the merged record becomes the merged record's parent
    if getattr(keep, "parent_id", None) == merge.pk:
        keep.parent_id = merge.parent_id if merge.parent_id != keep.pk else None
        filled.append("parent")
    return filled


def _merge(*, keep: models.Model, merge: models.Model, by: Any, entity: str) -> MergeResult:
    model = type(keep)
    if type(merge) is not model:
        raise ValidationError("Only records of the same kind can be merged.")
    if keep.pk == merge.pk:
        raise ValidationError("A record cannot be merged into itself.")
    keep = model._base_manager.select_for_update().get(pk=keep.pk)
    merge = model._base_manager.select_for_update().get(pk=merge.pk)
    if keep.merged_into_id or merge.merged_into_id:
        raise ValidationError("One of these records was already merged into another.")
    allowed = model.objects.visible_to(by, "change").filter(pk__in=[keep.pk, merge.pk]).count()
    if allowed != 2:
        raise ValidationError("You need the right to change both records to merge them.")

    moved = _move_related(keep, merge)
    filled = _fill_blanks(keep, merge)
    if isinstance(keep, Account):
        keep.normalized_name = normalize_company(keep.name)
    keep.save()
    merge.merged_into = keep
    merge.save(update_fields=["merged_into", "updated_at"])
    audit_event_record(
        actor=by,
        action=f"{entity}.merge",
        instance=keep,
        changes={
            "merged": (None, merge.pk),
            **{f"filled.{name}": (None, getattr(keep, name, None)) for name in filled},
            **{f"moved.{label}": (0, n) for label, n in moved.items()},
        },
    )
    audit_event_record(
        actor=by,
        action=f"{entity}.merged_into",
        instance=merge,
        changes={"merged_into": (None, keep.pk)},
    )
    return MergeResult(keep=keep, merged=merge, filled=filled, moved=moved)


@transaction.atomic
def account_merge(*, keep: Account, merge: Account, by: Any) -> MergeResult:
    """Merge the account ``merge`` into ``keep``: see the module docstring."""
    return _merge(keep=keep, merge=merge, by=by, entity="account")


@transaction.atomic
def contact_merge(*, keep: Contact, merge: Contact, by: Any) -> MergeResult:
    """Merge the contact ``merge`` into ``keep``: see the module docstring."""
    return _merge(keep=keep, merge=merge, by=by, entity="contact")


@transaction.atomic
def lead_merge(*, keep: Lead, merge: Lead, by: Any) -> MergeResult:
    """Merge the lead ``merge`` into ``keep``: its activities, status history, list memberships,
    referral and opportunities move to ``keep``; see the module docstring."""
    return _merge(keep=keep, merge=merge, by=by, entity="lead")


MERGERS = {"account": account_merge, "contact": contact_merge, "lead": lead_merge}
