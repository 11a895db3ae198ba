"""Web views: the cockpit, each user's home page in the role of one of their positions."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from revline.web import selectors
from revline.web.htmx import htmx_render


def _position_param(request: HttpRequest) -> int | None:
    raw = request.GET.get("position", "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such position.") from None


@login_required
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Full page normally; the cockpit panel alone when the position switcher asks via htmx."""
    try:
        cockpit = selectors.cockpit_for(user=request.user, position_id=_position_param(request))
    except selectors.PositionNotHeld:
        raise Http404("You do not hold this position.") from None
    return htmx_render(
        request, "web/cockpit/home.html", "web/cockpit/_cockpit.html", {"cockpit": cockpit}
    )


urlpatterns = [
    path("", home, name="home"),
]
