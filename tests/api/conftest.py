"""Helpers for API tests: a client that speaks JSON with a bearer token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from revline.org import services

BASE = "/api/v1"


def token_for(user) -> str:
    _, raw = services.api_token_create(user=user, name="test")
    return raw


class ApiClient:
    """``Client`` with ``Authorization: Bearer ...`` (or none) and JSON bodies."""

    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        self.client = client or Client()
        self.headers: dict[str, str] = {}
        if token:
            self.headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"

    def _url(self, path: str) -> str:
        return path if path.startswith("/api/") else BASE + path

    def get(self, path: str, data: dict[str, Any] | None = None, **extra):
        return self.client.get(self._url(path), data or {}, **self.headers, **extra)

    def _send(self, method: str, path: str, body: Any = None, **extra):
        payload = "" if body is None else json.dumps(body)
        return getattr(self.client, method)(
            self._url(path), payload, content_type="application/json", **self.headers, **extra
        )

    def post(self, path: str, body: Any = None, **extra):
        return self._send("post", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra):
        return self._send("patch", path, body, **extra)

    def put(self, path: str, body: Any = None, **extra):
        return self._send("put", path, body, **extra)

    def delete(self, path: str, **extra):
        return self.client.delete(self._url(path), **self.headers, **extra)


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    """The response is a JSON error with this status and code (and a message)."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    return body


@pytest.fixture
def api_as():
    """``api_as(user)``: an ``ApiClient`` authenticated with a fresh token of ``user``."""

    def make(user) -> ApiClient:
        return ApiClient(token_for(user))

    return make


@pytest.fixture
def anon() -> ApiClient:
    return ApiClient()
