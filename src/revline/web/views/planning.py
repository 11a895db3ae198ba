"""Web views of the planning app."""

from __future__ import annotations

urlpatterns: list = []
