"""Responsibilities added to the default templates reach an installation that already has its
templates (``org/migrations/0004_role_template_additions``)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from revline.org.demo import role_templates_install
from revline.org.models import Responsibility, RoleTemplate
from revline.org.role_catalog import DEFAULT_ROLE_TEMPLATES

pytestmark = pytest.mark.django_db

migration = importlib.import_module("revline.org.migrations.0004_role_template_additions")


def test_the_migration_adds_what_the_catalog_now_has_and_nothing_twice():
    role_templates_install()
    added = {(role, capability) for role, _, _, capability, _ in migration.ADDITIONS}
    # an installation from before: its templates lack the added responsibilities
    for role, capability in added:
        Responsibility.objects.filter(template__role=role, capability=capability).delete()
    RoleTemplate.objects.filter(role="revops").delete()  # and one template it removed

    migration.add(apps, None)
    migration.add(apps, None)  # a second run adds nothing

    for role, title, _, capability, kpi in migration.ADDITIONS:
        rows = Responsibility.objects.filter(template__role=role, capability=capability)
        if role == "revops":
            assert not rows.exists()  # no template, nothing invented
            continue
        assert [(r.title, r.kpi) for r in rows] == [(title, kpi)]
        others = Responsibility.objects.filter(template__role=role).exclude(pk=rows[0].pk)
        assert rows[0].order > max(o.order for o in others)
        # the same wording as a fresh installation's
        catalog = {item[2]: item for item in DEFAULT_ROLE_TEMPLATES[role][2]}
        assert catalog[capability][0] == title and catalog[capability][3] == kpi


def test_an_ae_finds_renewals_in_the_sidebar(client, org):
    from django.urls import reverse

    role_templates_install()
    client.force_login(org["ae1"].holder)
    response = client.get(reverse("web:renewals"))
    assert response.status_code == 200
    renewals = [link for link in response.context["nav"].tools if link.label == "Renewals"]
    assert renewals and renewals[0].href == reverse("web:renewals") and renewals[0].active
