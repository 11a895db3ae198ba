"""``{% load chart_tags %}``: the server-side SVG charts of ``revline.web.charts`` in templates.

{% line_chart labels series title="Bookings" unit="money" %}
{% bar_chart bars title="Attainment by rep" unit="ratio" %}
{% funnel_chart steps title="Lead to won" %}
{% sparkline values %}
"""

from django import template

from revline.web import charts

register = template.Library()


@register.simple_tag
def line_chart(labels, series, title="", unit="", width=480, height=180):
    return charts.line_chart(labels, series, title=title, unit=unit, width=width, height=height)


@register.simple_tag
def bar_chart(bars, title="", unit="", width=480):
    return charts.bar_chart(bars, title=title, unit=unit, width=width)


@register.simple_tag
def funnel_chart(steps, title="", width=480):
    return charts.funnel_chart(steps, title=title, width=width)


@register.simple_tag
def sparkline(values):
    return charts.sparkline(values)
