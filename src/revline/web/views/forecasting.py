"""Web views of the forecasting app."""

from __future__ import annotations

urlpatterns: list = []
