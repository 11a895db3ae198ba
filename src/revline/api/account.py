"""``/auth/...`` (API tokens) and ``/me`` (the caller and their positions)."""

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from revline.api.auth import client_ip
from revline.api.errors import Unauthorized
from revline.api.pagination import paginated
from revline.api.schemas import with_errors
from revline.org import selectors, services
from revline.org.schemas import MyPositionOut

router = Router(tags=["auth"])


class TokenIn(Schema):
    email: str
    password: str
    name: str = Field("API token", max_length=100)
    days: int | None = Field(None, description="Lifetime in days (1-366); default from settings.")


class TokenCreatedOut(Schema):
    id: int
    token: str = Field(..., description="The secret: shown once, never stored.")
    name: str
    prefix: str
    expires_at: datetime


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    is_active: bool


class MeOut(Schema):
    id: int
    email: str
    name: str
    is_superuser: bool
    is_org_admin: bool
    positions: list[MyPositionOut]


@router.post(
    "/auth/token",
    auth=None,
    response=with_errors({201: TokenCreatedOut}, 401, 429, public=True),
    summary="Exchange email and password for an API token",
)
def token_create(request: HttpRequest, payload: TokenIn):
    user = services.login_authenticate(
        request=request,
        email=payload.email,
        password=payload.password,
        ip=client_ip(request),
        channel="api",
    )
    if user is None:
        raise Unauthorized("Invalid email or password.")
    token, raw = services.api_token_create(user=user, name=payload.name, days=payload.days)
    return Status(
        201,
        {
            "id": token.pk,
            "token": raw,
            "name": token.name,
            "prefix": token.prefix,
            "expires_at": token.expires_at,
        },
    )


@router.get("/auth/tokens", response=with_errors({200: list[TokenOut]}), summary="Your tokens")
@paginated(key="-id")
def token_list(request: HttpRequest):
    return selectors.api_tokens_for(user=request.auth)


@router.delete(
    "/auth/tokens/{int:token_id}",
    response=with_errors({204: None}, 404),
    summary="Revoke one of your tokens",
)
def token_revoke(request: HttpRequest, token_id: int):
    token = selectors.api_tokens_for(user=request.auth).get(pk=token_id)
    services.api_token_revoke(token=token, by=request.auth)
    return Status(204, None)


@router.get("/me", response=with_errors({200: MeOut}), tags=["me"], summary="The caller")
def me(request: HttpRequest):
    user = request.auth
    return {
        "id": user.pk,
        "email": user.email,
        "name": user.get_full_name(),
        "is_superuser": user.is_superuser,
        "is_org_admin": selectors.user_is_org_admin(user=user),
        "positions": list(selectors.positions_held(user=user).order_by("id")),
    }
