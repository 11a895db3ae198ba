"""API routes (filled in by the issue 3 work)."""

from ninja import Router

router = Router(tags=["pipeline"])
