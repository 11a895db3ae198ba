from django.db import models


class CustomerStatus(models.TextChoices):
    PROSPECT = "prospect", "Prospect"
    CUSTOMER = "customer", "Customer"
    FORMER = "former", "Former customer"
    PARTNER = "partner", "Partner"


class CompanySize(models.TextChoices):
    """Employee-count bands, the way firmographic data is usually sold."""

    MICRO = "1-10", "1-10"
    SMALL = "11-50", "11-50"
    MEDIUM = "51-200", "51-200"
    MIDSIZE = "201-1000", "201-1,000"
    LARGE = "1001-5000", "1,001-5,000"
    ENTERPRISE = "5000+", "5,000+"

    @classmethod
    def for_employees(cls, employees: int | None) -> str:
        if employees is None:
            return ""
        for limit, band in (
            (10, cls.MICRO),
            (50, cls.SMALL),
            (200, cls.MEDIUM),
            (1000, cls.MIDSIZE),
            (5000, cls.LARGE),
        ):
            if employees <= limit:
                return band.value
        return cls.ENTERPRISE.value


class LeadStatus(models.TextChoices):
    NEW = "new", "New"
    CONTACTED = "contacted", "Contacted"
    QUALIFYING = "qualifying", "Qualifying"
    SALES_QUALIFIED = "sales_qualified", "Sales-qualified"
    CONVERTED = "converted", "Converted"
    DISQUALIFIED = "disqualified", "Disqualified"
    RECYCLED = "recycled", "Recycled"


# Which status may follow which (services.lead_set_status enforces it).
LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    LeadStatus.NEW: frozenset(
        {LeadStatus.CONTACTED, LeadStatus.QUALIFYING, LeadStatus.DISQUALIFIED}
    ),
    LeadStatus.CONTACTED: frozenset(
        {LeadStatus.QUALIFYING, LeadStatus.DISQUALIFIED, LeadStatus.RECYCLED}
    ),
    LeadStatus.QUALIFYING: frozenset(
        {LeadStatus.SALES_QUALIFIED, LeadStatus.DISQUALIFIED, LeadStatus.RECYCLED}
    ),
    LeadStatus.SALES_QUALIFIED: frozenset(
        {LeadStatus.CONVERTED, LeadStatus.QUALIFYING, LeadStatus.DISQUALIFIED}
    ),
    LeadStatus.CONVERTED: frozenset(),
    LeadStatus.DISQUALIFIED: frozenset({LeadStatus.RECYCLED}),
    LeadStatus.RECYCLED: frozenset(
        {LeadStatus.CONTACTED, LeadStatus.QUALIFYING, LeadStatus.DISQUALIFIED}
    ),
}


class DisqualifyReason(models.TextChoices):
    NO_BUDGET = "no_budget", "No budget"
    NO_AUTHORITY = "no_authority", "No authority"
    NO_NEED = "no_need", "No need"
    BAD_TIMING = "bad_timing", "Bad timing"
    UNREACHABLE = "unreachable", "Unreachable"
    COMPETITOR = "competitor", "Went with a competitor"
    BAD_DATA = "bad_data", "Bad or duplicate data"
    OTHER = "other", "Other"


class LeadSource(models.TextChoices):
    OUTBOUND = "outbound", "Outbound prospecting"
    WEB = "web", "Web form"
    CAMPAIGN = "campaign", "Campaign"
    REFERRAL = "referral", "Referral"
    EVENT = "event", "Event"
    PARTNER = "partner", "Partner"
    IMPORT = "import", "Import"
    OTHER = "other", "Other"


class Authority(models.TextChoices):
    UNKNOWN = "", "Unknown"
    USER = "user", "User"
    INFLUENCER = "influencer", "Influencer"
    DECISION_MAKER = "decision_maker", "Decision maker"


class ActivityKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "Email"
    MEETING = "meeting", "Meeting"
    DISCOVERY_CALL = "discovery_call", "Discovery call"
    DEMO = "demo", "Demo"
    NOTE = "note", "Note"
    TASK = "task", "Task"


# Kinds that count as touching a lead (speed to lead is creation -> first of these).
TOUCH_KINDS = frozenset(
    {
        ActivityKind.CALL,
        ActivityKind.EMAIL,
        ActivityKind.MEETING,
        ActivityKind.DISCOVERY_CALL,
        ActivityKind.DEMO,
    }
)
MEETING_KINDS = frozenset({ActivityKind.MEETING, ActivityKind.DISCOVERY_CALL, ActivityKind.DEMO})


class ActivityOutcome(models.TextChoices):
    NONE = "", "—"
    CONNECTED = "connected", "Connected"
    NO_ANSWER = "no_answer", "No answer"
    LEFT_MESSAGE = "left_message", "Left a message"
    MEETING_BOOKED = "meeting_booked", "Meeting booked"
    COMPLETED = "completed", "Completed"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


class ProspectSource(models.TextChoices):
    SEARCH = "search", "Added from a search"
    IMPORT = "import", "Imported"
    RULE = "rule", "Matched the list's rule"
    MANUAL = "manual", "Added by hand"


class CampaignKind(models.TextChoices):
    EMAIL = "email", "Email"
    WEBINAR = "webinar", "Webinar"
    EVENT = "event", "Event / trade show"
    ADVERTISING = "advertising", "Advertising"
    CONTENT = "content", "Content"
    PARTNER = "partner", "Partner"
    OTHER = "other", "Other"


class CampaignStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    ABORTED = "aborted", "Aborted"


class ReferralOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    QUALIFIED = "qualified", "Qualified"
    WON = "won", "Became a customer"
    LOST = "lost", "Did not buy"
    DISQUALIFIED = "disqualified", "Disqualified"


class ComplaintSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ComplaintStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"


class SurveyKind(models.TextChoices):
    CSAT = "csat", "CSAT (1-5)"
    NPS = "nps", "NPS (0-10)"


class CustomFieldEntity(models.TextChoices):
    ACCOUNT = "account", "Account"
    CONTACT = "contact", "Contact"
    LEAD = "lead", "Lead"
    OPPORTUNITY = "opportunity", "Opportunity"


class CustomFieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    INTEGER = "integer", "Whole number"
    DATE = "date", "Date"
    BOOLEAN = "boolean", "Yes / no"
    CHOICE = "choice", "Choice"


class RoutingMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round-robin within a team"
    TERRITORY = "territory", "By territory / region"
    CAPACITY = "capacity", "By capacity over a window"


class ImportEntity(models.TextChoices):
    ACCOUNT = "account", "Accounts"
    CONTACT = "contact", "Contacts"
    LEAD = "lead", "Leads"
    OPPORTUNITY = "opportunity", "Opportunities"


class DuplicatePolicy(models.TextChoices):
    SKIP = "skip", "Skip the row"
    UPDATE = "update", "Update the existing record"
    CREATE = "create", "Create a new record anyway"


class ImportMode(models.TextChoices):
    KEEP_GOOD = "keep_good", "Keep the good rows, report the bad ones"
    ALL_OR_NOTHING = "all_or_nothing", "All or nothing"


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
