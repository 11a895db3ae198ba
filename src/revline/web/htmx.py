"""htmx helpers for web views (CONVENTIONS.md: full page normally, the partial for htmx)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_partial(request: HttpRequest) -> bool:
    """True when htmx asks for a fragment: not a boosted navigation and not a history restore
    (both of which need the full page)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def htmx_render(
    request: HttpRequest, full: str, partial: str, context: dict[str, Any], **kwargs: Any
) -> HttpResponse:
    """Render ``partial`` for an htmx fragment request, else the ``full`` page; caches are told
    the answer depends on the ``HX-Request`` header."""
    response = render(request, partial if wants_partial(request) else full, context, **kwargs)
    patch_vary_headers(response, ("HX-Request",))
    return response
