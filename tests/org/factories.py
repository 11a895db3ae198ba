"""Factories for the organisation. Positions go through the service so the closure is right."""

from __future__ import annotations

import factory

from revline.org import services
from revline.org.choices import RoleType
from revline.org.models import Position, Region, Team, User

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.test")
    full_name = factory.Sequence(lambda n: f"Person {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region

    name = factory.Sequence(lambda n: f"Region {n}")
    code = factory.Sequence(lambda n: f"region-{n}")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


def make_position(
    role: str = RoleType.AE,
    *,
    reports_to: Position | None = None,
    holder: User | bool | None = True,
    title: str | None = None,
    region: Region | None = None,
    team: Team | None = None,
) -> Position:
    """A position created through ``position_create``; ``holder=True`` makes a new user."""
    if holder is True:
        holder = UserFactory()
    return services.position_create(
        title=title or RoleType(role).label,
        role=role,
        by=None,
        reports_to=reports_to,
        holder=holder or None,
        region=region,
        team=team,
    )
