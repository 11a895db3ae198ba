"""The KPI registry: every number Revline measures, defined once, in words.

A ``Kpi`` names its key (stable: URLs, the API and role templates use it), the unit of its
value, its formula in words, the roles it serves and the responsibility it measures. Role
templates (``revline.org.role_catalog``) link responsibilities to these keys; the cockpit and the
KPI API read the definitions from here (``revline.core.catalog.KPIS`` is this dict).

``measured_by`` says which code computes the value: ``analytics`` (``revline.analytics.kpis``),
``org`` (the cockpit counts it from the organisation) or ``planning`` (needs the planning app's
targets or budgets; shown as not measured until that exists). docs/kpis.md is the same registry
for people.

Units: ``ratio`` (0-1), ``money`` (the org currency), ``days``, ``hours``, ``count``,
``percent`` (0-100) and ``score`` (CSAT 1-5, NPS -100..100).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from revline.org.choices import RoleType

R = RoleType
LEADERS = (R.CEO, R.CSO, R.CRO, R.VP_SALES)
SELLERS = (R.SALES_MANAGER, R.TEAM_LEAD, R.AE)


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    unit: str
    definition: str  # the formula in words
    roles: tuple[str, ...] = ()
    responsibility: str = ""  # what it measures, in the words of the role's responsibility
    measured_by: str = "analytics"
    parts: tuple[str, ...] = field(default=())  # the extra figures the value comes with

    @property
    def measured(self) -> bool:
        return self.measured_by == "analytics"


def _kpis(*items: Kpi) -> dict[str, Kpi]:
    return {k.key: k for k in items}


KPIS: dict[str, Kpi] = _kpis(
    # --- closed deals --------------------------------------------------------------------------
    Kpi(
        "win_rate",
        "Win rate",
        "ratio",
        "Won / (won + lost) among the deals closed in the period (closed_on in the range).",
        (*LEADERS, *SELLERS),
        "Close deals; evaluate the sales strategy",
        parts=("won", "lost"),
    ),
    Kpi(
        "deals_won",
        "Deals won",
        "count",
        "Number of deals closed won in the period.",
        (*LEADERS, *SELLERS),
        "Close deals",
    ),
    Kpi(
        "deals_lost",
        "Deals lost",
        "count",
        "Number of deals closed lost in the period.",
        (*LEADERS, *SELLERS),
        "Close deals",
    ),
    Kpi(
        "bookings",
        "Bookings",
        "money",
        "Sum of the amounts of the deals closed won in the period.",
        (*LEADERS, *SELLERS),
        "Review company performance; hit the number",
    ),
    Kpi(
        "avg_deal_size",
        "Average deal size",
        "money",
        "Mean amount of the deals closed won in the period (deals without an amount left out).",
        (*LEADERS, R.SALES_MANAGER, R.AE),
        "Close and oversee high-value deals",
    ),
    Kpi(
        "bookings_by_type",
        "Bookings by type",
        "money",
        "Bookings of the period split by opportunity type: new business, renewal, upsell and "
        "cross-sell. The value is the total; the parts give each type.",
        (R.CEO, R.CRO, R.VP_SALES),
        "Own new business, renewals, upsell and cross-sell",
        parts=("new_business", "renewal", "upsell", "cross_sell"),
    ),
    Kpi(
        "sales_cycle_median_days",
        "Sales cycle length",
        "days",
        "Median days from engagement (engaged_on; the creation day when there is none) to close "
        "of the deals closed won in the period.",
        (*LEADERS, R.SALES_MANAGER, R.AE),
        "Track sales cycle length",
        parts=("p75_days", "mean_days"),
    ),
    Kpi(
        "sales_cycle_p75_days",
        "Sales cycle length (75th percentile)",
        "days",
        "75th percentile (linear interpolation) of the days from engagement to close of the deals "
        "closed won in the period.",
        (R.CSO, R.VP_SALES, R.SALES_MANAGER),
        "Track sales cycle length",
    ),
    Kpi(
        "competitor_win_loss",
        "Win/loss by competitor",
        "ratio",
        "Win rate of the deals closed in the period where a competitor was named; the parts "
        "give won, lost and the win rate against each competitor.",
        (R.CSO, R.VP_SALES, R.SALES_MANAGER),
        "Monitor the market and competitors",
    ),
    Kpi(
        "segment_growth",
        "Segment growth",
        "ratio",
        "(Bookings in the period - bookings in the period of the same length just before) / the "
        "latter; break it down by sector or size for each segment.",
        (R.CSO, R.VP_SALES),
        "Find new opportunities; grow segments",
        parts=("current", "previous"),
    ),
    # --- the pipeline --------------------------------------------------------------------------
    Kpi(
        "stage_conversion",
        "Conversion rate by stage",
        "ratio",
        "Of the times deals entered an open stage in the period, the share that later moved on "
        "to a later stage or to closed won (from the stage history). The parts give each stage.",
        (R.CSO, R.VP_SALES, R.SALES_MANAGER),
        "Evaluate how well the strategy works",
        parts=("stages",),
    ),
    Kpi(
        "open_pipeline",
        "Open pipeline",
        "money",
        "Sum of the amounts of the open deals expected to close in the period (close_date in "
        "the range).",
        (*LEADERS, *SELLERS),
        "Keep pipeline coverage healthy",
    ),
    Kpi(
        "pipeline_coverage",
        "Pipeline coverage",
        "ratio",
        "Open pipeline expected to close in the period / remaining quota (the period's quota "
        "minus its bookings so far). None when no quota is set or it is already met.",
        (R.CRO, R.VP_SALES, R.SALES_MANAGER, R.AE),
        "Keep pipeline coverage healthy",
        parts=("open_pipeline", "quota", "bookings", "remaining_quota"),
    ),
    Kpi(
        "quota_attainment",
        "Quota attainment",
        "ratio",
        "Bookings in the period / the quota covering the period (planning quotas; the position's "
        "own quota where set, else the sum of its reports').",
        (R.VP_SALES, R.SALES_MANAGER, R.TEAM_LEAD, R.AE),
        "Set quotas and track trends",
        parts=("quota", "bookings"),
    ),
    # --- renewals and retention ----------------------------------------------------------------
    Kpi(
        "renewal_rate",
        "Renewal rate",
        "ratio",
        "Renewal opportunities due in the period (close_date in the range) that were won / all "
        "renewal opportunities due in the period.",
        (R.CRO, R.CUSTOMER_SUCCESS),
        "Protect renewals and retention",
        parts=("due", "won", "lost", "open"),
    ),
    Kpi(
        "net_revenue_retention",
        "Net revenue retention",
        "ratio",
        "Recurring bookings (deals with a term or a subscription product) won in the 12 months "
        "up to the period's end from the accounts that had recurring bookings in the 12 months "
        "before, / those accounts' recurring bookings in those earlier 12 months.",
        (R.CRO, R.CEO, R.CUSTOMER_SUCCESS),
        "Protect renewals and retention",
        parts=("current", "previous", "accounts"),
    ),
    # --- marketing ------------------------------------------------------------------------------
    Kpi(
        "campaign_roi",
        "Campaign ROI",
        "ratio",
        "(Won revenue attributed to the campaigns started in the period - their cost) / their "
        "cost. Last-touch: a won deal is credited to its own campaign, else to the latest "
        "campaign-sourced lead before it closed (its own lead, or a lead at its account); "
        "first-touch (in the parts): to the earliest such lead, else the deal's campaign. "
        "Revenue counts deals won by the period's end.",
        (R.CRO, R.MARKETING),
        "Run marketing operations and measure ROI",
        parts=("cost", "revenue_last_touch", "revenue_first_touch", "roi_first_touch"),
    ),
    # --- leads and hand-offs --------------------------------------------------------------------
    Kpi(
        "lead_conversion",
        "Lead -> SQL -> opportunity -> won",
        "ratio",
        "Of the leads created in the period: the share won (lead -> won); the parts give how "
        "many became sales-qualified (from the status history), how many became opportunities "
        "and how many of those were won, and each step's rate.",
        (R.CRO, R.CSO, R.MARKETING, R.SALES_MANAGER),
        "Evaluate the funnel from lead to revenue",
        parts=("leads", "sqls", "opportunities", "won", "lead_to_sql", "sql_to_opportunity"),
    ),
    Kpi(
        "speed_to_lead",
        "Speed to lead",
        "hours",
        "Median hours from a lead's creation to its first touch (first_touch_at), among the "
        "leads created in the period that were touched.",
        (R.SDR, R.BDR, R.CRO),
        "Contact new leads fast",
        parts=("p75_hours", "touched", "untouched"),
    ),
    Kpi(
        "qualification_rate",
        "Qualification rate",
        "ratio",
        "Of the leads first touched in the period, the share that became sales-qualified.",
        (R.SDR, R.SALES_MANAGER),
        "Qualify leads for sales readiness",
        parts=("worked", "qualified"),
    ),
    Kpi(
        "sqls_handed_over",
        "SQLs handed over",
        "count",
        "Leads that became sales-qualified in the period (status history), counted once each.",
        (R.SDR, R.CRO, R.SALES_MANAGER),
        "Hand qualified leads to AEs",
    ),
    Kpi(
        "sql_to_opportunity",
        "SQL -> opportunity rate",
        "ratio",
        "Of the leads that became sales-qualified in the period, the share converted into an "
        "opportunity.",
        (R.SDR, R.CRO, R.SALES_MANAGER),
        "Hand qualified leads to AEs",
        parts=("sqls", "opportunities"),
    ),
    Kpi(
        "sdr_output",
        "SDR output",
        "count",
        "SQLs handed over in the period (the value) with the SQL -> opportunity rate (a part).",
        (R.CRO, R.SALES_MANAGER, R.SDR),
        "Oversee SDR performance",
        parts=("sql_to_opportunity", "opportunities"),
    ),
    Kpi(
        "prospects_added",
        "Prospects added",
        "count",
        "Leads added to prospect lists in the period.",
        (R.BDR,),
        "Build prospect lists",
    ),
    Kpi(
        "leads_generated",
        "Leads generated",
        "count",
        "Leads created in the period that a BDR generated (generated_by set).",
        (R.BDR, R.CRO),
        "Generate leads by outbound prospecting",
    ),
    Kpi(
        "meetings_booked",
        "Meetings booked",
        "count",
        "Activities in the period whose outcome is 'meeting booked'.",
        (R.BDR, R.SDR),
        "Book meetings with prospects",
    ),
    Kpi(
        "bdr_output",
        "BDR output",
        "count",
        "Leads generated in the period (the value), with prospects added and meetings booked "
        "(parts).",
        (R.CRO, R.SALES_MANAGER),
        "Oversee BDR performance",
        parts=("prospects_added", "meetings_booked"),
    ),
    # --- activity and tasks ---------------------------------------------------------------------
    Kpi(
        "activity_volume",
        "Team activity",
        "count",
        "Calls, e-mails, meetings, discovery calls and demos logged in the period (occurred_at "
        "in the range); the parts count each kind.",
        (R.TEAM_LEAD, R.SALES_MANAGER, R.AE, R.SDR, R.BDR),
        "Keep the team informed and active",
    ),
    Kpi(
        "task_completion",
        "Task completion",
        "ratio",
        "Of the tasks due in the period, the share done by their due time.",
        (R.TEAM_LEAD, R.SALES_MANAGER),
        "Delegate tasks with deadlines",
        parts=("due", "done_on_time"),
    ),
    Kpi(
        "overdue_tasks",
        "Overdue tasks",
        "count",
        "Tasks not done at the period's end (or now, if sooner) whose due time has passed.",
        (R.TEAM_LEAD, R.SALES_MANAGER, R.AE),
        "Delegate tasks with deadlines",
    ),
    # --- discounts, complaints, satisfaction ----------------------------------------------------
    Kpi(
        "discounts",
        "Discounts given",
        "percent",
        "Average effective discount (against list prices, %) of the quotes sent in the period "
        "(sent, accepted or declined); the parts give the share above the manager's and the "
        "VP's approval thresholds (the discount policy).",
        (R.SALES_MANAGER, R.VP_SALES),
        "Manage discounts and quotes",
        parts=("quotes", "share_above_manager", "share_above_vp"),
    ),
    Kpi(
        "open_complaints",
        "Open complaints",
        "count",
        "Complaints raised by the period's end (or now, if sooner) and not resolved by then; "
        "the parts give their median and largest age in days.",
        (R.SALES_MANAGER, R.CUSTOMER_SUCCESS),
        "Handle complaints",
        parts=("median_age_days", "oldest_age_days"),
    ),
    Kpi(
        "csat",
        "CSAT",
        "score",
        "Mean CSAT answer (1-5) received in the period.",
        (R.CUSTOMER_SUCCESS, R.SALES_MANAGER),
        "Keep customers satisfied",
    ),
    Kpi(
        "nps",
        "NPS",
        "score",
        "% promoters (9-10) - % detractors (0-6) among the NPS answers received in the period.",
        (R.CUSTOMER_SUCCESS, R.CRO),
        "Keep customers satisfied",
    ),
    Kpi(
        "csat_nps",
        "CSAT / NPS",
        "score",
        "Mean CSAT answer (1-5) in the period; the NPS of the period is a part.",
        (R.CUSTOMER_SUCCESS, R.SALES_MANAGER),
        "Keep customers satisfied",
        parts=("nps", "csat_answers", "nps_answers"),
    ),
    # --- measured elsewhere ---------------------------------------------------------------------
    Kpi(
        "target_vs_actual",
        "Target vs actual",
        "ratio",
        "Bookings / target per team or region for the period.",
        (R.CEO, R.CRO, R.VP_SALES, R.CSO),
        "Set goals and targets",
        measured_by="planning",
    ),
    Kpi(
        "budget_vs_spend",
        "Budget vs spend",
        "money",
        "Spend recorded against each budget line of the period.",
        (R.VP_SALES,),
        "Manage the budget",
        measured_by="planning",
    ),
    Kpi(
        "headcount",
        "Team size",
        "count",
        "Filled and vacant positions below you.",
        (R.CEO, R.CSO, R.CRO, R.VP_SALES, R.SALES_MANAGER),
        "Hire, train and scale the team",
        measured_by="org",
    ),
)
