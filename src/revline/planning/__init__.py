"""Quotas, targets, budgets and submitted forecasts."""
