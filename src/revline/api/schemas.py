"""Schemas every app's API shares: errors, references to people, response maps."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class FieldError(Schema):
    field: str | None = None
    message: str


class ErrorOut(Schema):
    """Every error the API answers. ``errors`` comes with ``validation_error`` only."""

    code: str
    message: str
    errors: list[FieldError] | None = None


class PersonRef(Schema):
    """A person as other records show them."""

    id: int
    name: str
    email: str

    @staticmethod
    def resolve_name(obj: Any) -> str:
        if isinstance(obj, dict):
            return obj["name"]
        return obj.get_full_name()


def person_ref(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.get_full_name(), "email": user.email}


def with_errors(success: dict[int, Any], *codes: int, public: bool = False) -> dict[Any, Any]:
    """A ``response=`` map: the success schemas plus ``ErrorOut`` for the errors the operation
    can answer (400, 401 unless ``public``, 422 and 500 always; add 403, 404, 409, 429...)."""
    errors = {400, 422, 500, *codes}
    if not public:
        errors.add(401)
    return {**success, frozenset(errors): ErrorOut}
