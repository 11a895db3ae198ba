"""Who sees what: the one visibility predicate (DESIGN.md §4, docs/permissions.md).

``record_visibility_q(user, action, model)`` is the rule for every org-scoped record;
``position_visibility_q(user, action)`` is the same rule applied to the organisation itself.
Both return a ``Q`` built only from subqueries, so ``Model.objects.visible_to(user, action)`` is one
SQL statement whatever the depth of the hierarchy: the closure table answers "is the owner at or
below one of my positions" with one indexed lookup.

A record owned by position P is visible to
1. the holder of P, and the holders of every position above P (solid and dotted lines, any depth);
2. the holders of positions it is explicitly shared with (``RecordShare``; ``change`` shares allow
   editing);
3. members of P's team when the team shares records (view only);
4. org-wide roles for the model's domain (``ORG_WIDE_ACCESS``);
5. superusers;
6. (view only) holders who see, by rules 1, 3 or 4, a record that lends its parent view access: a model
   names such children in ``visible_through`` (an account, for its deals and complaints).
Editing (``change``) follows rules 1, 2 (change shares), 4 (where the table grants change) and 5.
Inactive and anonymous users see nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import Exists, Field, ForeignObject, Lookup, Model, Q

from revline.org.choices import Access, Domain, RoleType

VIEW = Access.VIEW.value
CHANGE = Access.CHANGE.value
ACTIONS = (VIEW, CHANGE)
ALL_DOMAINS = "*"

# role -> domain -> actions granted on every record of that domain, whatever the hierarchy.
ORG_WIDE_ACCESS: dict[str, dict[str, frozenset[str]]] = {
    RoleType.REVOPS: {ALL_DOMAINS: frozenset({VIEW, CHANGE})},
    RoleType.CEO: {ALL_DOMAINS: frozenset({VIEW})},
    RoleType.CSO: {
        Domain.REVENUE: frozenset({VIEW}),
        Domain.LEADS: frozenset({VIEW}),
        Domain.SERVICE: frozenset({VIEW}),
    },
    RoleType.CRO: {
        Domain.REVENUE: frozenset({VIEW}),
        Domain.LEADS: frozenset({VIEW}),
        Domain.CAMPAIGNS: frozenset({VIEW}),
        Domain.SERVICE: frozenset({VIEW}),
    },
    RoleType.MARKETING: {
        Domain.LEADS: frozenset({VIEW}),
        Domain.CAMPAIGNS: frozenset({VIEW}),
    },
}

# Roles that see the whole organisation chart; only RevOps (and superusers) reorganise it.
ORG_CHART_VIEW_ALL = frozenset({RoleType.CEO, RoleType.CSO, RoleType.CRO, RoleType.REVOPS})
ORG_CHART_CHANGE = frozenset({RoleType.REVOPS})

NOTHING = Q(pk__in=[])
EVERYTHING = Q()


def org_wide_roles(domain: str, action: str) -> list[str]:
    """The roles that hold ``action`` on every record of ``domain``."""
    roles = []
    for role, grants in ORG_WIDE_ACCESS.items():
        actions = grants.get(domain) or grants.get(ALL_DOMAINS) or frozenset()
        if action in actions:
            roles.append(str(role))
    return sorted(roles)


def _check(user: Any, action: str) -> Q | None:
    """The answer for callers that need no query, or None to build one."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; expected one of {ACTIONS}")
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return NOTHING
    if user.is_superuser:
        return EVERYTHING
    return None


def _holds_role(user: Any, roles: list[str] | frozenset[str]) -> Exists:
    from revline.org.models import Position

    return Exists(Position.objects.filter(holder_id=user.pk, role__in=list(roles)))


def _positions_at_or_below_mine(user: Any):
    from revline.org.models import PositionClosure

    return PositionClosure.objects.filter(ancestor__holder_id=user.pk).values("descendant_id")


class InSubquery(Lookup):
    """``field IN (subquery)``, written so that PostgreSQL can use the field's index.

    PostgreSQL plans ``x IN (SELECT ...)`` inside an ``OR`` as a hashed filter over a sequential
    scan; the equivalent ``x = ANY(ARRAY(SELECT ...))`` is evaluated once, up front, and then
    drives an index or bitmap scan. On a million records this turns a rep's 125 ms count into a
    few ms (bench/RESULTS.md). Other databases get the plain ``IN``.
    """

    lookup_name = "in_subquery"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        if not rhs.startswith("("):
            rhs = f"({rhs})"
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)


