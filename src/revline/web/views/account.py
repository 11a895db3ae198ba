"""Web views: signing in and out, the user's password and API tokens."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from revline.org import services
from revline.org.models import ApiToken
from revline.web import selectors

# --- forms ---------------------------------------------------------------------------------------


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )
    password = forms.CharField(
        strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class TokenCreateForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Forecast export script"}),
    )
    days = forms.IntegerField(
        label="Lifetime (days)",
        min_value=1,
        max_value=366,
        help_text="Between 1 and 366 days.",
    )


# --- helpers -------------------------------------------------------------------------------------


def _post_data(request: HttpRequest):
    """The submitted data on POST (even when empty, so that the form reports what is missing)."""
    return request.POST if request.method == "POST" else None


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _is_local(request: HttpRequest, url: str | None) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``next`` when it points into this site, else the home page."""
    return (
        candidate
        if candidate and _is_local(request, candidate)
        else reverse(settings.LOGIN_REDIRECT_URL)
    )


def throttle_message() -> str:
    minutes = max(1, settings.REVLINE_LOGIN_WINDOW_SECONDS // 60)
    return f"Too many failed attempts, try again in {minutes} minutes."


# --- sign in and out -----------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request, next_url))
    form = LoginForm(_post_data(request))
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_authenticate(
                request=request,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                ip=_client_ip(request),
            )
        except services.LoginThrottled:
            form.add_error(None, throttle_message())
            status = 429
        else:
            if user is not None:
                auth_login(request, user)
                return redirect(_safe_next(request, next_url))
            form.add_error(None, "That email and password do not match an active account.")
    context = {"form": form, "next": next_url if _is_local(request, next_url) else ""}
    return render(request, "web/account/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    messages.info(request, "You are signed out.")
    return redirect(settings.LOGOUT_REDIRECT_URL)


# --- password ------------------------------------------------------------------------------------


@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(user=request.user, data=_post_data(request))
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            services.password_changed(user=user)
        update_session_auth_hash(request, user)
        messages.success(request, "Your password was changed. We sent you an email to confirm it.")
        return redirect("web:password_change")
    return render(request, "web/account/password_change.html", {"form": form})


# --- API tokens ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; POST creates one and shows its raw value, this once only."""
    form = TokenCreateForm(_post_data(request), initial={"days": settings.REVLINE_API_TOKEN_DAYS})
    created = raw = None
    if request.method == "POST" and form.is_valid():
        try:
            created, raw = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            form = TokenCreateForm(initial={"days": settings.REVLINE_API_TOKEN_DAYS})
    context = {
        "form": form,
        "tokens": selectors.api_tokens_of(user=request.user),
        "created": created,
        "raw_token": raw,
        "api_me_url": request.build_absolute_uri("/api/v1/me"),
    }
    response = render(request, "web/account/tokens.html", context)
    response["Cache-Control"] = "no-store"  # the raw token must not linger in a cache
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = selectors.api_token_get(user=request.user, pk=pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    token = services.api_token_revoke(token=token, by=request.user)
    if request.htmx:
        return render(request, "web/account/_token_row.html", {"token": token})
    messages.success(request, f"Token “{token.name}” revoked. Scripts using it now get 401.")
    return redirect("web:tokens")


urlpatterns = [
    path("login/", login_view, name="login"),
    path("logout/", logout_view, name="logout"),
    path("account/password/", password_change, name="password_change"),
    path("account/tokens/", tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", token_revoke, name="token_revoke"),
]
