from .accounts import Account, Contact, CustomFieldDefinition
from .activities import Activity
from .imports import ImportJob, ImportMapping
from .leads import (
    Lead,
    LeadStatusChange,
    ProspectList,
    ProspectListMember,
    RoutingMember,
    RoutingRule,
)
from .marketing import Campaign, Referral
from .service import Complaint, SatisfactionResponse

__all__ = [
    "Account",
    "Activity",
    "Campaign",
    "Complaint",
    "Contact",
    "CustomFieldDefinition",
    "ImportJob",
    "ImportMapping",
    "Lead",
    "LeadStatusChange",
    "ProspectList",
    "ProspectListMember",
    "Referral",
    "RoutingMember",
    "RoutingRule",
    "SatisfactionResponse",
]
