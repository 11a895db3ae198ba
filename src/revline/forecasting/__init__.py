"""Predicted forecasts and backtests trained on the organisation's closed deals."""
