"""Duplicate detection for accounts, contacts, leads and opportunities.

Two users of the same rules:

- the importer keeps a ``MatchIndex`` of the records it knows (existing ones it looked up, and
  the rows it created so far) and asks it, for every row, whether the row is a record it has
  already seen: the same source id (``external_id``) first, then the same e-mail address
  (people) or normalised name (accounts), then a fuzzy name match;
- ``duplicate_candidates`` finds groups of existing records that look like one another, for the
  review-and-merge page and ``GET /api/v1/duplicates``.

Fuzzy matching compares names with rapidfuzz (``token_sort_ratio``: the words sorted once, when a
name enters the index, then ``ratio``) only *within a block*: records
whose normalised name starts with the same three characters (``names.block_key``), so the cost
per row stays flat however many records exist. Two people with different non-blank e-mail
addresses are never taken as one person, however alike their names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Model, QuerySet
from django.db.models.functions import Lower
from rapidfuzz import fuzz, process

from revline.crm.models import Account, Contact, Lead
from revline.crm.names import (
    block_key,
    normalize_company,
    normalize_email,
    normalize_person,
    normalize_text,
)
from revline.pipeline.models import Opportunity

# Similarity (0-100) above which two names in the same block are the same company or person.
FUZZY_SCORE = 90

ENTITY_MODELS: dict[str, type[Model]] = {
    "account": Account,
    "contact": Contact,
    "lead": Lead,
    "opportunity": Opportunity,
}
MERGEABLE = ("account", "contact", "lead")


# --- keys --------------------------------------------------------------------------------------

# The importer's names for the shared normalisers (revline.crm.names).
norm_text = normalize_text
norm_company = normalize_company
norm_person = normalize_person


def sorted_words(text: str) -> str:
    """The words of ``text`` in order: ``ratio`` on these is ``token_sort_ratio`` on the texts,
    without sorting every candidate's words again at every comparison."""
    return " ".join(sorted(text.split()))


def lead_fuzzy_key(first: str, last: str, company: str) -> tuple[str, str] | None:
    """(block, text) for a lead: the person's name and company, blocked on both."""
    person = norm_person(first, last)
    if not person:
        return None
    comp = norm_company(company) if company else ""
    return f"{block_key(comp)}|{block_key(person)}", sorted_words(f"{person} {comp}")


def contact_fuzzy_key(first: str, last: str, account_id: int | None) -> tuple[str, str] | None:
    """(block, text) for a contact: the person's name, within their account."""
    person = norm_person(first, last)
    if not person:
        return None
    return f"{account_id or 0}|{block_key(person)}", sorted_words(person)


def account_fuzzy_key(normalized_name: str) -> tuple[str, str] | None:
    if not normalized_name:
        return None
    return block_key(normalized_name), sorted_words(normalized_name)


# --- the importer's index ----------------------------------------------------------------------


class Ref:
    """A record the importer knows: an existing one (``id`` set) or a row created in this run
    (``pending`` holds its values until the batch is written; then ``id`` is set)."""

    __slots__ = ("changeable", "email", "id", "line", "owner_id", "pending", "sent")

    def __init__(
        self,
        *,
        id: int | None = None,
        owner_id: int | None = None,
        changeable: bool = True,
        email: str = "",
        pending: dict[str, Any] | None = None,
        line: int = 0,
    ) -> None:
        self.id = id
        self.owner_id = owner_id
        self.changeable = changeable
        self.email = email
        self.pending = pending
        self.line = line
        self.sent = False  # handed to the writer: ``pending`` is no longer to be changed


@dataclass
class MatchIndex:
    """Exact keys (source id, e-mail or normalised name) and fuzzy name blocks of known records."""

    score: int = FUZZY_SCORE
    by_ext: dict[str, Ref] = field(default_factory=dict)
    by_key: dict[Any, Ref] = field(default_factory=dict)
    blocks: dict[str, tuple[list[str], list[Ref]]] = field(
        default_factory=lambda: defaultdict(lambda: ([], []))
    )
    fuzzy_loaded: bool = False

    def add(
        self, ref: Ref, *, ext: str = "", key: Any = None, fuzzy: tuple[str, str] | None = None
    ) -> None:
        if ext and ext not in self.by_ext:
            self.by_ext[ext] = ref
        if key and key not in self.by_key:
            self.by_key[key] = ref
        if fuzzy is not None:
            names, refs = self.blocks[fuzzy[0]]
            names.append(fuzzy[1])
            refs.append(ref)

    def match(
        self,
        *,
        ext: str = "",
        key: Any = None,
        fuzzy: tuple[str, str] | None = None,
        email: str = "",
    ) -> tuple[Ref | None, str]:
        """The known record this row is, and how it matched (``external_id``, ``key`` or
        ``name``); ``(None, "")`` for a new record."""
        if ext and (ref := self.by_ext.get(ext)) is not None:
            return ref, "external_id"
        if key and (ref := self.by_key.get(key)) is not None:
            return ref, "key"
        if fuzzy is not None:
            block = self.blocks.get(fuzzy[0])
            if block and block[0]:
                ref = self.best_name(fuzzy[1], block[0], block[1], email)
                if ref is not None:
                    return ref, "name"
        return None, ""

    def best_name(self, text: str, names: list[str], refs: list[Ref], email: str) -> Ref | None:
        """The record among ``refs`` whose name (``names``, in the same order) is the most
        like ``text``, at least ``score`` alike (the first of equals); skipping records with
        another non-blank e-mail address than ``email``."""
        best = process.extractOne(text, names, scorer=fuzz.ratio, score_cutoff=self.score)
        if best is None:
            return None
        ref = refs[best[2]]
        if not (email and ref.email and ref.email != email):
            return ref
        # The best name belongs to someone else's address: look further, best first.
        for _, _, i in process.extract(
            text, names, scorer=fuzz.ratio, score_cutoff=self.score, limit=None
        ):
            ref = refs[i]
            if not (email and ref.email and ref.email != email):
                return ref
        return None


