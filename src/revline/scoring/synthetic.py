"""Generated leads whose chance of converting is known, for tests and benchmarks.

Each lead gets firmographics (sector, employees, revenue, country, a job title from a few
hundred), a source, custom fields of every kind (a visit count, time on site with gaps, a
yes/no, a plan of interest, a segment code with hundreds of values, and a free-text note that
is different on every lead) and, when ``dated``, a creation date over two years. Its true
probability is a fixed nonlinear function of those values; its outcome, when ``labelled``, is
drawn from that probability. Nothing here is tuned to the model: the function only has to be
learnable and not trivially linear.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from revline.crm.choices import CustomFieldType, LeadSource, LeadStatus
from revline.crm.models import CustomFieldDefinition, Lead
from revline.org.models import Position

SECTORS = (
    "Software", "Manufacturing", "Retail", "Healthcare", "Finance", "Education", "Logistics",
    "Energy", "Media", "Public sector", "Telecom", "Hospitality",
)  # fmt: skip
SECTOR_EFFECT = (0.9, 0.3, -0.4, 0.5, 0.7, -0.8, 0.0, 0.2, -0.2, -0.6, 0.4, -0.3)
COUNTRIES = tuple(f"Country {i:02d}" for i in range(25))
SENIORITY = ("Intern", "Assistant", "Specialist", "Manager", "Senior Manager", "Director",
             "Head", "VP", "Chief")  # fmt: skip
SENIORITY_EFFECT = (-1.2, -0.8, -0.3, 0.0, 0.2, 0.5, 0.6, 0.8, 0.4)
FUNCTIONS = (
    "Sales", "Marketing", "Operations", "Finance", "IT", "Engineering", "Procurement", "HR",
    "Legal", "Product", "Support", "Data", "Security", "Facilities", "Strategy", "Growth",
    "Partnerships", "Analytics", "Design", "Research", "Communications", "Logistics", "Quality",
    "Compliance", "Training", "Revenue", "Customer Success", "Platform", "Infrastructure",
    "Mobile",
)  # fmt: skip
SOURCES = (LeadSource.WEB, LeadSource.OUTBOUND, LeadSource.EVENT, LeadSource.PARTNER,
           LeadSource.REFERRAL, LeadSource.CAMPAIGN)  # fmt: skip
SOURCE_EFFECT = (0.2, -0.7, 0.1, 0.4, 1.0, 0.0)
PLANS = ("Basic", "Pro", "Enterprise")
PLAN_EFFECT = (-0.3, 0.3, 0.7)
CUSTOM_FIELDS = (
    ("visits", "Visits", CustomFieldType.INTEGER),
    ("time_on_site", "Time on site", CustomFieldType.NUMBER),
    ("webinar", "Attended a webinar", CustomFieldType.BOOLEAN),
    ("plan", "Plan of interest", CustomFieldType.TEXT),
    ("segment", "Segment code", CustomFieldType.TEXT),
    ("note", "Note", CustomFieldType.TEXT),
)


def ensure_custom_fields() -> None:
    for key, label, kind in CUSTOM_FIELDS:
        CustomFieldDefinition.objects.get_or_create(
            entity="lead", key=key, defaults={"label": label, "field_type": kind}
        )


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def sample(n: int, *, seed: int = 1) -> tuple[list[dict[str, Any]], np.ndarray]:
    """``n`` leads' values (keyword arguments of ``Lead``) and their true probabilities."""
    rng = np.random.default_rng(seed)
    sector = rng.integers(0, len(SECTORS), n)
    employees = np.rint(np.exp(rng.normal(4.5, 1.6, n))).astype(int) + 1
    revenue = employees * np.exp(rng.normal(11.5, 0.6, n))
    revenue_missing = rng.random(n) < 0.3
    country = np.minimum(rng.zipf(1.6, n) - 1, len(COUNTRIES) - 1)
    seniority = rng.integers(0, len(SENIORITY), n)
    function = rng.integers(0, len(FUNCTIONS), n)
    source = rng.integers(0, len(SOURCES), n)
    visits = rng.poisson(2.5, n)
    time_on_site = rng.gamma(2.0, 300.0, n) * (1 + 0.3 * visits)
    time_missing = rng.random(n) < 0.08
    webinar = rng.random(n) < 0.2
    plan = rng.integers(-1, len(PLANS), n)  # -1: not given
    segment = rng.integers(0, 600, n)
    segment_effect = np.random.default_rng(99).normal(0, 0.4, 600)

    size = np.log10(employees)
    logit = (
        -1.4
        + np.asarray(SECTOR_EFFECT)[sector]
        + 0.9 * np.exp(-((size - 2.5) ** 2))  # mid-size companies fit best
        + np.asarray(SENIORITY_EFFECT)[seniority]
        + np.asarray(SOURCE_EFFECT)[source]
        + 0.25 * np.minimum(visits, 6)
        + np.where(time_missing, -0.3, 0.9 * np.tanh((time_on_site - 600) / 600))
        + 0.6 * webinar
        + np.where(plan >= 0, np.asarray(PLAN_EFFECT)[np.maximum(plan, 0)], -0.2)
        + segment_effect[segment]
        + np.where(country < 3, 0.3, 0.0)
        + 0.4 * webinar * (seniority >= 5)
    )
    p = _sigmoid(logit)
    rows = []
    for i in range(n):
        custom: dict[str, Any] = {
            "visits": int(visits[i]),
            "webinar": bool(webinar[i]),
            "segment": f"S{segment[i]:03d}",
            "note": f"note {seed}-{i}",
        }
        if not time_missing[i]:
            custom["time_on_site"] = round(float(time_on_site[i]), 1)
        if plan[i] >= 0:
            custom["plan"] = PLANS[plan[i]]
        rows.append(
            {
                "last_name": f"Generated {i}",
                "company": f"Company {seed}-{i}",
                "sector": SECTORS[sector[i]],
                "employees": int(employees[i]),
                "annual_revenue": None if revenue_missing[i] else round(float(revenue[i]), 2),
                "country": COUNTRIES[country[i]],
                "title": f"{SENIORITY[seniority[i]]} of {FUNCTIONS[function[i]]}",
                "source": SOURCES[source[i]],
                "custom": custom,
            }
        )
    return rows, p


