"""The catalogue of capabilities (screens) and KPIs that role responsibilities link to.

A capability names the screen that serves a responsibility; ``url`` is the URL name once the
screen exists, or None while it is still planned (the cockpit then says so rather than link to
nothing). KPI definitions and their computation arrive with the analytics app; until then a KPI
here is a name, a unit and a definition in words, and the cockpit shows it as not yet measured.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Capability:
    key: str
    label: str
    url: str | None = None


@dataclass(frozen=True)
class Kpi:
    key: str
    name: str
    unit: str
    definition: str


CAPABILITIES = {
    c.key: c
    for c in [
        Capability("org.chart", "Org chart", "web:org_chart"),
        Capability("org.admin", "Organisation admin", "web:org_admin"),
        Capability("org.templates", "Role templates", "web:role_templates"),
        Capability("system.status", "System status", "web:system_status"),
        Capability("crm.accounts", "Accounts", "web:accounts"),
        Capability("crm.contacts", "Contacts", "web:contacts"),
        Capability("crm.leads", "Leads", "web:leads"),
        Capability("crm.prospect_lists", "Prospect lists", "web:prospect_lists"),
        Capability("crm.lead_queue", "SDR lead queue", "web:lead_queue"),
        Capability("crm.handoff", "SQL hand-off", "web:handoff"),
        Capability("crm.complaints", "Complaints", "web:complaints"),
        Capability("crm.surveys", "Satisfaction surveys", "web:surveys"),
        Capability("crm.cross_sell", "Cross-sell candidates"),
        Capability("pipeline.board", "Pipeline board", "web:board"),
        Capability("pipeline.opportunities", "Opportunities", "web:opportunities"),
        Capability("pipeline.quotes", "Quotes and approvals", "web:approvals"),
        Capability("pipeline.renewals", "Renewals", "web:renewals"),
        Capability("pipeline.competitors", "Competitors and win/loss", "web:competitors"),
        Capability("planning.quotas", "Quotas"),
        Capability("planning.targets", "Targets"),
        Capability("planning.budgets", "Budgets"),
        Capability("planning.forecast", "Forecast"),
        Capability("analytics.kpis", "KPI dashboard"),
        Capability("analytics.strategy", "Strategy review"),
        Capability("scoring.leads", "Lead scoring"),
        Capability("outreach.sequences", "Outreach sequences"),
        Capability("outreach.campaigns", "Campaigns"),
        Capability("rooms.rooms", "Digital sales rooms"),
        Capability("rooms.content", "Content library"),
        Capability("rooms.scripts", "Script generator"),
        Capability("coaching.tasks", "Tasks and deadlines"),
        Capability("coaching.coaching", "Coaching and onboarding"),
        Capability("coaching.reviews", "Performance reviews"),
    ]
}

KPIS = {
    k.key: k
    for k in [
        Kpi(
            "stage_conversion",
            "Conversion rate by stage",
            "ratio",
            "Share of opportunities entering a stage that reach the next one.",
        ),
        Kpi("avg_deal_size", "Average deal size", "money", "Mean amount of deals won."),
        Kpi(
            "sales_cycle_median_days",
            "Sales cycle length",
            "days",
            "Median days from engagement to close of deals won.",
        ),
        Kpi("win_rate", "Win rate", "ratio", "Won / (won + lost) among deals closed."),
        Kpi("bookings", "Bookings", "money", "Sum of the amounts of deals won."),
        Kpi(
            "bookings_by_type",
            "Bookings by type",
            "money",
            "Bookings split into new business, renewal, upsell and cross-sell.",
        ),
        Kpi("pipeline_coverage", "Pipeline coverage", "ratio", "Open pipeline / remaining quota."),
        Kpi(
            "campaign_roi",
            "Campaign ROI",
            "ratio",
            "(Revenue attributed to campaign-sourced leads - cost) / cost.",
        ),
        Kpi("sdr_output", "SDR output", "count", "SQLs handed over and SQL -> opportunity rate."),
        Kpi("renewal_rate", "Renewal rate", "ratio", "Renewals won / renewals due."),
        Kpi(
            "net_revenue_retention",
            "Net revenue retention",
            "ratio",
            "Recurring revenue from existing customers now / a year ago.",
        ),
        Kpi("target_vs_actual", "Target vs actual", "ratio", "Bookings / target per team."),
        Kpi("budget_vs_spend", "Budget vs spend", "money", "Spend recorded against each budget."),
        Kpi(
            "competitor_win_loss",
            "Win/loss by competitor",
            "ratio",
            "Win rate of deals where each competitor was present.",
        ),
        Kpi("segment_growth", "Segment growth", "ratio", "Bookings growth per segment."),
        Kpi("quota_attainment", "Quota attainment", "ratio", "Bookings / quota for the period."),
        Kpi(
            "discounts",
            "Discounts given",
            "ratio",
            "Average discount and share of deals above the approval thresholds.",
        ),
        Kpi("open_complaints", "Open complaints", "count", "Open complaints and their age."),
        Kpi("task_completion", "Task completion", "ratio", "Tasks done by their due date."),
        Kpi("overdue_tasks", "Overdue tasks", "count", "Open tasks past their due date."),
        Kpi("activity_volume", "Team activity", "count", "Calls, emails and meetings logged."),
        Kpi("prospects_added", "Prospects added", "count", "Prospects added to lists."),
        Kpi("leads_generated", "Leads generated", "count", "Leads created from prospects."),
        Kpi("meetings_booked", "Meetings booked", "count", "Meetings booked with prospects."),
        Kpi("qualification_rate", "Qualification rate", "ratio", "Leads qualified / leads worked."),
        Kpi("speed_to_lead", "Speed to lead", "hours", "Time from lead creation to first touch."),
        Kpi(
            "sqls_handed_over", "SQLs handed over", "count", "Sales-qualified leads passed to AEs."
        ),
        Kpi(
            "sql_to_opportunity",
            "SQL -> opportunity rate",
            "ratio",
            "SQLs that became opportunities.",
        ),
        Kpi("csat_nps", "CSAT / NPS", "score", "Satisfaction and net promoter score."),
        Kpi("headcount", "Team size", "count", "Filled and vacant positions below you."),
    ]
}