# --- the duplicate finder ----------------------------------------------------------------------


@dataclass
class DuplicateGroup:
    """Records that look like one record: ``reason`` is ``email`` or ``name``; ``score`` the
    lowest similarity in the group (100 for exact)."""

    entity: str
    reason: str
    score: int
    records: list[Any]

    @property
    def key(self) -> str:
        return "-".join(str(r.pk) for r in self.records)


def _live(model: type[Model], user: Any, action: str = "view") -> QuerySet:
    return model.objects.visible_to(user, action).filter(merged_into__isnull=True)


def _email_groups(model: type[Model], user: Any, limit: int) -> list[list[int]]:
    qs = _live(model, user).exclude(email="")
    dup_emails = list(
        qs.annotate(e=Lower("email"))
        .values("e")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .order_by("e")
        .values_list("e", flat=True)[:limit]
    )
    if not dup_emails:
        return []
    by_email: dict[str, list[int]] = defaultdict(list)
    rows = (
        qs.annotate(e=Lower("email")).filter(e__in=dup_emails).order_by("id").values_list("id", "e")
    )
    for pk, email in rows:
        by_email[email].append(pk)
    return [by_email[e] for e in dup_emails if len(by_email[e]) > 1]


def _fuzzy_groups(
    items: Iterable[tuple[int, str, str, str]], limit: int, score: int
) -> list[tuple[list[int], int]]:
    """``items``: (id, block, text, email). Groups of ids whose texts match within a block."""
    blocks: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for pk, block, text, email in items:
        blocks[block].append((pk, text, email))
    groups: list[tuple[list[int], int]] = []
    for block in sorted(blocks):
        members = blocks[block]
        if len(members) < 2:
            continue
        texts = [m[1] for m in members]
        taken: set[int] = set()
        for i, (pk, text, email) in enumerate(members):
            if i in taken:
                continue
            group, low = [pk], 100
            for _, sim, j in process.extract(
                text, texts, scorer=fuzz.ratio, score_cutoff=score, limit=None
            ):
                if j <= i or j in taken:
                    continue
                other_email = members[j][2]
                if email and other_email and email != other_email:
                    continue
                group.append(members[j][0])
                taken.add(j)
                low = min(low, int(sim))
            if len(group) > 1:
                taken.add(i)
                groups.append((group, low))
                if len(groups) >= limit:
                    return groups
    return groups


def duplicate_candidates(
    *, user: Any, entity: str, limit: int = 50, scan: int = 20_000
) -> list[DuplicateGroup]:
    """Groups of records ``user`` may see that look like duplicates of one another.

    People (contacts, leads) sharing an e-mail address come first; then records whose names
    match fuzzily within a block (accounts: the normalised company name; contacts: the person
    within the same account; leads: the person and their company). The fuzzy pass looks at the
    ``scan`` newest records, so the page stays fast on a large database. Merging needs change
    rights on both records; the groups only need view rights.
    """
    if entity not in MERGEABLE:
        raise ValueError(f"Duplicates are found for {', '.join(MERGEABLE)}, not {entity!r}.")
    model = ENTITY_MODELS[entity]
    found: list[tuple[str, int, list[int]]] = []
    seen: set[int] = set()
    if entity in ("contact", "lead"):
        for ids in _email_groups(model, user, limit):
            found.append(("email", 100, ids))
            seen.update(ids)
    if len(found) < limit:
        qs = _live(model, user).order_by("-id")
        items: list[tuple[int, str, str, str]] = []
        if entity == "account":
            for pk, norm in qs.values_list("id", "normalized_name")[:scan]:
                if pk not in seen and (k := account_fuzzy_key(norm)):
                    items.append((pk, k[0], k[1], ""))
        elif entity == "contact":
            rows = qs.values_list("id", "first_name", "last_name", "account_id", "email")[:scan]
            for pk, first, last, account_id, email in rows:
                if pk not in seen and (k := contact_fuzzy_key(first, last, account_id)):
                    items.append((pk, k[0], k[1], normalize_email(email)))
        else:
            rows = qs.values_list("id", "first_name", "last_name", "company", "email")[:scan]
            for pk, first, last, company, email in rows:
                if pk not in seen and (k := lead_fuzzy_key(first, last, company)):
                    items.append((pk, k[0], k[1], normalize_email(email)))
        for ids, low in _fuzzy_groups(items, limit - len(found), FUZZY_SCORE):
            found.append(("name", low, sorted(ids)))
    found = found[:limit]
    wanted = {pk for _, _, ids in found for pk in ids}
    records = _live(model, user).select_related("owner_position__holder").in_bulk(wanted)
    groups = []
    for reason, score, ids in found:
        members = [records[pk] for pk in ids if pk in records]
        if len(members) > 1:
            groups.append(DuplicateGroup(entity, reason, score, members))
    return groups