@transaction.atomic
def generate_leads(
    *,
    n: int,
    owner: Position,
    source_name: str,
    seed: int = 1,
    labelled: bool = True,
    dated: bool = True,
    now: dt.datetime | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Create ``n`` generated leads (outcomes drawn when ``labelled``, open otherwise) and
    return (their ids, their true probabilities)."""
    ensure_custom_fields()
    rows, p = sample(n, seed=seed)
    rng = np.random.default_rng(seed + 1)
    outcome = rng.random(n) < p
    now = now or timezone.now()
    age = rng.uniform(0, 730, n) if dated else np.zeros(n)
    leads: list[Lead] = []
    dates: list[dt.datetime] = []
    for i, values in enumerate(rows):
        created = now - dt.timedelta(days=float(age[i]))
        lead = Lead(
            owner_position=owner,
            source_name=source_name,
            is_generated=True,
            external_id=f"{source_name}-{seed}-{i}",
            **values,
        )
        if labelled:
            lead.outcome = bool(outcome[i])
            lead.status = LeadStatus.CONVERTED if outcome[i] else LeadStatus.DISQUALIFIED
            if outcome[i]:
                lead.converted_at = created
        leads.append(lead)
        dates.append(created)
    created_leads = Lead.objects.bulk_create(leads, batch_size=2000)
    ids = np.array([lead.pk for lead in created_leads], dtype=np.int64)
    if dated:  # auto_now_add wrote "now": set the generated dates
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            cursor.executemany(
                f"UPDATE {Lead._meta.db_table} SET created_at = %s WHERE id = %s",  # noqa: S608
                [(adapt(at), lead.pk) for at, lead in zip(dates, created_leads, strict=True)],
            )
    return ids, p
