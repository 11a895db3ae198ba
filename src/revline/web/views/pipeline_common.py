"""Helpers shared by the pipeline views (``pipeline``, ``pipeline_quotes``, ``pipeline_admin``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from revline.org import selectors as org_selectors
from revline.org.visibility import can
from revline.pipeline import selectors
from revline.pipeline.models import Opportunity


def opportunity_or_404(request: HttpRequest, pk: int) -> Opportunity:
    """A deal the user may see, else 404 (its existence does not leak)."""
    try:
        return selectors.opportunity_get(user=request.user, pk=pk)
    except Opportunity.DoesNotExist:
        raise Http404("No such opportunity.") from None


def require_change(request: HttpRequest, instance: Any) -> None:
    """403 when the user sees ``instance`` but may not change it."""
    if not can(request.user, "change", instance):
        raise PermissionDenied("You may see this record but not change it.")


def changeable_opportunity(request: HttpRequest, pk: int) -> Opportunity:
    opportunity = opportunity_or_404(request, pk)
    require_change(request, opportunity)
    return opportunity


def safe_next(request: HttpRequest, default: str) -> str:
    """``next`` (POST or GET) when it points into this site, else ``default``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def revops_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and an organisation admin (RevOps or superuser), else 404: the same check as
    the organisation admin screens."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not org_selectors.user_is_org_admin(user=request.user):
            raise Http404("Not found.")
        return view(request, *args, **kwargs)

    return wrapper


def holder_name(record: Any) -> str:
    """Who holds ``record``'s owner position, for the pipeline's CSV exports ("" for a vacant
    seat or no owner; the position's title has a column of its own)."""
    position = record.owner_position
    return position.holder.get_full_name() if position is not None and position.holder_id else ""
