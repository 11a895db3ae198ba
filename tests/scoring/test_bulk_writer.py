"""A bulk scoring run outside a transaction writes its chunks on a second connection while it
scores the next (PostgreSQL; elsewhere, and inside a transaction, each chunk at once): every
lead gets its score either way."""

from __future__ import annotations

import pytest
from django.db import connection

from revline.crm import services as crm
from revline.scoring import services
from revline.scoring.models import FitScore, LeadScore


@pytest.mark.django_db(transaction=True)
def test_a_run_in_chunks_stores_every_score(admin, owner):
    services.icp_rule_save(
        by=admin, name="Software", field="sector", operator="eq", value="Software", weight=50
    )
    sectors = ["Software", "Retail", "Software", "Banking", "Software"] * 5
    leads = [
        crm.lead_create(
            by=admin,
            owner_position=owner,
            route=False,
            last_name=f"L{i}",
            company=f"Co {i}",
            sector=sector,
        )
        for i, sector in enumerate(sectors)
    ]
    LeadScore.objects.all().delete()
    assert not connection.in_atomic_block
    writer = services._Writer()
    assert writer.threaded == (connection.vendor == "postgresql")
    writer.close()

    run = services.leads_score(chunk=4)  # seven chunks
    assert run.scored == len(leads)
    scores = dict(LeadScore.objects.values_list("lead_id", "score"))
    assert scores == {
        lead.pk: (100 if sector == "Software" else 0)
        for lead, sector in zip(leads, sectors, strict=True)
    }
    assert FitScore.objects.filter(lead__in=leads).count() == len(leads)


def test_inside_a_transaction_the_chunks_are_written_at_once(db):
    assert connection.in_atomic_block
    writer = services._Writer()
    assert not writer.threaded and writer.thread is None
    written = []
    writer(lambda: written.append(1))
    assert written == [1]
    writer.close()
