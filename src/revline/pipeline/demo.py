"""The Maven pipeline in the demo: 7 products in a "Standard" price book, 8,800 opportunities
owned by the agents' AE positions with a stage history derived from their dates, and the quotes
and renewals generated on top. ``revline.crm.demo.load_demo_crm`` runs it; read that module's
docstring for the whole load.

From the Maven file (``demo_data/maven_crm/sales_pipeline.csv``), as given: the opportunity id
(kept as ``external_id``), agent, product, account, outcome, ``engaged_on`` = engage_date,
``closed_on`` = close_date, and for won deals ``amount`` = close_value. The sales-cycle, win-rate
and deal-size KPIs read exactly these.

Derived deterministically (the same on every run; the file has no stage history):
- the creation day: 2-20 days before engage_date; for Prospecting rows (no engage date) a day
  in the dataset's last 90 days;
- the stages: created -> Prospecting, engage_date -> Discovery; Engaging rows sit in Discovery,
  Demo or Proposal (chosen per id), with the moves spread between engage_date and at most 90
  days later; won deals pass Demo, Proposal (and Negotiation, 70%) before Closed won on
  close_date; lost deals stop after Discovery, Demo, Proposal or Negotiation before Closed lost
  on close_date. Every stage change keeps the amount and probability of the time;
- the amount of lost and open deals: the file has none (lost rows say 0), so they carry the
  product's list price, which is also the amount of every change before a deal is won;
- the expected close date of open deals (10-100 days after the dataset's end), a next step,
  the loss reason of lost deals (its ``loss_note`` says it was generated) and the competitors of
  some deals.

Generated on top (``is_generated=True``): quotes with lines from the price book on a sample of
late-stage deals, a few of them waiting for approval; and the renewal of every subscription
deal won in the dataset's last quarter, due a term after its close.

Subscriptions: the top model of each series (GTX Pro, GTX Plus Pro, MG Advanced, GTK 500) is
sold with a 12-month term (hardware as a service); the basic models are one-off sales.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import random
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, models, router
from django.utils import timezone

from revline.org.demo import MAVEN_DIR
from revline.org.models import Position
from revline.pipeline.choices import (
    ApprovalLevel,
    ApprovalStatus,
    LossReason,
    OpportunityStatus,
    OpportunityType,
    QuoteStatus,
    StageKind,
)
from revline.pipeline.models import (
    ApprovalRequest,
    Competitor,
    Opportunity,
    Pipeline,
    PriceBook,
    PriceBookEntry,
    Product,
    Quote,
    QuoteLine,
    Stage,
    StageChange,
)
from revline.pipeline.services import stage_changes_mark_advanced

SEED = "revline-demo-1"
DATASET_START = dt.date(2016, 10, 1)
DATASET_END = dt.date(2017, 12, 31)
RENEWALS_FROM = dt.date(2017, 10, 1)  # renewals are generated for deals won from this day
PRICE_BOOK = "Standard"
GENERATED_NOTE = "Generated for the demo: the source data gives no reason."
SUBSCRIPTIONS = {"GTX Pro", "GTX Plus Pro", "MG Advanced", "GTK 500"}
PRODUCT_DESCRIPTIONS = {
    "GTX": "GTX workstations for engineering and design teams.",
    "MG": "MG compact systems for offices and front desks.",
    "GTK": "GTK rack systems for data rooms.",
}
STAGE_KEYS = ("prospecting", "discovery", "demo", "proposal", "negotiation")
NEXT_STEPS = {
    "prospecting": "First call to confirm the need",
    "discovery": "Book the product demo",
    "demo": "Send the proposal",
    "proposal": "Follow up on the proposal",
    "negotiation": "Agree the final terms",
}
LOSS_REASONS = [
    (LossReason.PRICE, 25),
    (LossReason.COMPETITOR, 20),
    (LossReason.NO_DECISION, 20),
    (LossReason.FEATURES, 10),
    (LossReason.TIMING, 10),
    (LossReason.BUDGET, 10),
    (LossReason.CHAMPION_LEFT, 3),
    (LossReason.OTHER, 2),
]
# Invented rivals (a Competitor has no is_generated flag: its notes say so).
COMPETITORS = ["Ironbridge Systems", "Parallax Computing", "Hexacore Hardware", "Nimbus Devices"]
CENT = Decimal("0.01")
HUNDRED = Decimal(100)


# --- helpers shared with revline.crm.demo ------------------------------------------------------


def rng(*key: Any) -> random.Random:
    """A random generator seeded by ``key``: the same numbers on every run and machine."""
    return random.Random(":".join([SEED, *map(str, key)]))


def weighted(rnd: random.Random, choices: list[tuple[Any, int]]) -> Any:
    return rnd.choices([c for c, _ in choices], weights=[w for _, w in choices])[0]


def at(day: dt.date, minutes: int = 0) -> dt.datetime:
    """``day`` at 08:30 plus ``minutes``, in the site's time zone."""
    naive = dt.datetime.combine(day, dt.time(8, 30)) + dt.timedelta(minutes=minutes)
    return timezone.make_aware(naive, timezone.get_default_timezone())


