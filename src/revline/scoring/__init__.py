"""Predictive lead scoring and ideal-customer-profile fit."""
