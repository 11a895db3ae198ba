"""``{% load forecasting_tags %}``: shares as percentages for the forecasting page."""

from django import template

register = template.Library()


@register.filter
def pct(value, signed: bool = False) -> str:
    """``0.1234`` -> ``12.3%`` (``|pct:True`` -> ``+12.3%``); ``—`` for none."""
    if value is None or value == "":
        return "—"
    number = float(value) * 100
    return f"{number:+.1f}%" if signed else f"{number:.1f}%"