def local_day(moment: dt.datetime) -> dt.date:
    return timezone.localtime(moment, timezone.get_default_timezone()).date()


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)


def read_maven(name: str) -> list[dict[str, str]]:
    with (MAVEN_DIR / name).open(newline="", encoding="utf-8") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def product_key(name: str) -> str:
    """The pipeline file writes "GTXPro" where products.csv writes "GTX Pro"."""
    return name.replace(" ", "").lower()


@contextmanager
def timestamps_as_given(model: type[models.Model]) -> Iterator[list[models.Field]]:
    """Let ``bulk_create`` keep the ``auto_now``/``auto_now_add`` values set on the objects, so
    demo records carry their historical dates rather than today's. The switch is on the model's
    fields, so for the process: only the demo loader uses it, which runs alone (a command, or a
    test's set-up)."""
    changed = []
    for f in model._meta.concrete_fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            changed.append((f, f.auto_now, f.auto_now_add))  # type: ignore[attr-defined]
            f.auto_now = f.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield [f for f, _, _ in changed]
    finally:
        for f, now, add in changed:
            f.auto_now, f.auto_now_add = now, add  # type: ignore[attr-defined]


def bulk_create(model: type[models.Model], objects: Iterable[Any]) -> list[Any]:
    """``bulk_create`` in batches, keeping the timestamps given (now where none is)."""
    objects = list(objects)
    if not objects:
        return objects
    with timestamps_as_given(model) as stamp_fields:
        fallback = timezone.now()
        for obj in objects:
            for f in stamp_fields:
                if getattr(obj, f.attname) is None:
                    setattr(obj, f.attname, fallback)
        model._default_manager.bulk_create(objects, batch_size=1000)
    return objects


