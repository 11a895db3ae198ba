"""Name normalisation shared by duplicate detection, conversion matching and imports."""

from __future__ import annotations

import re
import unicodedata

# Legal-form words that do not tell two companies apart ("Acme Corp." is "ACME Corporation").
LEGAL_FORMS = frozenset(
    {
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "llp",
        "lp",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "srl",
        "spa",
        "bv",
        "nv",
        "oy",
        "ab",
        "as",
        "kg",
        "pty",
        "pte",
        "kk",
        "the",
        "group",
        "holdings",
    }
)
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


def normalize_text(value: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


def normalize_company(name: str) -> str:
    """A company name reduced to what identifies it: ``"Acme Corp."`` -> ``"acme"``."""
    words = [w for w in normalize_text(name).split() if w not in LEGAL_FORMS]
    return " ".join(words) or normalize_text(name)


def normalize_person(first: str, last: str) -> str:
    return normalize_text(f"{first} {last}")


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def block_key(normalized: str) -> str:
    """The blocking key fuzzy matching compares within (first three characters)."""
    return normalized.replace(" ", "")[:3]
