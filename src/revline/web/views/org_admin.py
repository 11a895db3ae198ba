"""Web views: the organisation admin screens (RevOps and superusers; 404 for everyone else).

Each write parses a form and calls one service of ``revline.org.services`` (which writes the audit
event); a service's ValidationError is shown on the form. POST-redirect-GET with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from revline.org import selectors, services
from revline.org.choices import RoleType
from revline.org.forms import (
    DottedLineForm,
    HolderForm,
    OffboardForm,
    OffboardPickForm,
    PersonCreateForm,
    PositionCreateForm,
    PositionEditForm,
    PositionFilterForm,
    PositionMoveForm,
    ReassignForm,
    RegionForm,
    ResponsibilityForm,
    RoleTemplateForm,
    TeamForm,
    apply_service_error,
    position_label,
)
from revline.org.models import Position, Region, Responsibility, RoleTemplate, Team, User
from revline.web.views.org import htmx_render, record_counts, responsibility_rows

PAGE_SIZE = 50


def org_admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and allowed to reorganise, else 404 (the screens' existence does not leak)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not selectors.user_is_org_admin(user=request.user):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapper


def _position(request: HttpRequest, pk: int) -> Position:
    """A position the user may change, through the one visibility predicate."""
    try:
        return selectors.position_get(user=request.user, pk=pk, action="change")
    except Position.DoesNotExist:
        raise Http404("No such position.") from None


def _detail(position: Position) -> str:
    return reverse("web:position_detail", args=[position.pk])


# --- the list ---------------------------------------------------------------------------------


@org_admin_required
def org_admin(request: HttpRequest) -> HttpResponse:
    regions, teams = list(Region.objects.all()), list(Team.objects.all())
    form = PositionFilterForm(request.GET or None, regions=regions, teams=teams)
    criteria = form.criteria() if request.GET else {}
    positions = selectors.positions_search(user=request.user, **criteria).order_by("title", "id")
    page = Paginator(positions, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "filter_query": params.urlencode(),
        "filtered": any(v not in ("", None) for v in criteria.values()),
    }
    return htmx_render(request, "web/org_admin/index.html", "web/org_admin/_list.html", context)


# --- positions --------------------------------------------------------------------------------


@org_admin_required
def position_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    if manager_id := request.GET.get("reports_to"):
        initial["reports_to"] = manager_id
    form = PositionCreateForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            position = services.position_create(
                title=data["title"],
                role=data["role"],
                reports_to=data["reports_to"],
                holder=data["holder"],
                region=data["region"],
                team=data["team"],
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the position {position.title}.")
            return redirect(_detail(position))
    return render(
        request,
        "web/org_admin/form.html",
        {
            "form": form,
            "heading": "New position",
            "submit": "Create position",
            "intro": "A seat in the organisation, filled now or left vacant.",
        },
    )


@org_admin_required
def position_edit(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    initial = {
        "title": position.title,
        "role": position.role,
        "region": position.region_id,
        "team": position.team_id,
    }
    form = PositionEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.position_update(
                position=position,
                title=data["title"],
                role=data["role"],
                region=data["region"],
                team=data["team"],
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved {position.title}.")
            return redirect(_detail(position))
    return render(
        request,
        "web/org_admin/form.html",
        {"form": form, "position": position, "heading": "Edit position", "submit": "Save"},
    )


@org_admin_required
def position_move(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    form = PositionMoveForm(
        request.POST or None,
        user=request.user,
        position=position,
        initial={"reports_to": position.reports_to_id},
    )
    if request.method == "POST" and form.is_valid():
        manager = form.cleaned_data["reports_to"]
        try:
            services.position_move(
                position=position,
                reports_to=manager,
                by=request.user,
                join_team=form.cleaned_data["join_team"],
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            where = f"under {position_label(manager)}" if manager else "to the top"
            below = " and the positions below it" if position.direct_reports.exists() else ""
            messages.success(request, f"Moved {position.title}{below} {where}.")
            return redirect(_detail(position))
    moving = list(
        selectors.subtree(user=request.user, position=position)
        .prefetch_related(None)
        .order_by("title", "id")
    )
    return render(
        request,
        "web/org_admin/move.html",
        {"form": form, "position": position, "moving": moving, "heading": "Move in the hierarchy"},
    )


@org_admin_required
def position_dotted(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    form = DottedLineForm(request.POST or None, user=request.user, position=position)
    if request.method == "POST" and form.is_valid():
        manager = form.cleaned_data["manager"]
        try:
            services.position_add_dotted_line(position=position, manager=manager, by=request.user)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(
                request, f"{position.title} now also reports to {position_label(manager)}."
            )
            return redirect("web:position_dotted", pk=position.pk)
    managers = list(
        Position.objects.filter(dotted_reports__position=position)
        .select_related("holder")
        .order_by("title", "id")
    )
    return render(
        request,
        "web/org_admin/dotted.html",
        {
            "form": form,
            "position": position,
            "managers": managers,
            "heading": "Dotted reporting lines",
        },
    )


@org_admin_required
@require_POST
def position_dotted_remove(request: HttpRequest, pk: int, manager_pk: int) -> HttpResponse:
    position = _position(request, pk)
    manager = _position(request, manager_pk)
    services.position_remove_dotted_line(position=position, manager=manager, by=request.user)
    messages.success(request, f"Removed the dotted line to {position_label(manager)}.")
    return redirect("web:position_dotted", pk=position.pk)


@org_admin_required
def position_holder(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    form = HolderForm(request.POST or None, initial={"holder": position.holder_id})
    if request.method == "POST" and form.is_valid():
        holder = form.cleaned_data["holder"]
        try:
            services.position_assign_holder(position=position, holder=holder, by=request.user)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            if holder is None:
                messages.success(request, f"{position.title} is now vacant.")
            else:
                messages.success(request, f"{holder.get_full_name()} now holds {position.title}.")
            return redirect(_detail(position))
    return render(
        request,
        "web/org_admin/holder.html",
        {
            "form": form,
            "position": position,
            "holdings": list(position.holdings.select_related("user")),
            "heading": "Holder",
        },
    )


@org_admin_required
def position_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    form = ReassignForm(request.POST or None, user=request.user, position=position)
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data["to_position"]
        try:
            moved = services.records_reassign(
                from_position=position, to_position=target, by=request.user
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            total = sum(moved.values())
            messages.success(
                request,
                f"Moved {total} record{'s' if total != 1 else ''} from {position.title} "
                f"to {position_label(target)}.",
            )
            return redirect(_detail(position))
    counts = record_counts(services.owned_record_counts(position=position))
    return render(
        request,
        "web/org_admin/reassign.html",
        {
            "form": form,
            "position": position,
            "counts": counts,
            "total": sum(n for _, n in counts),
            "heading": "Reassign records",
        },
    )


@org_admin_required
def position_delete(request: HttpRequest, pk: int) -> HttpResponse:
    position = _position(request, pk)
    error = None
    if request.method == "POST":
        title = position.title
        try:
            services.position_delete(position=position, by=request.user)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            messages.success(request, f"Removed the position {title}.")
            return redirect("web:org_admin")
    counts = record_counts(services.owned_record_counts(position=position))
    return render(
        request,
        "web/org_admin/delete.html",
        {
            "position": position,
            "heading": "Remove position",
            "error": error,
            "reports": position.direct_reports.count() + position.dotted_reports.count(),
            "records": sum(n for _, n in counts),
        },
        status=400 if error else 200,
    )


# --- people -----------------------------------------------------------------------------------


@org_admin_required
def person_create(request: HttpRequest) -> HttpResponse:
    form = PersonCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = services.user_create(
                email=data["email"],
                full_name=data["full_name"],
                password=data["password"] or None,
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(
                request,
                f"Added {person.get_full_name()} ({person.email}). "
                "Give them a position from the vacant positions below.",
            )
            return redirect(reverse("web:org_admin") + "?vacant=yes")
    return render(
        request,
        "web/org_admin/form.html",
        {
            "form": form,
            "heading": "New person",
            "submit": "Add person",
            "intro": "A person who can log in with their email address. Give them a position next.",
        },
    )


@org_admin_required
def person_offboard(request: HttpRequest) -> HttpResponse:
    """Pick the person (GET ?person=), review their positions and records, then offboard (POST)."""
    person = None
    person_id = request.POST.get("person") or request.GET.get("person")
    if person_id:
        person = (
            User.objects.filter(pk=person_id, is_active=True).first()
            if person_id.isdigit()
            else None
        )
    pick = OffboardPickForm(initial={"person": person.pk if person else None})
    form = OffboardForm(
        request.POST or None,
        user=request.user,
        person=person,
        initial={"person": person.pk if person else None},
    )
    if request.method == "POST" and form.is_valid():
        leaving, successor = form.cleaned_data["person"], form.cleaned_data["successor"]
        try:
            result = services.person_offboard(user=leaving, successor=successor, by=request.user)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            moved = sum(result.moved.values())
            messages.success(
                request,
                f"Offboarded {leaving.get_full_name()}: {len(result.vacated)} position(s) "
                f"vacated, {moved} record(s) moved to {position_label(successor)}, "
                f"{result.tokens_revoked} API token(s) revoked, login deactivated.",
            )
            return redirect("web:org_admin")
    held = []
    tokens = 0
    if person is not None:
        for position in Position.objects.filter(holder=person).select_related(
            "reports_to", "reports_to__holder"
        ):
            counts = record_counts(services.owned_record_counts(position=position))
            held.append(
                {"position": position, "counts": counts, "total": sum(n for _, n in counts)}
            )
        tokens = person.tokens.filter(revoked_at__isnull=True).count()
    return render(
        request,
        "web/org_admin/offboard.html",
        {"pick": pick, "form": form, "person": person, "held": held, "tokens": tokens},
    )


# --- role templates ---------------------------------------------------------------------------


@org_admin_required
def role_templates(request: HttpRequest) -> HttpResponse:
    templates = {t.role: t for t in RoleTemplate.objects.prefetch_related("responsibilities")}
    rows = [
        {
            "role": role,
            "label": label,
            "template": templates.get(role),
            "responsibilities": responsibility_rows(templates.get(role)),
        }
        for role, label in RoleType.choices
    ]
    return render(request, "web/org_admin/templates.html", {"rows": rows})


def _template(role: str) -> RoleTemplate:
    return get_object_or_404(RoleTemplate.objects.prefetch_related("responsibilities"), role=role)


def _template_page(
    request: HttpRequest,
    template: RoleTemplate,
    *,
    header_form: RoleTemplateForm | None = None,
    add_form: ResponsibilityForm | None = None,
    bound: dict[int, ResponsibilityForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    bound = bound or {}
    items = []
    for row in responsibility_rows(template):
        item = row["item"]
        form = bound.get(item.pk) or ResponsibilityForm(
            prefix=f"r{item.pk}",
            initial={
                "title": item.title,
                "description": item.description,
                "capability": item.capability,
                "kpi": item.kpi,
            },
        )
        items.append({**row, "form": form, "open": item.pk in bound})
    context = {
        "template": template,
        "header_form": header_form
        or RoleTemplateForm(initial={"name": template.name, "summary": template.summary}),
        "add_form": add_form or ResponsibilityForm(prefix="new"),
        "items": items,
    }
    return render(request, "web/org_admin/template_edit.html", context, status=status)


@org_admin_required
def role_template_edit(request: HttpRequest, role: str) -> HttpResponse:
    template = _template(role)
    if request.method != "POST":
        return _template_page(request, template)
    form = RoleTemplateForm(request.POST)
    if form.is_valid():
        try:
            services.role_template_update(
                template=template,
                name=form.cleaned_data["name"],
                summary=form.cleaned_data["summary"],
                by=request.user,
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the {template.name} template.")
            return redirect("web:role_template_edit", role=template.role)
    return _template_page(request, template, header_form=form, status=400)


@org_admin_required
@require_POST
def responsibility_add(request: HttpRequest, role: str) -> HttpResponse:
    template = _template(role)
    form = ResponsibilityForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            item = services.responsibility_save(
                template=template, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Added the responsibility “{item.title}”.")
            return redirect("web:role_template_edit", role=template.role)
    return _template_page(request, template, add_form=form, status=400)


def _responsibility(pk: int) -> Responsibility:
    return get_object_or_404(Responsibility.objects.select_related("template"), pk=pk)


@org_admin_required
@require_POST
def responsibility_edit(request: HttpRequest, pk: int) -> HttpResponse:
    item = _responsibility(pk)
    template = item.template
    form = ResponsibilityForm(request.POST, prefix=f"r{item.pk}")
    if form.is_valid():
        try:
            services.responsibility_save(
                template=template, responsibility=item, by=request.user, **form.cleaned_data
            )
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Saved the responsibility “{item.title}”.")
            return redirect("web:role_template_edit", role=template.role)
    return _template_page(request, _template(template.role), bound={item.pk: form}, status=400)


@org_admin_required
@require_POST
def responsibility_delete(request: HttpRequest, pk: int) -> HttpResponse:
    item = _responsibility(pk)
    role, title = item.template.role, item.title
    services.responsibility_delete(responsibility=item, by=request.user)
    messages.success(request, f"Removed the responsibility “{title}”.")
    return redirect("web:role_template_edit", role=role)


@org_admin_required
@require_POST
def responsibility_move(request: HttpRequest, pk: int) -> HttpResponse:
    """Move a responsibility one place up or down (``direction`` = up | down)."""
    item = _responsibility(pk)
    template = item.template
    ids = list(template.responsibilities.order_by("order", "id").values_list("id", flat=True))
    index = ids.index(item.pk)
    step = -1 if request.POST.get("direction") == "up" else 1
    other = index + step
    if 0 <= other < len(ids):
        ids[index], ids[other] = ids[other], ids[index]
        services.responsibilities_reorder(template=template, ordered_ids=ids, by=request.user)
        messages.success(request, f"Moved “{item.title}” {'up' if step < 0 else 'down'}.")
    return redirect("web:role_template_edit", role=template.role)


# --- regions and teams ------------------------------------------------------------------------


@org_admin_required
def regions(request: HttpRequest) -> HttpResponse:
    form = RegionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            region = services.region_create(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the region {region.name}.")
            return redirect("web:regions")
    rows = Region.objects.select_related("parent").annotate(
        n_positions=Count("positions", distinct=True), n_teams=Count("teams", distinct=True)
    )
    return render(request, "web/org_admin/regions.html", {"form": form, "regions": rows})


@org_admin_required
def teams(request: HttpRequest) -> HttpResponse:
    form = TeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(by=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_service_error(form, error)
        else:
            messages.success(request, f"Created the team {team.name}.")
            return redirect("web:teams")
    rows = Team.objects.select_related("region").annotate(n_positions=Count("positions"))
    return render(request, "web/org_admin/teams.html", {"form": form, "teams": rows})


urlpatterns = [
    path("org/admin/", org_admin, name="org_admin"),
    path("org/admin/positions/new/", position_create, name="position_create"),
    path("org/admin/positions/<int:pk>/edit/", position_edit, name="position_edit"),
    path("org/admin/positions/<int:pk>/move/", position_move, name="position_move"),
    path("org/admin/positions/<int:pk>/dotted/", position_dotted, name="position_dotted"),
    path(
        "org/admin/positions/<int:pk>/dotted/<int:manager_pk>/remove/",
        position_dotted_remove,
        name="position_dotted_remove",
    ),
    path("org/admin/positions/<int:pk>/holder/", position_holder, name="position_holder"),
    path("org/admin/positions/<int:pk>/reassign/", position_reassign, name="position_reassign"),
    path("org/admin/positions/<int:pk>/delete/", position_delete, name="position_delete"),
    path("org/admin/people/new/", person_create, name="person_create"),
    path("org/admin/people/offboard/", person_offboard, name="person_offboard"),
    path("org/admin/templates/", role_templates, name="role_templates"),
    path("org/admin/templates/<slug:role>/", role_template_edit, name="role_template_edit"),
    path(
        "org/admin/templates/<slug:role>/responsibilities/new/",
        responsibility_add,
        name="responsibility_add",
    ),
    path("org/admin/responsibilities/<int:pk>/", responsibility_edit, name="responsibility_edit"),
    path(
        "org/admin/responsibilities/<int:pk>/delete/",
        responsibility_delete,
        name="responsibility_delete",
    ),
    path(
        "org/admin/responsibilities/<int:pk>/move/",
        responsibility_move,
        name="responsibility_move",
    ),
    path("org/admin/regions/", regions, name="regions"),
    path("org/admin/teams/", teams, name="teams"),
]
