"""API routes of the scoring app, mounted under ``/api/v1/`` (revline/api/api.py)."""

from ninja import Router

router = Router(tags=["scoring"])
