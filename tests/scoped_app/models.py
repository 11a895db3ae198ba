"""Test-only org-scoped models: the visibility rules are generic, so tests exercise them on
records of each domain before the CRM's own models exist."""

from django.db import models

from revline.org.choices import Domain
from revline.org.models import OrgScopedModel


class Deal(OrgScopedModel):
    visibility_domain = Domain.REVENUE
    name = models.CharField(max_length=100)


class Prospect(OrgScopedModel):
    visibility_domain = Domain.LEADS
    name = models.CharField(max_length=100)


class CoachingNote(OrgScopedModel):
    visibility_domain = Domain.PEOPLE
    name = models.CharField(max_length=100)
