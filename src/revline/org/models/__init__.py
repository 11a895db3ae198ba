from .auth import ApiToken, LoginAttempt
from .hierarchy import (
    DottedLine,
    Position,
    PositionClosure,
    PositionHolding,
    Region,
    ReportingLine,
    Team,
)
from .roles import Responsibility, RoleTemplate
from .scoped import OrgScopedModel, OrgScopedQuerySet, RecordShare
from .user import User

__all__ = [
    "ApiToken",
    "DottedLine",
    "LoginAttempt",
    "OrgScopedModel",
    "OrgScopedQuerySet",
    "Position",
    "PositionClosure",
    "PositionHolding",
    "RecordShare",
    "Region",
    "ReportingLine",
    "Responsibility",
    "RoleTemplate",
    "Team",
    "User",
]
