"""Web views: the system status page (task workers and the queue), for RevOps and superusers."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET

from revline.web import selectors
from revline.web.htmx import htmx_render


@login_required
@require_GET
def system_status(request: HttpRequest) -> HttpResponse:
    """Full page normally; the status panel alone for the htmx refresh every 10 seconds.

    Anyone but RevOps and superusers gets 404: the page's existence is not advertised.
    """
    if not selectors.is_org_admin(user=request.user):
        raise Http404("Page not found.")
    status = selectors.system_status()
    return htmx_render(
        request, "web/system/status.html", "web/system/_status.html", {"status": status}
    )


urlpatterns = [
    path("system/status/", system_status, name="system_status"),
]
