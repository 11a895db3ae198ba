"""The catalogue of capabilities (screens) and KPIs that role responsibilities link to.

A capability names the screen that serves a responsibility; ``url`` is the URL name once the
screen exists, or None while it is still planned (the cockpit then says so rather than link to
nothing). The KPI registry lives with its computation in ``revline.analytics.registry``
(key, name, unit, formula in words, roles, responsibility); ``KPIS`` and ``Kpi`` are re-exported
here for the role templates and the cockpit.
"""

from dataclasses import dataclass

from revline.analytics.registry import KPIS, Kpi

__all__ = ["CAPABILITIES", "KPIS", "Capability", "Kpi"]


@dataclass(frozen=True)
class Capability:
    key: str
    label: str
    url: str | None = None


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
        Capability("planning.quotas", "Quotas", "web:planning_quotas"),
        Capability("planning.targets", "Targets", "web:planning_targets"),
        Capability("planning.budgets", "Budgets", "web:planning_budgets"),
        Capability("planning.forecast", "Forecast", "web:planning_forecast"),
        Capability("analytics.kpis", "KPI dashboard", "web:kpis"),
        Capability("analytics.strategy", "Strategy review"),
        Capability("scoring.leads", "Lead scoring", "web:scoring"),
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
