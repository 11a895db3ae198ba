"""Web views of the scoring app."""

from __future__ import annotations

urlpatterns: list = []
