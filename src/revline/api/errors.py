"""JSON errors for the whole API: ``{"code": ..., "message": ..., ...}`` with stable codes.

Handlers never build error responses themselves: they raise, and the handlers installed here
turn the exception into the response.

=====  ====================  =================================================================
HTTP   code                  raised by
=====  ====================  =================================================================
400    ``bad_request``       malformed JSON body, other unusable requests (``BadRequest``)
401    ``unauthorized``      no, unknown, expired or revoked credentials; bad password
403    ``forbidden``         a visible record the caller may not change; admin-only endpoints;
                             CSRF failure on a session request (``Forbidden``)
404    ``not_found``         unknown URL, unknown id, *and any record outside the caller's view*
                             (``NotFound``, ``Model.DoesNotExist``, ``Http404``)
405    ``method_not_allowed`` a method the path does not serve
409    ``conflict``          the request collides with the current state (``Conflict``,
                             ``ProtectedError``, ``IntegrityError``)
422    ``validation_error``  invalid input (pydantic) or a service's ``ValidationError``; carries
                             ``errors: [{field, message}]``
429    ``throttled``         too many attempts (``LoginThrottled``, ninja throttles)
500    ``internal_error``    anything unexpected (logged with its traceback)
=====  ====================  =================================================================
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ObjectDoesNotExist,
    PermissionDenied,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja.errors import HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from revline.org.services import LoginThrottled

if TYPE_CHECKING:
    from ninja import NinjaAPI

logger = logging.getLogger("revline.api")

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "throttled",
    500: "internal_error",
}

MESSAGES: dict[int, str] = {
    400: "The request could not be understood.",
    401: "Authentication required: send 'Authorization: Bearer <token>' or log in.",
    403: "You are not allowed to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "The request conflicts with the current state.",
    422: "The input is not valid.",
    429: "Too many attempts; try again later.",
    500: "Something went wrong on our side; the error has been logged.",
}


class ApiError(HttpError):
    """An error with a stable ``code``. Subclasses fix the status; ``extra`` joins the body."""

    status = 400

    def __init__(self, message: str | None = None, **extra: Any) -> None:
        self.extra = extra
        super().__init__(self.status, message or MESSAGES.get(self.status, "Error."))


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


def error_body(status: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "code": CODES.get(status, "error"),
        "message": message or MESSAGES.get(status, "Error."),
        **extra,
    }


def error_response(status: int, message: str | None = None, **extra: Any) -> JsonResponse:
    """A JSON error response outside a ninja operation (405, unknown URLs)."""
    response = JsonResponse(error_body(status, message, **extra), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="revline"'
    return response


# --- validation errors -------------------------------------------------------------------------


def _field_from_loc(loc: Iterable[Any]) -> str | None:
    """``("body", "payload", "title")`` -> ``"title"``; ``("query", "limit")`` -> ``"limit"``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[2:]
    elif parts and parts[0] in {"query", "path", "header", "cookie", "form", "file"}:
        parts = parts[1:]
    return ".".join(parts) or None


def ninja_validation_errors(exc: NinjaValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors:
        if "loc" in err:
            errors.append({"field": _field_from_loc(err["loc"]), "message": str(err.get("msg"))})
        else:  # ninja's own shorthand, e.g. {"cursor": "Invalid Cursor"}
            errors.extend({"field": k, "message": str(v)} for k, v in err.items())
    return errors


def django_validation_errors(exc: DjangoValidationError) -> list[dict[str, Any]]:
    if hasattr(exc, "error_dict"):
        return [
            {"field": None if field == NON_FIELD_ERRORS else field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


def _validation_response(
    api: NinjaAPI, request: HttpRequest, errors: list[dict[str, Any]]
) -> HttpResponse:
    first = errors[0] if errors else None
    if first is None:
        message = MESSAGES[422]
    elif first["field"]:
        message = f"{first['field']}: {first['message']}"
    else:
        message = first["message"]
    return api.create_response(request, error_body(422, message, errors=errors), status=422)


# --- the handlers ------------------------------------------------------------------------------


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace ninja's default handlers (``{"detail": ...}``) with Revline's JSON errors."""

    def respond(request: HttpRequest, status: int, message: str | None = None, **extra: Any):
        response = api.create_response(request, error_body(status, message, **extra), status=status)
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="revline"'
        return response

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        extra = getattr(exc, "extra", {})
        message = exc.message
        if type(exc) is HttpError or message in {"Unauthorized", "Forbidden"}:
            # ninja's own errors ("Cannot parse request body", "Unauthorized", ...)
            message = {
                401: MESSAGES[401],
                403: MESSAGES[403],
            }.get(exc.status_code, message)
        return respond(request, exc.status_code, message, **extra)

    @api.exception_handler(Throttled)
    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        return respond(request, 429, retry_after=exc.wait)

    @api.exception_handler(LoginThrottled)
    def login_throttled(request: HttpRequest, exc: LoginThrottled) -> HttpResponse:
        return respond(request, 429, "Too many failed login attempts; try again later.")

    @api.exception_handler(NinjaValidationError)
    def request_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
        return _validation_response(api, request, ninja_validation_errors(exc))

    @api.exception_handler(DjangoValidationError)
    def service_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
        return _validation_response(api, request, django_validation_errors(exc))

    @api.exception_handler(ObjectDoesNotExist)
    def does_not_exist(request: HttpRequest, exc: ObjectDoesNotExist) -> HttpResponse:
        return respond(request, 404)

    @api.exception_handler(Http404)
    def http404(request: HttpRequest, exc: Http404) -> HttpResponse:
        return respond(request, 404)

    @api.exception_handler(PermissionDenied)
    def permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return respond(request, 403, str(exc) or None)

    @api.exception_handler(ProtectedError)
    def protected(request: HttpRequest, exc: ProtectedError) -> HttpResponse:
        return respond(request, 409, "Other records still depend on this one.")

    @api.exception_handler(RestrictedError)
    def restricted(request: HttpRequest, exc: RestrictedError) -> HttpResponse:
        return respond(request, 409, "Other records still depend on this one.")

    @api.exception_handler(IntegrityError)
    def integrity(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
        logger.warning("integrity error on %s %s: %s", request.method, request.path, exc)
        return respond(request, 409, "The change conflicts with existing data.")

    @api.exception_handler(Exception)
    def unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
        return respond(request, 500)
