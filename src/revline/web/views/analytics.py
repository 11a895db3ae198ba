"""Web views of the analytics app."""

from __future__ import annotations

urlpatterns: list = []
