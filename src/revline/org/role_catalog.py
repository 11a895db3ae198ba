"""The default role templates: each role's responsibilities as the business defines them
(DESIGN.md §1), each linked to the screen that serves it and the KPI that measures it.

Loaded by ``revline demo`` and by the ``org`` data migration helper ``role_templates_install``;
admins edit them afterwards in the product (Organisation admin -> Role templates).
"""

from revline.org.choices import RoleType

# role -> (name, summary, [(title, description, capability, kpi), ...])
DEFAULT_ROLE_TEMPLATES: dict[str, tuple[str, str, list[tuple[str, str, str, str]]]] = {
    RoleType.CEO: (
        "CEO / Executive",
        "Read-only view of the whole company's revenue and organisation.",
        [
            (
                "Review company performance",
                "Bookings, pipeline and retention across regions.",
                "analytics.kpis",
                "bookings",
            ),
            (
                "Agree growth plans and financial targets",
                "With the CRO and the board.",
                "planning.targets",
                "target_vs_actual",
            ),
            ("Know the organisation", "Who leads which region and team.", "org.chart", "headcount"),
        ],
    ),
    RoleType.CSO: (
        "Chief Sales Officer",
        "Sets the sales strategy and oversees the VPs and managers who carry it out.",
        [
            (
                "Set the sales strategy",
                "Direction, segments and priorities for the sales team.",
                "analytics.strategy",
                "win_rate",
            ),
            (
                "Close and oversee high-value deals",
                "Stay close to the largest opportunities.",
                "pipeline.opportunities",
                "avg_deal_size",
            ),
            (
                "Evaluate how well the strategy works",
                "Conversion by stage, deal size and cycle length, over time and per region/segment.",
                "analytics.kpis",
                "stage_conversion",
            ),
            (
                "Oversee VPs and managers",
                "Their teams' results against target.",
                "org.chart",
                "target_vs_actual",
            ),
            (
                "Hire, train and scale the team",
                "Open positions and ramp of new hires.",
                "coaching.coaching",
                "headcount",
            ),
            (
                "Track sales cycle length",
                "How long deals take from engagement to close.",
                "analytics.kpis",
                "sales_cycle_median_days",
            ),
        ],
    ),
    RoleType.CRO: (
        "Chief Revenue Officer",
        "Owns the whole revenue cycle: new business, renewals, upsell and cross-sell.",
        [
            (
                "Own new business, renewals, upsell and cross-sell",
                "Bookings by type.",
                "analytics.kpis",
                "bookings_by_type",
            ),
            (
                "Keep pipeline coverage healthy",
                "Open pipeline against remaining quota.",
                "planning.forecast",
                "pipeline_coverage",
            ),
            (
                "Run marketing operations and measure ROI",
                "Campaign cost against the revenue it brings.",
                "outreach.campaigns",
                "campaign_roi",
            ),
            (
                "Oversee SDR performance",
                "SQLs handed to AEs and how many become deals.",
                "crm.handoff",
                "sdr_output",
            ),
            (
                "Protect renewals and retention",
                "Renewal rate and net revenue retention.",
                "pipeline.renewals",
                "net_revenue_retention",
            ),
            (
                "Plan growth and financial targets with the CEO and board",
                "Targets per region and team.",
                "planning.targets",
                "target_vs_actual",
            ),
            (
                "Keep functions talking to each other",
                "Sales, marketing and customer success.",
                "org.chart",
                "headcount",
            ),
        ],
    ),
    RoleType.VP_SALES: (
        "VP of Sales",
        "Runs a region's sales team; reports to the CSO, the CRO or the CEO.",
        [
            (
                "Set goals, targets and budgets for the team",
                "Per team and period.",
                "planning.targets",
                "target_vs_actual",
            ),
            (
                "Manage the budget",
                "Spend against each budget line.",
                "planning.budgets",
                "budget_vs_spend",
            ),
            (
                "Monitor the market and competitors",
                "Win/loss against each competitor.",
                "pipeline.competitors",
                "competitor_win_loss",
            ),
            ("Find new opportunities", "Segments that grow.", "analytics.kpis", "segment_growth"),
            (
                "Handle large transactions",
                "Approve and steer the biggest deals.",
                "pipeline.quotes",
                "avg_deal_size",
            ),
            (
                "Review performance",
                "Managers' and reps' results.",
                "coaching.reviews",
                "quota_attainment",
            ),
        ],
    ),
    RoleType.SALES_MANAGER: (
        "Sales Manager",
        "Sets quotas, tracks trends and coaches a team of account executives.",
        [
            (
                "Set quotas and track trends",
                "Attainment per rep and its trend.",
                "planning.quotas",
                "quota_attainment",
            ),
            (
                "Plan and analyse data",
                "The team's pipeline and forecast.",
                "planning.forecast",
                "pipeline_coverage",
            ),
            (
                "Train the team",
                "Coaching plans and onboarding.",
                "coaching.coaching",
                "quota_attainment",
            ),
            (
                "Approve discounts and quotes",
                "Discount statistics and approval queue.",
                "pipeline.quotes",
                "discounts",
            ),
            (
                "Handle complaints",
                "Open complaints and their age.",
                "crm.complaints",
                "open_complaints",
            ),
            (
                "Manage budget and statistics",
                "Spend and team statistics.",
                "planning.budgets",
                "budget_vs_spend",
            ),
            (
                "Review lead scores and how they convert",
                "The team's score distribution and how scored leads actually converted.",
                "scoring.leads",
                "lead_conversion",
            ),
        ],
    ),
    RoleType.TEAM_LEAD: (
        "Sales Team Lead",
        "Helps the manager carry out the strategy and keeps the team informed and coached.",
        [
            (
                "Implement the strategy with the manager",
                "Turn plans into the team's work.",
                "coaching.tasks",
                "task_completion",
            ),
            (
                "Keep the team informed",
                "Products, market and competition.",
                "rooms.content",
                "activity_volume",
            ),
            (
                "Recruit, train and coach",
                "Onboarding and coaching sessions.",
                "coaching.coaching",
                "activity_volume",
            ),
            (
                "Delegate tasks with deadlines",
                "Who does what by when.",
                "coaching.tasks",
                "overdue_tasks",
            ),
            (
                "Report progress",
                "The team's activity and results.",
                "analytics.kpis",
                "activity_volume",
            ),
        ],
    ),
    RoleType.AE: (
        "Account Executive",
        "Runs the sales process from discovery to close with new and existing customers.",
        [
            (
                "Run the sales process",
                "Own pipeline from discovery to close.",
                "pipeline.board",
                "win_rate",
            ),
            (
                "Hold discovery calls and demos",
                "Meetings logged on each deal.",
                "pipeline.opportunities",
                "activity_volume",
            ),
            (
                "Handle objections",
                "Objections raised and how they were answered.",
                "rooms.scripts",
                "win_rate",
            ),
            ("Negotiate terms", "Quotes, discounts and approvals.", "pipeline.quotes", "discounts"),
            (
                "Close deals with new and existing customers",
                "Quota attainment and cycle length.",
                "planning.quotas",
                "quota_attainment",
            ),
            (
                "Keep the sales cycle short",
                "Days from engagement to close.",
                "pipeline.opportunities",
                "sales_cycle_median_days",
            ),
            (
                "Renew and grow your customers",
                "Renewals as terms end, upsell and cross-sell.",
                "pipeline.renewals",
                "renewal_rate",
            ),
        ],
    ),
    RoleType.BDR: (
        "Business Development Rep",
        "Outbound prospecting: builds prospect lists and generates leads.",
        [
            (
                "Prospect outbound",
                "Sequences to new prospects.",
                "outreach.sequences",
                "meetings_booked",
            ),
            (
                "Build prospect lists",
                "By search, import or rule.",
                "crm.prospect_lists",
                "prospects_added",
            ),
            (
                "Generate leads",
                "Prospects who engage become leads.",
                "crm.leads",
                "leads_generated",
            ),
            (
                "Cross-sell and upsell to existing customers",
                "Customers lacking a product.",
                "crm.cross_sell",
                "leads_generated",
            ),
        ],
    ),
    RoleType.SDR: (
        "Sales Development Rep",
        "Works the leads BDRs and marketing generate, qualifies them and hands SQLs to AEs.",
        [
            (
                "Contact and qualify leads",
                "First touch quickly, then BANT.",
                "crm.lead_queue",
                "qualification_rate",
            ),
            (
                "Respond fast",
                "Time from lead creation to first touch.",
                "crm.lead_queue",
                "speed_to_lead",
            ),
            (
                "Score leads for sales readiness",
                "Predictive and fit scores.",
                "scoring.leads",
                "qualification_rate",
            ),
            (
                "Hand qualified leads to AEs",
                "SQLs handed over and how many become deals.",
                "crm.handoff",
                "sql_to_opportunity",
            ),
        ],
    ),
    RoleType.MARKETING: (
        "Marketing",
        "Runs campaigns that bring inbound leads and measures what they return.",
        [
            (
                "Run campaigns",
                "Campaigns as lead sources, with their cost.",
                "outreach.campaigns",
                "campaign_roi",
            ),
            (
                "Generate inbound leads",
                "Web forms, campaigns and referrals.",
                "crm.leads",
                "leads_generated",
            ),
        ],
    ),
    RoleType.CUSTOMER_SUCCESS: (
        "Customer Success",
        "Keeps customers: renewals, complaints and satisfaction.",
        [
            (
                "Secure renewals",
                "Renewal opportunities as terms end.",
                "pipeline.renewals",
                "renewal_rate",
            ),
            (
                "Resolve complaints",
                "Open complaints and their age.",
                "crm.complaints",
                "open_complaints",
            ),
            ("Measure satisfaction", "CSAT and NPS per account.", "crm.surveys", "csat_nps"),
        ],
    ),
    RoleType.REVOPS: (
        "RevOps / Admin",
        "Configures Revline: the organisation, roles, pipelines and data.",
        [
            (
                "Build and reorganise the hierarchy",
                "Positions, reporting lines, teams, regions.",
                "org.admin",
                "headcount",
            ),
            (
                "Maintain role templates",
                "Responsibilities, screens and KPIs per role.",
                "org.templates",
                "",
            ),
            ("Keep the system healthy", "Workers and background jobs.", "system.status", ""),
            (
                "Run lead scoring",
                "Train and evaluate the model, review flagged fields, keep the ideal customer "
                "profile.",
                "scoring.leads",
                "",
            ),
        ],
    ),
}
