"""Who gets in: tokens, passwords, throttling, sessions and CSRF."""

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from revline.org import services
from revline.org.models import ApiToken, LoginAttempt
from tests.api.conftest import ApiClient, assert_error, token_for
from tests.org.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_token_issue_and_use(anon):
    user = UserFactory()
    response = anon.post(
        "/auth/token", {"email": user.email.upper(), "password": PASSWORD, "name": "ci"}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["token"].startswith("rvl_")
    assert {"id", "token", "expires_at", "name", "prefix"} <= body.keys()
    token = ApiToken.objects.get(pk=body["id"])
    assert token.user == user and token.name == "ci"
    assert token.digest != body["token"]  # stored hashed
    me = ApiClient(body["token"]).get("/me")
    assert me.status_code == 200
    assert me.json()["email"] == user.email
    assert LoginAttempt.objects.filter(email=user.email, succeeded=True, channel="api").exists()


def test_token_days_out_of_range_is_validation_error(anon):
    user = UserFactory()
    response = anon.post("/auth/token", {"email": user.email, "password": PASSWORD, "days": 999})
    body = assert_error(response, 422, "validation_error")
    assert body["errors"][0]["field"] == "days"


def test_wrong_password_is_401(anon):
    user = UserFactory()
    response = anon.post("/auth/token", {"email": user.email, "password": "nope"})
    assert_error(response, 401, "unauthorized")
    assert not ApiToken.objects.exists()


def test_unknown_email_is_401(anon):
    response = anon.post("/auth/token", {"email": "ghost@example.test", "password": PASSWORD})
    assert_error(response, 401, "unauthorized")


def test_inactive_user_cannot_get_token(anon):
    user = UserFactory(is_active=False)
    response = anon.post("/auth/token", {"email": user.email, "password": PASSWORD})
    assert_error(response, 401, "unauthorized")


@override_settings(REVLINE_LOGIN_MAX_FAILURES_PER_EMAIL=2)
def test_login_throttled_is_429(anon):
    user = UserFactory()
    for _ in range(2):
        assert_error(
            anon.post("/auth/token", {"email": user.email, "password": "bad"}), 401, "unauthorized"
        )
    # even the right password is refused while throttled
    response = anon.post("/auth/token", {"email": user.email, "password": PASSWORD})
    assert_error(response, 429, "throttled")


def test_anonymous_is_401_json(anon, org):
    for path in ["/me", "/org/positions", f"/org/positions/{org['ae1'].pk}", "/org/chart"]:
        response = anon.get(path)
        assert_error(response, 401, "unauthorized")
        assert "Bearer" in response["WWW-Authenticate"]
    assert_error(anon.post("/org/positions", {"title": "x", "role": "ae"}), 401, "unauthorized")


def test_unknown_token_is_401(org):
    assert_error(ApiClient("rvl_not-a-real-token").get("/me"), 401, "unauthorized")
    assert_error(ApiClient("garbage").get("/me"), 401, "unauthorized")


def test_other_auth_scheme_is_ignored(org):
    basic = "Basic dXNlcjpwYXNz"  # e.g. from a password-protected proxy
    assert_error(ApiClient().get("/me", HTTP_AUTHORIZATION=basic), 401, "unauthorized")
    client = Client()
    client.force_login(org["ae1"].holder)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=basic)
    assert response.status_code == 200


def test_expired_token_is_401():
    user = UserFactory()
    raw = token_for(user)
    ApiToken.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert_error(ApiClient(raw).get("/me"), 401, "unauthorized")


def test_revoked_token_is_401(api_as):
    user = UserFactory()
    raw = token_for(user)
    client = ApiClient(raw)
    assert client.get("/me").status_code == 200
    token = ApiToken.objects.get(user=user)
    assert client.delete(f"/auth/tokens/{token.pk}").status_code == 204
    assert_error(client.get("/me"), 401, "unauthorized")


def test_token_of_deactivated_user_is_401():
    user = UserFactory()
    raw = token_for(user)
    user.is_active = False
    user.save()
    assert_error(ApiClient(raw).get("/me"), 401, "unauthorized")


def test_bad_token_does_not_fall_back_to_session():
    user = UserFactory()
    client = Client()
    client.force_login(user)
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer rvl_wrong")
    assert_error(response, 401, "unauthorized")


def test_tokens_list_shows_own_tokens_without_secrets(api_as):
    user, other = UserFactory(), UserFactory()
    services.api_token_create(user=other, name="not mine")
    client = api_as(user)
    services.api_token_create(user=user, name="second")
    body = client.get("/auth/tokens").json()
    assert body["total"] == 2
    assert {t["name"] for t in body["items"]} == {"test", "second"}
    for item in body["items"]:
        assert "token" not in item and "digest" not in item
        assert item["prefix"].startswith("rvl_")


def test_revoking_another_users_token_is_404(api_as):
    user, other = UserFactory(), UserFactory()
    theirs, _ = services.api_token_create(user=other, name="theirs")
    assert_error(api_as(user).delete(f"/auth/tokens/{theirs.pk}"), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def test_session_auth_works_for_reads():
    user = UserFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.json()["id"] == user.pk


def test_session_post_requires_csrf(org):
    admin = org["revops"].holder
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    body = '{"name": "EMEA", "code": "emea"}'
    response = client.post("/api/v1/org/regions", body, content_type="application/json")
    assert_error(response, 403, "forbidden")
    assert "CSRF" in response.json()["message"]

    # with the CSRF cookie and the matching header, as the browser sends them
    secret = "s3cr3t" * 5 + "ab"  # a 32-character CSRF secret
    client.cookies["csrftoken"] = secret
    response = client.post(
        "/api/v1/org/regions", body, content_type="application/json", HTTP_X_CSRFTOKEN=secret
    )
    assert response.status_code == 201, response.content


def test_bearer_post_needs_no_csrf(org):
    client = ApiClient(token_for(org["revops"].holder), Client(enforce_csrf_checks=True))
    response = client.post("/org/regions", {"name": "EMEA", "code": "emea"})
    assert response.status_code == 201, response.content
