"""Name normalisation shared by duplicate detection, conversion matching and imports."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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


_ASCII_NON_WORD = re.compile(r"[^a-z0-9_\s]+")


@lru_cache(maxsize=262_144)
def normalize_text(value: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed. Cached, with a fast path
    for ASCII: imports normalise millions of names, and names repeat."""
    if value.isascii():
        text = value.lower()
        if "&" in text:
            text = text.replace("&", " and ")
        return " ".join(_ASCII_NON_WORD.sub(" ", text).split())
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace("&", " and ")
    return _SPACE.sub(" ", _NON_WORD.sub(" ", text)).strip()


@lru_cache(maxsize=262_144)
def normalize_company(name: str) -> str:
    """A company name reduced to what identifies it: ``"Acme Corp."`` -> ``"acme"``."""
    text = normalize_text(name)
    words = [w for w in text.split() if w not in LEGAL_FORMS]
    return " ".join(words) or text


def normalize_person(first: str, last: str) -> str:
    """The normalised first and last names."""
    a, b = normalize_text(first) if first else "", normalize_text(last) if last else ""
    return f"{a} {b}" if a and b else a or b


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def block_key(normalized: str) -> str:
    """The blocking key fuzzy matching compares within (first three characters)."""
    return normalized.replace(" ", "")[:3]