class InSubqueryPaged(InSubquery):
    """``field IN (subquery)`` for a large set of ids that a page tests row by row (rule 6: the
    accounts a VP's 25,000 deals sit on).

    PostgreSQL cannot hash an ``ANY(ARRAY(SELECT ...))`` (only a constant array): each row a page
    tests is compared with every element in turn. A page of accounts in name order walks the name
    index and tests each row against the whole array: a VP's first page of ids cost ~80 ms of
    database CPU. So a sliced query (a page, ``get``, ``exists``) gets the plain ``IN``, which
    PostgreSQL hashes once per query (the same page: ~12 ms), and an unsliced one (a count, an
    export, a subquery) keeps ``ANY(ARRAY)``, whose ids drive a bitmap of the primary key (the
    VP's count: 25 ms, against ~90 ms for the hashed ``IN`` over a sequential scan). Same rows
    either way: only the plan differs. The price: a hashed ``IN`` inside the predicate's ``OR``
    rules out the owner index, so a page of someone who sees few accounts walks the list's
    index instead of sorting their few rows (an AE's last page: a few ms more at 100k
    accounts). bench/RESULTS.md has the figures.
    """

    lookup_name = "in_subquery_paged"

    def as_sql(self, compiler, connection):
        if connection.vendor == "postgresql" and compiler.query.is_sliced:
            lhs, lhs_params = self.process_lhs(compiler, connection)
            rhs, rhs_params = compiler.compile(self.rhs)
            if not rhs.startswith("("):
                rhs = f"({rhs})"
            return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)
        return super().as_sql(compiler, connection)


for _lookup in (InSubquery, InSubqueryPaged):
    Field.register_lookup(_lookup)
    ForeignObject.register_lookup(_lookup)  # related fields keep their own lookup registry


def record_owner_positions(user: Any, action: str, domain: str):
    """Subquery of the positions whose records ``user`` may ``action`` (rules 1, 3 and 4): at or
    below one of the user's positions, in a team of theirs that shares records (view only), or
    every position when the user holds an org-wide role for the domain."""
    from revline.org.models import Position

    q = Q(id__in=_positions_at_or_below_mine(user))
    if action == VIEW:
        q |= Q(
            team_id__in=Position.objects.filter(holder_id=user.pk, team__share_records=True).values(
                "team_id"
            )
        )
    if roles := org_wide_roles(domain, action):
        q |= Q(_holds_role(user, roles))
    return Position.objects.filter(q).order_by().values("id")


ROLES_CACHE = "_revline_position_roles"
_roles_generation = [0]


def roles_changed() -> None:
    """Called by the services that change who holds which role: every cached role set of this
    process is stale from now on."""
    _roles_generation[0] += 1


def held_roles(user: Any) -> frozenset[str]:
    """The role types of the positions ``user`` holds. Read once per user object (so once per
    request) and kept on it until a holder or role changes in this process (``roles_changed``);
    a change made by another process is seen by that process's next request."""
    cached = getattr(user, ROLES_CACHE, None)
    if cached is not None and cached[0] == _roles_generation[0]:
        return cached[1]
    from revline.org.models import Position

    roles = frozenset(
        Position.objects.filter(holder_id=user.pk).order_by().values_list("role", flat=True)
    )
    with contextlib.suppress(AttributeError):  # an object that takes no attributes: no cache
        setattr(user, ROLES_CACHE, (_roles_generation[0], roles))
    return roles


def record_visibility_q(user: Any, action: str, model: type[Model]) -> Q:
    """The rule for every model inheriting ``OrgScopedModel``; see the module docstring.

    A holder of an org-wide role for the model's domain (rule 4) gets no condition at all: the
    rule grants every row, and on a million rows filtering through the hierarchy subquery only
    to keep them all costs a list or a count several times the plain query (bench/RESULTS.md).
    """
    from revline.org.models import RecordShare

    if (early := _check(user, action)) is not None:
        return early
    domain = getattr(model, "visibility_domain", Domain.REVENUE)
    if held_roles(user) & set(org_wide_roles(domain, action)):
        return EVERYTHING
    ct = ContentType.objects.get_for_model(model, for_concrete_model=True)

    shares = RecordShare.objects.filter(content_type=ct, position__holder_id=user.pk)
    if action == CHANGE:
        shares = shares.filter(access=CHANGE)
    q = Q(owner_position_id__in_subquery=record_owner_positions(user, action, domain)) | Q(
        pk__in_subquery=shares.values("object_id")
    )
    if action == VIEW:
        q |= _implicit_parent_q(user, model)
    return q


