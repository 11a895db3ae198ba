"""Builders for the KPI tests: deals with a history at given dates, through the services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone

from revline.org import services as org_services
from revline.pipeline import services as pipeline
from revline.pipeline.models import Stage


def at(day: dt.date | str, hour: int = 10) -> dt.datetime:
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


def stage(name: str) -> Stage:
    return Stage.objects.get(pipeline__is_default=True, name=name)


def deal(
    owner: Any,
    *,
    amount: int | str | None = 1000,
    created: str,
    closed: str | None = None,
    won: bool = True,
    engaged: str | None = None,
    via: tuple[str, ...] = (),
    **fields: Any,
):
    """A deal opened on ``created``, moved through ``via`` (stage names, a day apart after
    creation) and closed won or lost on ``closed`` (left open without it)."""
    opp = pipeline.opportunity_create(
        by=None,
        owner_position=owner,
        name=f"Deal {created} {amount}",
        amount=Decimal(amount) if amount is not None else None,
        close_date=dt.date.fromisoformat(closed or created) + dt.timedelta(days=30),
        engaged_on=dt.date.fromisoformat(engaged) if engaged else None,
        at=at(created),
        **fields,
    )
    day = dt.date.fromisoformat(created)
    for i, name in enumerate(via, start=1):
        opp = pipeline.opportunity_move_stage(
            opportunity=opp, stage=stage(name), by=None, at=at(day + dt.timedelta(days=i))
        )
    if closed:
        opp = pipeline.opportunity_close(
            opportunity=opp, won=won, by=None, at=at(closed, 15), loss_reason="" if won else "price"
        )
    return opp


def token(user: Any) -> str:
    _, raw = org_services.api_token_create(user=user, name="analytics test")
    return raw


def grow(org: dict[str, Any], n: int, day: str = "2026-02-") -> None:
    """``n`` rounds of every kind of record the KPIs count, in February 2026: deals won, lost
    and open (with stages, a competitor, a renewal), a campaign with a sourced lead qualified
    and converted, activities and tasks, a prospect list, a complaint and survey answers."""
    from revline.crm import services as crm
    from revline.crm.choices import ActivityKind, ActivityOutcome, LeadSource, LeadStatus
    from tests.crm.factories import make_account, make_lead

    for i in range(n):
        d = f"{day}{10 + i:02d}"
        ae = org["ae3"] if i % 2 else org["ae1"]
        account = make_account(ae, sector="retail", size="51-200")
        won = deal(ae, amount=1000 + i, created=f"{day}01", via=("Discovery", "Demo"), closed=d,
                   account=account)  # fmt: skip
        pipeline.competitor_set(opportunity=won, names=[f"Rival {i % 2}"], by=None)
        deal(ae, amount=500, created=f"{day}01", via=("Discovery",), closed=d, won=False)
        deal(ae, amount=700, created=d, type="renewal")
        campaign = crm.campaign_create(
            by=None, owner_position=org["mkt"], name=f"Campaign {d} {i}",
            start_date=dt.date.fromisoformat(d), cost=Decimal(100),
        )  # fmt: skip
        lead = make_lead(org["sdr"], source=LeadSource.CAMPAIGN, campaign=campaign,
                         at=at(d, 8), sector="retail", employees=80)  # fmt: skip
        crm.activity_log(by=None, kind=ActivityKind.CALL, subject="Call", lead=lead,
                         owner_position=org["sdr"], occurred_at=at(d, 9),
                         outcome=ActivityOutcome.MEETING_BOOKED)  # fmt: skip
        crm.lead_set_status(lead=lead, status=LeadStatus.QUALIFYING, by=None, at=at(d, 10))
        crm.lead_qualify(lead=lead, by=None, need="Laptops", at=at(d, 11))
        crm.lead_convert(lead=lead, by=None, ae_position=ae, amount=Decimal(900), at=at(d, 12))
        crm.activity_log(by=None, kind=ActivityKind.TASK, subject="Follow up", account=account,
                         owner_position=ae, due_at=at(d, 17))  # fmt: skip
        plist = crm.prospect_list_create(by=None, name=f"List {d} {i}", owner_position=org["bdr"])
        crm.prospect_list_add(prospect_list=plist, leads=[lead], by=None)
        crm.complaint_create(by=None, owner_position=org["m1"], account=account,
                             subject="Late delivery", raised_at=at(d))  # fmt: skip
        for kind, score in (("csat", 4), ("nps", 9), ("nps", 3)):
            crm.survey_record(by=None, owner_position=ae, account=account, kind=kind,
                              score=score, responded_at=at(d))  # fmt: skip


def quotes_complaints_and_a_task(org: dict[str, Any]) -> Any:
    """Beside ``grow``'s February 2026 records: quotes sent in February (AE 1a's two, AE 2a's
    one), one sent in January and a draft; two complaints resolved during and after February and
    one raised in March (Manager 2's, on an account of AE 2a); a task done in time. Returns that
    account."""
    from revline.crm import services as crm
    from revline.crm.choices import ActivityKind
    from revline.crm.models import Activity, Complaint
    from revline.pipeline.models import Quote
    from tests.crm.factories import make_account
    from tests.web.pipeline_helpers import build_catalog, make_opportunity

    seats = build_catalog()["seats"]
    for i, (ae, status, sent) in enumerate(
        (
            (org["ae1"], "sent", "2026-02-03"),
            (org["ae1"], "accepted", "2026-02-20"),
            (org["ae3"], "declined", "2026-02-21"),
            (org["ae1"], "sent", "2026-01-20"),  # sent before February
            (org["ae3"], "draft", None),  # never sent
        )
    ):
        quote = pipeline.quote_create(
            opportunity=make_opportunity(ae),
            by=None,
            lines=[{"product": seats, "discount_percent": 5 * (i + 1)}],
        )
        Quote.objects.filter(pk=quote.pk).update(status=status, sent_at=at(sent) if sent else None)
    account = make_account(org["ae3"])
    for raised, resolved in (("2026-01-20", "2026-02-05"), ("2026-02-02", "2026-03-10")):
        complaint = crm.complaint_create(
            by=None, owner_position=org["m2"], account=account, subject="Slow", raised_at=at(raised)
        )
        Complaint.objects.filter(pk=complaint.pk).update(
            status="resolved", resolved_at=at(resolved)
        )
    crm.complaint_create(  # raised after February: not open at its end
        by=None,
        owner_position=org["m2"],
        account=account,
        subject="Later",
        raised_at=at("2026-03-02"),
    )
    done = crm.activity_log(
        by=None,
        kind=ActivityKind.TASK,
        subject="Done in time",
        account=account,
        owner_position=org["ae3"],
        due_at=at("2026-02-15"),
    )
    Activity.objects.filter(pk=done.pk).update(done_at=at("2026-02-14"))
    return account
