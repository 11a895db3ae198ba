"""How API callers prove who they are.

- Scripts send ``Authorization: Bearer rvl_...`` (tokens from ``POST /api/v1/auth/token`` or the
  web tokens page). A bearer header that does not name an active token is refused with 401 at
  once: it never falls back to the session. Other schemes (``Basic`` from a proxy) are ignored.
- The browser uses its Django session. Unsafe methods (POST, PUT, PATCH, DELETE) on a session
  must carry the CSRF token (``X-CSRFToken`` header), as Django's own forms do; bearer requests
  need none, because a browser never adds that header by itself.

Handlers read the caller from ``request.auth`` (``request.user`` is set to the same user).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from revline.api.errors import Forbidden, Unauthorized
from revline.org import services


class TokenAuth(HttpBearer):
    """``Authorization: Bearer rvl_...``: an API token, checked by its hash."""

    def __call__(self, request: HttpRequest) -> Any | None:
        header = request.headers.get(self.header)
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.openapi_scheme:
            # e.g. "Basic" from a password-protected proxy in front of Revline: not ours, so
            # the session may still authenticate the request.
            return None
        return self.authenticate(request, raw.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Any | None:
        user = services.api_token_authenticate(raw=token)
        if user is None:
            raise Unauthorized("The token is unknown, expired or revoked.")
        request.user = user
        return user


class SessionAuth(APIKeyCookie):
    """The browser's Django session, with CSRF enforced on unsafe methods.

    Unlike ninja's own ``SessionAuth``, an anonymous request is answered 401 (not a CSRF 403),
    and the CSRF check only runs once a session user is found.
    """

    param_name: str = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        if (
            self.csrf
            and not getattr(request, "_ninja_csrf_exempt", False)
            and check_csrf(request) is not None
        ):
            raise Forbidden(
                "CSRF verification failed: send the X-CSRFToken header with session requests."
            )
        return user


def client_ip(request: HttpRequest) -> str | None:
    """The caller's address as the server sees it (a proxy must set ``REMOTE_ADDR`` right)."""
    return request.META.get("REMOTE_ADDR") or None


api_auth = [TokenAuth(), SessionAuth()]