def _implicit_parent_q(user: Any, model: type[Model]) -> Q:
    """Rule 6: the records a model lists in ``visible_through`` lend view access to their
    parent. Whoever sees a deal through the hierarchy (its owner and the owner's managers) may
    view the deal's account, even when someone else owns the account."""
    from django.apps import apps

    q = Q()
    for label, link in getattr(model, "visible_through", ()):
        child = apps.get_model(label)
        child_domain = getattr(child, "visibility_domain", Domain.REVENUE)
        parents = (
            child._default_manager.filter(
                owner_position_id__in_subquery=record_owner_positions(user, VIEW, child_domain),
                **{f"{link}__isnull": False},
            )
            .order_by()
            .values(link)
        )
        # A count combines the owner and the id indexes (ANY(ARRAY)); a page hashes the ids
        # once and tests its rows against the hash (InSubqueryPaged, bench/RESULTS.md).
        q |= Q(pk__in_subquery_paged=parents)
    return q


def position_visibility_q(user: Any, action: str) -> Q:
    """Which positions ``user`` sees in the org chart (view) or may reorganise (change).

    View: the user's own positions, everything below them, their chain of managers above
    them (solid and dotted), and their team-mates; the whole chart for CEO, CSO, CRO and RevOps.
    Change: RevOps and superusers only.
    """
    from revline.org.models import Position, PositionClosure

    if (early := _check(user, action)) is not None:
        return early
    if action == CHANGE:
        return Q(_holds_role(user, ORG_CHART_CHANGE))
    above_mine = PositionClosure.objects.filter(descendant__holder_id=user.pk).values("ancestor_id")
    team_mates = Position.objects.filter(
        team__isnull=False, team__positions__holder_id=user.pk
    ).values("id")
    return (
        Q(id__in=_positions_at_or_below_mine(user))
        | Q(id__in=above_mine)
        | Q(id__in=team_mates)
        | Q(_holds_role(user, ORG_CHART_VIEW_ALL))
    )


def visible_link(
    user: Any, model: type[Model], ref: str, *, row_model: type[Model] | None = None
) -> Any:
    """A boolean column: whether ``user`` may view the ``model`` record a row's ``ref`` points to
    (a deal's account, a contact's account, a lead's campaign), so a list names only what its
    reader may see.

    Written ``ref IN (visible ids)``, which PostgreSQL hashes once per query; a per-row
    ``EXISTS`` re-ran the predicate for each row (a page of deals: ~20 ms -> ~170 ms,
    bench/api_crm.py). Someone who sees every record gets a constant.

    ``row_model``: the model of the rows. When it lends ``model`` view access through ``ref``
    (rule 6: a deal's account), a row seen through the hierarchy answers by itself, tested
    first: a page whose rows all qualify never builds the set of visible ``model`` ids (a VP's
    page of deals: 25,000 accounts).
    """
    from django.apps import apps
    from django.db.models import BooleanField, ExpressionWrapper, Value

    q = record_visibility_q(user, VIEW, model)
    if q == EVERYTHING:
        return Value(True, output_field=BooleanField())
    if q == NOTHING:  # an anonymous or inactive user sees no record at all
        return Value(False, output_field=BooleanField())
    visible = model._default_manager.filter(q).order_by().values("pk")
    condition = Q(**{f"{ref}__in": visible})
    for label, link in getattr(model, "visible_through", ()):
        if row_model is not None and apps.get_model(label) is row_model and ref == f"{link}_id":
            domain = getattr(row_model, "visibility_domain", Domain.REVENUE)
            lends = Q(owner_position_id__in_subquery=record_owner_positions(user, VIEW, domain))
            condition = (lends & Q(**{f"{ref}__isnull": False})) | condition
    return ExpressionWrapper(condition, output_field=BooleanField())


def can(user: Any, action: str, instance: Model) -> bool:
    """Whether ``user`` may ``action`` this one record: the same predicate as the lists."""
    from revline.org.models import Position

    model = type(instance)
    if model is Position:
        q = position_visibility_q(user, action)
    else:
        q = record_visibility_q(user, action, model)
    return model._default_manager.filter(q, pk=instance.pk).exists()