def insert_rows(model: type[models.Model], columns: list[str], rows: list[tuple]) -> None:
    """Insert ``rows`` (values in ``columns`` order, ids for foreign keys) without model
    instances: for the stage history, tens of thousands of rows, where building and compiling
    instances costs several times the insert itself. PostgreSQL gets ``COPY``, other databases
    multi-row INSERTs."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    fields = [model._meta.get_field(c) for c in columns]
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)  # type: ignore[union-attr,arg-type]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            statement = f"COPY {quote(model._meta.db_table)} ({names}) FROM STDIN"
            with cursor.cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        return
    adapt = [
        (i, f)
        for i, f in enumerate(fields)
        if isinstance(f, models.DateTimeField | models.DateField | models.DecimalField)
    ]
    # Names from the model's metadata, quoted; the values go as parameters.
    head = f"INSERT INTO {quote(model._meta.db_table)} ({names}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = min(1000, (connection.features.max_query_params or 65535) // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            params: list[Any] = []
            for row in chunk:
                values = list(row)
                for i, f in adapt:
                    values[i] = f.get_db_prep_save(values[i], connection)
                params.extend(values)
            cursor.execute(head + ", ".join([one] * len(chunk)), params)


# --- the context the loaders share -------------------------------------------------------------


@dataclass
class DemoContext:
    """What one demo load knows: the org, the catalogue, the plan of every Maven deal, and the
    records found or created so far. ``created`` counts what this run created, by label."""

    by: Any
    agents: dict[str, Position]  # Maven agent name -> AE position
    positions: dict[int, Position]  # every position, by id
    pipeline: Pipeline | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)  # by product_key
    price_book: PriceBook | None = None
    prices: dict[int, Decimal] = field(default_factory=dict)  # product id -> book price
    deals: list[DealPlan] = field(default_factory=list)
    accounts: dict[str, Any] = field(default_factory=dict)  # Maven name -> Account
    contacts: dict[int, list[Any]] = field(default_factory=dict)  # account id -> contacts
    opportunities: dict[str, int] = field(default_factory=dict)  # external_id -> id
    campaigns: list[Any] = field(default_factory=list)
    created: dict[str, int] = field(default_factory=dict)

    def count(self, label: str, n: int) -> None:
        if n:
            self.created[label] = self.created.get(label, 0) + n

    def holder_id(self, position: Position | int | None) -> int | None:
        if position is None:
            return None
        pk = position if isinstance(position, int) else position.pk
        found = self.positions.get(pk)
        return found.holder_id if found is not None else None

    def price(self, product: Product) -> Decimal:
        return self.prices.get(product.pk, product.list_price)


# --- products and the price book ---------------------------------------------------------------


def products_load(ctx: DemoContext) -> None:
    rows = read_maven("products.csv")
    existing = {p.name: p for p in Product.objects.filter(name__in=[r["product"] for r in rows])}
    new = []
    for i, row in enumerate(rows):
        if row["product"] in existing:
            continue
        name = row["product"]
        new.append(
            Product(
                name=name,
                code=f"{row['series']}-{i + 1:02d}",
                series=row["series"],
                description=PRODUCT_DESCRIPTIONS.get(row["series"], ""),
                list_price=Decimal(row["sales_price"]),
                is_subscription=name in SUBSCRIPTIONS,
                term_months=12,
                external_id=name,
                created_at=at(DATASET_START),
                updated_at=at(DATASET_START),
            )
        )
    bulk_create(Product, new)
    ctx.count("products", len(new))
    for product in [*existing.values(), *new]:
        ctx.products[product_key(product.name)] = product

    book = PriceBook.objects.filter(name=PRICE_BOOK).first()
    if book is None:
        book = PriceBook.objects.create(
            name=PRICE_BOOK,
            is_default=not PriceBook.objects.filter(is_default=True).exists(),
            valid_from=DATASET_START,
        )
        ctx.count("price books", 1)
    have = set(book.entries.values_list("product_id", flat=True))
    entries = [
        PriceBookEntry(price_book=book, product=p, unit_price=p.list_price)
        for p in ctx.products.values()
        if p.pk not in have
    ]
    PriceBookEntry.objects.bulk_create(entries)
    ctx.price_book = book
    ctx.prices = dict(book.entries.values_list("product_id", "unit_price"))


def stages_of(pipeline: Pipeline) -> dict[str, Stage]:
    """The default pipeline's stages by role: its first five open stages (fewer if an admin
    removed some: the later roles fall back to the last one), its won and its lost stage."""
    stages = list(pipeline.stages.order_by("order", "id"))
    open_stages = [s for s in stages if s.kind == StageKind.OPEN]
    found = {key: open_stages[min(i, len(open_stages) - 1)] for i, key in enumerate(STAGE_KEYS)}
    found["won"] = next(s for s in stages if s.kind == StageKind.WON)
    found["lost"] = next(s for s in stages if s.kind == StageKind.LOST)
    return found


# --- the plan of each Maven deal ---------------------------------------------------------------


@dataclass
class DealPlan:
    opportunity_id: str
    agent: str
    product: str  # product_key
    account: str  # Maven account name, or ""
    outcome: str  # Prospecting, Engaging, Won, Lost
    engage: dt.date | None
    close: dt.date | None
    close_value: Decimal | None
    steps: list[tuple[str, dt.datetime]]  # (stage key, when), the first is the creation
    loss_reason: str = ""
    expected_close: dt.date | None = None
    competitor: str = ""
    pick: float = 0.0  # which contact of the account
    sample: float = 1.0  # < 0.1: the deal gets generated activities
    quote_pick: float = 1.0

    @property
    def created_at(self) -> dt.datetime:
        return self.steps[0][1]

    @property
    def status(self) -> str:
        return {"Won": OpportunityStatus.WON, "Lost": OpportunityStatus.LOST}.get(
            self.outcome, OpportunityStatus.OPEN
        )

    @property
    def stage(self) -> str:
        return self.steps[-1][0]

    def step_at(self, key: str) -> dt.datetime | None:
        return next((when for k, when in self.steps if k == key), None)


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


def _spread(rnd: random.Random, start: dt.date, end: dt.date, n: int) -> list[dt.date]:
    span = (end - start).days
    return [
        start + dt.timedelta(days=round(x * span))
        for x in sorted(rnd.uniform(0.1, 0.9) for _ in range(n))
    ]


def deal_plan(row: dict[str, str]) -> DealPlan:
    oid = row["opportunity_id"]
    rnd = rng("deal", oid)
    outcome = row["deal_stage"]
    engage, close = _date(row["engage_date"]), _date(row["close_date"])
    plan = DealPlan(
        opportunity_id=oid,
        agent=row["sales_agent"],
        product=product_key(row["product"]),
        account=row["account"],
        outcome=outcome,
        engage=engage,
        close=close,
        close_value=Decimal(row["close_value"]) if outcome == "Won" else None,
        steps=[],
    )
    if engage is None:
        created = DATASET_END - dt.timedelta(days=rnd.randrange(90))
    else:
        created = engage - dt.timedelta(days=rnd.randint(2, 20))
    days: list[tuple[str, dt.date]] = [("prospecting", created)]
    if engage is not None:
        days.append(("discovery", engage))
    middle: list[str] = []
    end: tuple[str, dt.date] | None = None
    if outcome == "Engaging":
        depth = weighted(rnd, [(0, 40), (1, 35), (2, 25)])
        middle = ["demo", "proposal"][:depth]
        horizon = min(DATASET_END, engage + dt.timedelta(days=90)) if engage else DATASET_END
    elif outcome == "Won" and close is not None:
        middle = ["demo", "proposal"] + (["negotiation"] if rnd.random() < 0.7 else [])
        horizon, end = close, ("won", close)
    elif outcome == "Lost" and close is not None:
        depth = weighted(rnd, [(0, 30), (1, 30), (2, 25), (3, 15)])
        middle = ["demo", "proposal", "negotiation"][:depth]
        horizon, end = close, ("lost", close)
        plan.loss_reason = weighted(rnd, LOSS_REASONS)
    if engage is not None and middle:
        days += list(zip(middle, _spread(rnd, engage, horizon, len(middle)), strict=True))
    if end is not None:
        days.append(end)
    previous: dt.datetime | None = None
    for key, day in days:
        when = at(day, rnd.randrange(540))
        if previous is not None and when <= previous:
            when = previous + dt.timedelta(minutes=17)
        plan.steps.append((key, when))
        previous = when
    if plan.status == OpportunityStatus.OPEN:
        plan.expected_close = DATASET_END + dt.timedelta(days=rnd.randint(10, 100))
    if plan.loss_reason == LossReason.COMPETITOR or (outcome == "Won" and rnd.random() < 0.1):
        plan.competitor = rnd.choice(COMPETITORS)
    plan.pick = rnd.random()
    plan.sample = rnd.random()
    plan.quote_pick = rnd.random()
    return plan


def deal_plans() -> list[DealPlan]:
    return [deal_plan(row) for row in read_maven("sales_pipeline.csv")]


# --- opportunities -----------------------------------------------------------------------------


def _name(plan: DealPlan, product: Product) -> str:
    if plan.account:
        return f"{plan.account}: {product.name}"
    return f"{product.name} deal {plan.opportunity_id}"


def opportunities_load(ctx: DemoContext) -> None:
    """The 8,800 Maven deals (those not there yet) with their stage history and competitors."""
    assert ctx.pipeline is not None
    ids = [d.opportunity_id for d in ctx.deals]
    existing = dict(
        Opportunity.objects.filter(external_id__in=ids, is_generated=False).values_list(
            "external_id", "id"
        )
    )
    new_plans = [d for d in ctx.deals if d.opportunity_id not in existing]
    opportunities = []
    for plan in new_plans:
        # Ids rather than instances: this loop makes thousands of objects.
        owner = ctx.agents[plan.agent]
        product = ctx.products[plan.product]
        stage = ctx.stages[plan.stage]
        account = ctx.accounts.get(plan.account) if plan.account else None
        contacts = ctx.contacts.get(account.pk, []) if account is not None else []
        amount = plan.close_value if plan.close_value is not None else ctx.price(product)
        opportunities.append(
            Opportunity(
                owner_position_id=owner.pk,
                name=_name(plan, product),
                external_id=plan.opportunity_id,
                type=OpportunityType.NEW_BUSINESS,
                account_id=account.pk if account is not None else None,
                contact_id=contacts[int(plan.pick * len(contacts))].pk if contacts else None,
                pipeline_id=ctx.pipeline.pk,
                stage_id=stage.pk,
                status=plan.status,
                amount=amount,
                close_date=plan.close or plan.expected_close,
                probability=stage.probability,
                forecast_category=stage.forecast_category,
                next_step=NEXT_STEPS.get(plan.stage, "") if plan.status == "open" else "",
                product_id=product.pk,
                loss_reason=plan.loss_reason,
                loss_note=GENERATED_NOTE if plan.loss_reason else "",
                engaged_on=plan.engage,
                closed_on=plan.close,
                stage_entered_at=plan.steps[-1][1],
                created_by_id=owner.holder_id,
                created_at=plan.created_at,
                updated_at=plan.steps[-1][1],
            )
        )
    bulk_create(Opportunity, opportunities)
    ctx.count("opportunities", len(opportunities))

    columns = [
        "opportunity",
        "from_stage",
        "to_stage",
        "changed_at",
        "changed_by",
        "amount",
        "probability",
        "owner_position",
        "advanced",
    ]
    changes: list[tuple] = []
    for plan, opportunity in zip(new_plans, opportunities, strict=True):
        list_price = ctx.price(ctx.products[plan.product])
        owner = ctx.agents[plan.agent]
        previous = None
        for key, when in plan.steps:
            stage = ctx.stages[key]
            if stage == previous:  # a pipeline with fewer stages than the plan
                continue
            changes.append(
                (
                    opportunity.pk,
                    previous.pk if previous is not None else None,
                    stage.pk,
                    when,
                    owner.holder_id,
                    opportunity.amount if key == "won" else list_price,
                    stage.probability,
                    owner.pk,
                    False,  # worked out below, with the rest of the history
                )
            )
            previous = stage
    insert_rows(StageChange, columns, changes)
    stage_changes_mark_advanced(opportunity_ids=[o.pk for o in opportunities])
    ctx.count("stage changes", len(changes))

    rivals = {}
    for name in COMPETITORS:
        rivals[name], made = Competitor.objects.get_or_create(
            name=name, defaults={"notes": "Invented for the demo."}
        )
        ctx.count("competitors", int(made))
    through = Opportunity.competitors.through
    through.objects.bulk_create(
        through(opportunity_id=o.pk, competitor_id=rivals[p.competitor].pk)
        for p, o in zip(new_plans, opportunities, strict=True)
        if p.competitor
    )
    ctx.opportunities = {**existing, **{o.external_id: o.pk for o in opportunities}}


# --- renewals ----------------------------------------------------------------------------------


def renewals_generate(ctx: DemoContext) -> None:
    """The renewal of each subscription deal won in the dataset's last quarter, opened when it
    was won (as closing a deal won does) and due a term later."""
    plans = [
        d
        for d in ctx.deals
        if d.outcome == "Won"
        and d.close is not None
        and d.close >= RENEWALS_FROM
        and ctx.products[d.product].is_subscription
        and d.opportunity_id in ctx.opportunities
    ]
    wanted = {f"{d.opportunity_id}-renewal": d for d in plans}
    have = set(
        Opportunity.objects.filter(external_id__in=list(wanted)).values_list(
            "external_id", flat=True
        )
    )
    originals = Opportunity.objects.in_bulk(
        [ctx.opportunities[d.opportunity_id] for key, d in wanted.items() if key not in have]
    )
    first = ctx.stages["prospecting"]
    renewals = []
    for key, plan in wanted.items():
        if key in have:
            continue
        won = originals[ctx.opportunities[plan.opportunity_id]]
        product = ctx.products[plan.product]
        assert plan.close is not None
        due = add_months(plan.close, product.term_months)
        opened = plan.steps[-1][1] + dt.timedelta(minutes=1)
        renewals.append(
            Opportunity(
                owner_position_id=won.owner_position_id,
                name=f"{plan.account} renewal {due:%Y-%m}",
                external_id=key,
                type=OpportunityType.RENEWAL,
                account_id=won.account_id,
                contact_id=won.contact_id,
                pipeline=ctx.pipeline,
                stage=first,
                status=OpportunityStatus.OPEN,
                amount=won.amount,
                close_date=due,
                probability=first.probability,
                forecast_category=first.forecast_category,
                next_step="Check usage and plan the renewal call",
                product=product,
                term_months=product.term_months,
                renewal_of_id=won.pk,
                stage_entered_at=opened,
                created_by_id=ctx.holder_id(won.owner_position_id),
                is_generated=True,
                created_at=opened,
                updated_at=opened,
            )
        )
    bulk_create(Opportunity, renewals)
    bulk_create(
        StageChange,
        [
            StageChange(
                opportunity=r,
                from_stage=None,
                to_stage=first,
                changed_at=r.created_at,
                changed_by_id=r.created_by_id,
                amount=r.amount,
                probability=first.probability,
                owner_position_id=r.owner_position_id,
            )
            for r in renewals
        ],
    )
    ctx.count("renewals", len(renewals))


# --- quotes ------------------------------------------------------------------------------------


@dataclass
class _QuotePlan:
    plan: DealPlan
    status: str
    created: dt.datetime
    discount: Decimal  # on the whole quote
    unit_price: Decimal | None = None  # None: the book price


def _quote_plans(ctx: DemoContext) -> list[_QuotePlan]:
    """Which deals get a quote, and in what state: accepted on a sample of won deals that went
    through negotiation, declined on lost ones, and every state on open deals in proposal."""
    out = []
    pending = 0
    for plan in ctx.deals:
        if plan.opportunity_id not in ctx.opportunities:
            continue
        rnd = rng("quote", plan.opportunity_id)
        proposal = plan.step_at("proposal")
        negotiation = plan.step_at("negotiation")
        if plan.outcome == "Won" and negotiation and plan.quote_pick < 0.08:
            out.append(
                _QuotePlan(
                    plan,
                    QuoteStatus.ACCEPTED,
                    proposal or negotiation,
                    Decimal(0),
                    unit_price=plan.close_value,
                )
            )
        elif plan.outcome == "Lost" and negotiation and plan.quote_pick < 0.25:
            discount = Decimal(rnd.choice([0, 0, 5, 8, 10]))
            out.append(_QuotePlan(plan, QuoteStatus.DECLINED, proposal or negotiation, discount))
        elif plan.outcome == "Engaging" and plan.stage == "proposal" and plan.quote_pick < 0.35:
            assert proposal is not None
            status = weighted(
                rnd,
                [
                    (QuoteStatus.DRAFT, 25),
                    (QuoteStatus.APPROVED, 15),
                    (QuoteStatus.SENT, 45),
                    (QuoteStatus.PENDING_APPROVAL, 12),
                    (QuoteStatus.REJECTED, 3),
                ],
            )
            if status == QuoteStatus.PENDING_APPROVAL:
                pending += 1
                if pending > 12:  # a handful is enough for the approval queues
                    status = QuoteStatus.SENT
            if status in (QuoteStatus.PENDING_APPROVAL, QuoteStatus.REJECTED):
                discount = Decimal(rnd.choice([12, 15, 15, 18, 22, 25]))
            else:
                discount = Decimal(rnd.choice([0, 0, 0, 5, 7, 10]))
            out.append(_QuotePlan(plan, status, proposal, discount))
    return out


def quotes_generate(ctx: DemoContext) -> None:
    if Quote.objects.filter(is_generated=True).exists():
        return
    from revline.pipeline.quoting import discount_policy, quote_approvers

    assert ctx.price_book is not None
    policy = discount_policy()
    plans = _quote_plans(ctx)
    opportunities = Opportunity.objects.in_bulk(
        [ctx.opportunities[q.plan.opportunity_id] for q in plans]
    )
    quotes, lines, approvals = [], [], []
    for i, q in enumerate(plans):
        opportunity = opportunities[ctx.opportunities[q.plan.opportunity_id]]
        product = ctx.products[q.plan.product]
        list_price = ctx.price(product)
        unit_price = cents(q.unit_price if q.unit_price is not None else list_price)
        subtotal = unit_price
        total = cents(subtotal * (1 - q.discount / HUNDRED))
        effective = cents((1 - total / list_price) * HUNDRED)
        sent = q.created + dt.timedelta(hours=26)
        quote = Quote(
            owner_position_id=opportunity.owner_position_id,
            opportunity=opportunity,
            number=f"Q-demo-{i}",
            status=q.status,
            price_book=ctx.price_book,
            discount_percent=q.discount,
            subtotal=subtotal,
            total=total,
            effective_discount=effective,
            valid_until=local_day(q.created) + dt.timedelta(days=30),
            terms="Net 30. Prices in USD, delivery included.",
            sent_at=sent
            if q.status in (QuoteStatus.SENT, QuoteStatus.ACCEPTED, QuoteStatus.DECLINED)
            else None,
            created_by_id=ctx.holder_id(opportunity.owner_position_id),
            is_generated=True,
            created_at=q.created + dt.timedelta(minutes=40),
            updated_at=q.plan.steps[-1][1] if q.plan.status != "open" else sent,
        )
        quotes.append(quote)
        lines.append(
            QuoteLine(
                quote=quote,
                product=product,
                description=product.description,
                quantity=Decimal(1),
                list_price=list_price,
                unit_price=unit_price,
                discount_percent=Decimal(0),
                line_total=unit_price,
                order=1,
            )
        )
        if effective <= policy.manager_threshold or q.status == QuoteStatus.DRAFT:
            continue
        owner = ctx.positions[opportunity.owner_position_id]
        steps = quote_approvers(owner_position=owner, discount=effective, policy=policy)
        for step, (level, approver) in enumerate(steps, start=1):
            last = step == len(steps)
            status = ApprovalStatus.APPROVED
            if last and q.status == QuoteStatus.PENDING_APPROVAL:
                status = ApprovalStatus.PENDING
            elif last and q.status == QuoteStatus.REJECTED:
                status = ApprovalStatus.REJECTED
            decided = q.created + dt.timedelta(hours=3 * step)
            approvals.append(
                ApprovalRequest(
                    quote=quote,
                    level=level,
                    step=step,
                    approver_position=approver,
                    status=status,
                    discount_percent=effective,
                    decided_by_id=None if status == ApprovalStatus.PENDING else approver.holder_id,
                    decided_at=None if status == ApprovalStatus.PENDING else decided,
                    comment={
                        ApprovalStatus.REJECTED: "Too deep for this deal; come back at 10%.",
                        ApprovalStatus.APPROVED: "OK for this customer."
                        if level == ApprovalLevel.VP
                        else "Approved.",
                    }.get(status, ""),
                    created_at=q.created + dt.timedelta(hours=1),
                    updated_at=decided,
                )
            )
    bulk_create(Quote, quotes)
    for quote in quotes:  # numbered like quote_create does: Q-<the first version's id>
        quote.number = f"Q-{quote.pk:06d}"
    Quote.objects.bulk_update(quotes, ["number"], batch_size=500)
    for line in lines:
        line.quote_id = line.quote.pk
    for approval in approvals:
        approval.quote_id = approval.quote.pk
    bulk_create(QuoteLine, lines)
    bulk_create(ApprovalRequest, approvals)
    ctx.count("quotes", len(quotes))
