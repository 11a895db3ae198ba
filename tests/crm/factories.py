"""Small builders for CRM and pipeline records, going through the services."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from revline.crm import services as crm
from revline.org.models import Position

_n = itertools.count(1)


def make_account(owner: Position, **fields: Any):
    fields.setdefault("name", f"Account {next(_n)}")
    return crm.account_create(by=None, owner_position=owner, **fields)


def make_contact(owner: Position, **fields: Any):
    n = next(_n)
    fields.setdefault("last_name", f"Contact{n}")
    fields.setdefault("email", f"contact{n}@example.test")
    return crm.contact_create(by=None, owner_position=owner, **fields)


def make_lead(owner: Position, **fields: Any):
    n = next(_n)
    fields.setdefault("first_name", "Lee")
    fields.setdefault("last_name", f"Lead{n}")
    fields.setdefault("email", f"lead{n}@example.test")
    fields.setdefault("company", f"Company {n}")
    return crm.lead_create(by=None, owner_position=owner, route=False, **fields)


def make_opportunity(owner: Position, **fields: Any):
    from revline.pipeline import services as pipeline

    fields.setdefault("name", f"Deal {next(_n)}")
    fields.setdefault("amount", Decimal("1000"))
    return pipeline.opportunity_create(by=None, owner_position=owner, **fields)
