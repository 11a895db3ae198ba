"""Revline: an open-source revenue operations platform built around the sales hierarchy."""

__version__ = "0.1.0"
