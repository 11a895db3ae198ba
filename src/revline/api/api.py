"""The API root, mounted at ``/api/v1/`` (revline/urls.py).

Every operation needs a caller (``revline.api.auth``) unless it says ``auth=None``: only
``POST /auth/token``, the OpenAPI document (``openapi.json``) and its docs page are public.
Every error is JSON (``revline.api.errors``), including unknown URLs and wrong methods, which
Django and ninja would otherwise answer in HTML or plain text.

Apps add their routers at the bottom of this module.
"""

from __future__ import annotations

import json
import mimetypes
from functools import wraps
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.template import Engine, RequestContext
from django.urls import URLPattern, path, re_path, reverse
from django.views.decorators.http import require_GET
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase

from revline.api.auth import api_auth
from revline.api.errors import error_response, install_error_handlers

_ASSETS_DIR = Path(ninja.__file__).parent / "static" / "ninja"
_ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-init.js", "favicon.svg", "favicon.png"}
)

_DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" href="{{ assets }}favicon.svg" type="image/svg+xml">
</head>
<body data-csrf-token="{{ csrf_token }}" data-api-csrf="true">
  <script type="application/json" id="swagger-settings">{{ settings|safe }}</script>
  <div id="swagger-ui"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>
"""


class LocalSwagger(DocsBase):
    """Swagger UI served from django-ninja's bundled copy: no CDN, works offline."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
        }
        template = Engine.get_default().from_string(_DOCS_PAGE)
        context = RequestContext(
            request,
            {
                "title": api.title,
                "assets": reverse(f"{api.urls_namespace}:docs-asset", kwargs={"name": "x"})[:-1],
                # "</" cannot close the script element from inside the JSON
                "settings": json.dumps(settings).replace("</", "<\\/"),
            },
        )
        return HttpResponse(template.render(context))


@require_GET
def docs_asset(request: HttpRequest, name: str) -> HttpResponse:
    if name not in _ASSETS:
        return error_response(404)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse((_ASSETS_DIR / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response


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
        urls.append(path("docs/assets/<str:name>", docs_asset, name="docs-asset"))
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
    docs=LocalSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
)
install_error_handlers(api)

api.add_router("", "revline.api.account.router")
api.add_router("/org", "revline.org.api.router")
