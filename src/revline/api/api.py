"""The API root, mounted at ``/api/v1/`` (revline/urls.py).

Every operation needs a caller (``revline.api.auth``) unless it says ``auth=None``: only
``POST /auth/token``, the OpenAPI document (``openapi.json``) and its docs page are public.
Every error is JSON (``revline.api.errors``), including unknown URLs and wrong methods, which
Django and ninja would otherwise answer in HTML or plain text.

Apps add their routers at the bottom of this module.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, path, re_path
from ninja import NinjaAPI

from revline.api.auth import api_auth
from revline.api.errors import error_response, install_error_handlers


def api_root(request: HttpRequest) -> HttpResponse:
    return error_response(
        404, "No endpoint here: the API is described at /api/v1/openapi.json (docs: /api/v1/docs)."
    )


def unknown_url(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(404, f"No API endpoint at {request.path}.")


def _json_405(view):
    """ninja answers a wrong method with a plain-text 405; make it a JSON error."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = response["Allow"]
            response = error_response(
                405, f"{request.method} is not allowed here; use {allowed}.", allowed=allowed
            )
            response["Allow"] = allowed
        return response

    wrapper.csrf_exempt = True  # type: ignore[attr-defined]  # ninja checks CSRF itself
    return wrapper


class RevlineAPI(NinjaAPI):
    def _get_urls(self) -> list[Any]:
        urls: list[Any] = []
        for pattern in super()._get_urls():
            if isinstance(pattern, URLPattern) and pattern.name == "api-root":
                pattern = path("", api_root, name="api-root")
            elif isinstance(pattern, URLPattern):
                pattern = URLPattern(
                    pattern.pattern, _json_405(pattern.callback), pattern.default_args, pattern.name
                )
            urls.append(pattern)
        urls.append(re_path(r"^(?P<rest>.*)$", unknown_url, name="unknown"))
        return urls


api = RevlineAPI(
    title="Revline API",
    version="1",
    description=(
        "Revline's REST API. Authenticate with `Authorization: Bearer <token>` "
        "(get one from `POST /api/v1/auth/token`) or, in the browser, with your session "
        "(unsafe methods then need the `X-CSRFToken` header). Lists answer "
        '`{"items": [...], "next": cursor-or-null, "total": n}`; pass `next` back as `cursor`. '
        'Errors answer `{"code": ..., "message": ...}`.'
    ),
    urls_namespace="api",
    auth=api_auth,
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

api.add_router("", "revline.api.account.router")
api.add_router("/org", "revline.org.api.router")
api.add_router("", "revline.crm.api.router")
api.add_router("", "revline.pipeline.api.router")
api.add_router("", "revline.crm.api_import.router")
api.add_router("/planning", "revline.planning.api.router")
api.add_router("/analytics", "revline.analytics.api.router")
api.add_router("/forecasting", "revline.forecasting.api.router")
api.add_router("/scoring", "revline.scoring.api.router")
