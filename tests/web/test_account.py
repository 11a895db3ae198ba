"""Sign in and out, password change and API tokens in the web shell."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from revline.org import services
from revline.org.models import ApiToken, LoginAttempt
from tests.org.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"


def login_post(client, email, password, next_url=None, ip="203.0.113.7"):
    data = {"email": email, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post(LOGIN, data, REMOTE_ADDR=ip)


# --- sign in -------------------------------------------------------------------------------------


def test_login_page_renders_a_plain_form(client):
    response = client.get(LOGIN)
    assert response.status_code == 200
    body = response.content.decode()
    assert '<form method="post" action="/login/"' in body
    assert 'name="email"' in body and 'name="password"' in body
    assert "/static/revline/htmx.min.js" in body  # every asset is served from the project
    assert 'src="http' not in body and 'href="http' not in body and "//cdn" not in body


def test_an_empty_login_post_reports_the_missing_fields(client):
    response = client.post(LOGIN, {})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required.") == 2
    assert not LoginAttempt.objects.exists()


def test_login_success_signs_in_and_records_the_attempt(client):
    user = UserFactory()
    response = login_post(client, user.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:home")
    assert client.get(reverse("web:home")).status_code == 200
    attempt = LoginAttempt.objects.get()
    assert attempt.succeeded and attempt.ip == "203.0.113.7" and attempt.email == user.email


def test_wrong_password_and_unknown_email_get_the_same_error(client):
    user = UserFactory()
    wrong_password = login_post(client, user.email, "not the password")
    unknown_email = login_post(client, "nobody@example.test", PASSWORD)
    for response in (wrong_password, unknown_email):
        assert response.status_code == 200
        assert "That email and password do not match an active account." in (
            response.content.decode()
        )
        assert "_auth_user_id" not in client.session
    assert wrong_password.content.decode().count("errorlist nonfield") == 1


def test_inactive_user_cannot_sign_in(client):
    user = UserFactory(is_active=False)
    response = login_post(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_login_is_throttled_per_email_with_429(client, settings):
    settings.REVLINE_LOGIN_MAX_FAILURES_PER_EMAIL = 3
    user = UserFactory()
    for _ in range(3):
        assert login_post(client, user.email, "wrong").status_code == 200
    response = login_post(client, user.email, PASSWORD)  # even the right password
    assert response.status_code == 429
    assert "Too many failed attempts, try again in 15 minutes" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_login_is_throttled_per_client_address(client, settings):
    settings.REVLINE_LOGIN_MAX_FAILURES_PER_IP = 2
    user = UserFactory()
    login_post(client, "a@example.test", "x", ip="198.51.100.1")
    login_post(client, "b@example.test", "x", ip="198.51.100.1")
    assert login_post(client, user.email, PASSWORD, ip="198.51.100.1").status_code == 429
    assert login_post(client, user.email, PASSWORD, ip="198.51.100.2").status_code == 302


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/account/tokens/", "/account/tokens/"),
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
    ],
)
def test_next_is_followed_only_inside_the_site(client, next_url, expected):
    user = UserFactory()
    response = login_post(client, user.email, PASSWORD, next_url=next_url)
    assert response.status_code == 302
    assert response["Location"] == expected


def test_login_page_keeps_a_safe_next_and_drops_an_unsafe_one(client):
    assert (
        'name="next" value="/account/tokens/"'
        in client.get(LOGIN, {"next": "/account/tokens/"}).content.decode()
    )
    assert (
        'name="next"' not in client.get(LOGIN, {"next": "https://evil.example/"}).content.decode()
    )


def test_signed_in_user_visiting_login_goes_home(client):
    client.force_login(UserFactory())
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == "/"


# --- sign out ------------------------------------------------------------------------------------


def test_logout_requires_post(client):
    client.force_login(UserFactory())
    assert client.get("/logout/").status_code == 405
    assert client.get(reverse("web:home")).status_code == 200  # still signed in
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == reverse("web:login")
    assert client.get(reverse("web:home")).status_code == 302


def test_logout_form_is_in_the_top_bar(client):
    client.force_login(UserFactory())
    body = client.get(reverse("web:home")).content.decode()
    topbar = body[body.index('<header class="topbar">') : body.index("</header>")]
    assert '<form method="post" action="/logout/"' in topbar
    assert "csrfmiddlewaretoken" in topbar


# --- every page needs a session ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/"),
        ("get", "/account/password/"),
        ("post", "/account/password/"),
        ("get", "/account/tokens/"),
        ("post", "/account/tokens/"),
        ("post", "/account/tokens/1/revoke/"),
        ("get", "/system/status/"),
    ],
)
def test_anonymous_is_sent_to_login(client, method, url):
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('web:login')}?next={url}"


# --- password ------------------------------------------------------------------------------------


def test_password_change_changes_it_keeps_the_session_and_emails(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory()
    client.force_login(user)
    new = "a brand new passphrase 42"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(new)
    # the session survives the change (update_session_auth_hash) and the user is told
    assert "Your password was changed" in client.get("/account/password/").content.decode()
    assert client.get(reverse("web:home")).status_code == 200
    task = DBTaskResult.objects.get()
    assert task.task_path.endswith("send_password_changed_notice")
    assert task.args_kwargs["kwargs"] == {"user_id": user.pk}


def test_password_change_with_wrong_old_password_changes_nothing(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory()
    client.force_login(user)
    new = "a brand new passphrase 42"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/account/password/",
            {"old_password": "wrong", "new_password1": new, "new_password2": new},
        )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)
    assert not DBTaskResult.objects.exists()


def test_password_change_enforces_the_validators(client):
    user = UserFactory()
    client.force_login(user)
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "short", "new_password2": "short"},
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


# --- API tokens ----------------------------------------------------------------------------------


def test_token_create_shows_the_raw_token_once(client, settings):
    settings.REVLINE_API_TOKEN_DAYS = 30
    user = UserFactory()
    client.force_login(user)
    form_page = client.get("/account/tokens/").content.decode()
    assert 'name="days" value="30"' in form_page
    response = client.post("/account/tokens/", {"name": "Forecast export", "days": "7"})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    token = ApiToken.objects.get(user=user)
    raw = response.context["raw_token"]
    assert raw.startswith(token.prefix)
    assert services.api_token_authenticate(raw=raw) == user
    body = response.content.decode()
    assert raw in body
    assert f'curl -H "Authorization: Bearer {raw}" http://testserver/api/v1/me' in body
    assert abs((token.expires_at - timezone.now()) - timedelta(days=7)) < timedelta(minutes=1)
    listing = client.get("/account/tokens/").content.decode()
    assert raw not in listing
    assert "Forecast export" in listing and token.prefix in listing


def test_token_create_rejects_a_bad_lifetime(client):
    client.force_login(UserFactory())
    response = client.post("/account/tokens/", {"name": "x", "days": "999"})
    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert response.context["raw_token"] is None


def test_token_list_shows_only_own_tokens_with_their_status(client):
    user, other = UserFactory(), UserFactory()
    services.api_token_create(user=user, name="active one")
    revoked, _ = services.api_token_create(user=user, name="revoked one")
    services.api_token_revoke(token=revoked, by=user)
    expired, _ = services.api_token_create(user=user, name="expired one")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(days=1))
    services.api_token_create(user=other, name="someone else's")
    client.force_login(user)
    body = client.get("/account/tokens/").content.decode()
    assert "someone else" not in body
    for name, status in [("active one", "Active"), ("revoked one", "Revoked")]:
        row = body[body.index(name) :]
        row = row[: row.index("</tr>")]
        assert status in row
    expired_row = body[body.index("expired one") :]
    assert "Expired" in expired_row[: expired_row.index("</tr>")]


def test_token_revoke(client):
    user = UserFactory()
    token, raw = services.api_token_create(user=user, name="script")
    client.force_login(user)
    response = client.post(f"/account/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert services.api_token_authenticate(raw=raw) is None


def test_token_revoke_by_htmx_returns_the_row(client):
    user = UserFactory()
    token, _ = services.api_token_create(user=user, name="script")
    client.force_login(user)
    response = client.post(f"/account/tokens/{token.pk}/revoke/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<tr id="token-{token.pk}"')
    assert "Revoked" in body


def test_token_revoke_needs_post(client):
    user = UserFactory()
    token, _ = services.api_token_create(user=user, name="script")
    client.force_login(user)
    assert client.get(f"/account/tokens/{token.pk}/revoke/").status_code == 405
    token.refresh_from_db()
    assert token.revoked_at is None


def test_another_users_token_answers_404(client):
    owner, intruder = UserFactory(), UserFactory()
    token, raw = services.api_token_create(user=owner, name="owner's")
    client.force_login(intruder)
    assert client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post("/account/tokens/999999/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert services.api_token_authenticate(raw=raw) == owner


# --- error pages ---------------------------------------------------------------------------------


def test_404_page_uses_the_shell(client, settings):
    settings.DEBUG = False
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "Sign in" in body
    client.force_login(UserFactory())
    body = client.get("/no/such/page/").content.decode()
    assert "Back to your cockpit" in body and 'class="sidebar"' in body


def test_500_page_renders_without_a_request():
    from django.template import loader

    html = loader.get_template("500.html").render()
    assert "Something went wrong" in html
