from django.db import models


class RoleType(models.TextChoices):
    CEO = "ceo", "CEO / Executive"
    CSO = "cso", "Chief Sales Officer"
    CRO = "cro", "Chief Revenue Officer"
    VP_SALES = "vp_sales", "VP of Sales"
    SALES_MANAGER = "sales_manager", "Sales Manager"
    TEAM_LEAD = "team_lead", "Sales Team Lead"
    AE = "ae", "Account Executive"
    BDR = "bdr", "Business Development Rep"
    SDR = "sdr", "Sales Development Rep"
    MARKETING = "marketing", "Marketing"
    CUSTOMER_SUCCESS = "customer_success", "Customer Success"
    REVOPS = "revops", "RevOps / Admin"


class LineKind(models.TextChoices):
    SOLID = "solid", "Solid line"
    DOTTED = "dotted", "Dotted line"


class Access(models.TextChoices):
    VIEW = "view", "View"
    CHANGE = "change", "View and edit"


class Domain(models.TextChoices):
    """What kind of business record a model holds; org-wide roles see whole domains."""

    REVENUE = "revenue", "Revenue records (accounts, contacts, opportunities, quotes)"
    LEADS = "leads", "Leads and prospects"
    CAMPAIGNS = "campaigns", "Campaigns and outreach"
    SERVICE = "service", "Customer service (complaints, surveys)"
    PEOPLE = "people", "People records (tasks, coaching, reviews)"
