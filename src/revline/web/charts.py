"""Charts drawn on the server as inline SVG: no script, no CDN, readable without JavaScript.

Each function takes plain numbers and returns markup safe to drop into a template (the
``{% chart %}`` helpers in ``web/templatetags/chart_tags.py`` call them). Every chart carries a
``<title>`` and a ``<desc>`` listing its values, so a screen reader (and a test) reads the
numbers the picture shows. Colours come from CSS classes (``chart-series-0`` ...), styled in
``static/web/charts.css``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

Number = int | float | Decimal | None


@dataclass
class Series:
    name: str
    values: Sequence[Number]
    dashed: bool = False


@dataclass
class Bar:
    label: str
    value: Number
    target: Number = None  # a marker drawn across the bar (quota, last period ...)
    href: str = ""


@dataclass
class _Frame:
    width: int
    height: int
    left: int = 44
    right: int = 12
    top: int = 12
    bottom: int = 26
    parts: list[str] = field(default_factory=list)

    @property
    def plot_w(self) -> int:
        return self.width - self.left - self.right

    @property
    def plot_h(self) -> int:
        return self.height - self.top - self.bottom


def _f(value: Number) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (axis top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power + 1e-12:
            return step * power
    return 10 * power


def short_number(value: float, unit: str = "") -> str:
    """``1234567`` -> ``1.2M``; ratios as percentages; days with a ``d``."""
    if unit == "ratio":
        return f"{value * 100:.0f}%"
    suffix = "d" if unit == "days" else ""
    magnitude = abs(value)
    for limit, letter in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            text = f"{value / limit:.1f}".rstrip("0").rstrip(".")
            return f"{text}{letter}{suffix}"
    if magnitude and magnitude < 10 and value != int(value):
        return f"{value:.1f}{suffix}"
    return f"{value:.0f}{suffix}"


def format_html(template: str, *args: object) -> SafeString:
    """``str.format`` with every text argument escaped; numbers keep their format specs."""
    safe = [a if isinstance(a, int | float) else conditional_escape(a) for a in args]
    return mark_safe(template.format(*safe))  # noqa: S308  # every argument escaped above


def _svg(frame: _Frame, title: str, desc: str, css: str) -> SafeString:
    head = format_html(
        '<svg class="chart {}" viewBox="0 0 {} {}" role="img" preserveAspectRatio="xMidYMid meet">'
        "<title>{}</title><desc>{}</desc>",
        css,
        frame.width,
        frame.height,
        title,
        desc,
    )
    return mark_safe(head + "".join(frame.parts) + "</svg>")  # noqa: S308  # parts are escaped


def _y_axis(frame: _Frame, top: float, unit: str, ticks: int = 4) -> None:
    for i in range(ticks + 1):
        value = top * i / ticks
        y = frame.top + frame.plot_h - frame.plot_h * i / ticks
        frame.parts.append(
            format_html(
                '<line class="chart-grid" x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}"/>'
                '<text class="chart-tick" x="{}" y="{:.1f}" text-anchor="end">{}</text>',
                frame.left,
                frame.width - frame.right,
                y,
                y,
                frame.left - 4,
                y + 3,
                short_number(value, unit),
            )
        )


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    unit: str = "",
    width: int = 480,
    height: int = 180,
) -> SafeString:
    """A trend: one line per series over ``labels`` (periods). Missing values break the line."""
    frame = _Frame(width, height)
    values = [v for s in series for v in map(_f, s.values) if v is not None]
    top = nice_max(max(values, default=0.0))
    _y_axis(frame, top, unit)
    count = max(len(labels), 1)
    step = frame.plot_w / max(count - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return frame.left + step * i, frame.top + frame.plot_h * (1 - v / top)

    label_every = max(1, math.ceil(count / 8))
    for i, label in enumerate(labels):
        if i % label_every == 0 or i == count - 1:
            frame.parts.append(
                format_html(
                    '<text class="chart-tick" x="{:.1f}" y="{}" text-anchor="middle">{}</text>',
                    frame.left + step * i,
                    height - 8,
                    label,
                )
            )
    for n, s in enumerate(series):
        segments: list[list[tuple[float, float]]] = [[]]
        for i, raw in enumerate(s.values):
            v = _f(raw)
            if v is None:
                segments.append([])
                continue
            segments[-1].append(xy(i, v))
        for seg in segments:
            if not seg:
                continue
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            frame.parts.append(
                format_html(
                    '<polyline class="chart-line chart-series-{}{}" points="{}"/>',
                    n,
                    " chart-dashed" if s.dashed else "",
                    points,
                )
            )
            for x, y in seg:
                frame.parts.append(
                    format_html(
                        '<circle class="chart-dot chart-series-{}" cx="{:.1f}" cy="{:.1f}" r="2.5"/>',
                        n,
                        x,
                        y,
                    )
                )
    desc = "; ".join(
        f"{s.name}: "
        + ", ".join(
            f"{label} {short_number(v, unit) if v is not None else 'n/a'}"
            for label, v in zip(labels, map(_f, s.values), strict=False)
        )
        for s in series
    )
    return _svg(frame, title, desc, "chart-line-chart")


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    unit: str = "",
    width: int = 480,
    row_height: int = 22,
) -> SafeString:
    """Horizontal bars, one row per label (reps, teams, regions, stages), with an optional
    target marker per bar; a bar with ``href`` links to the records behind it."""
    label_w = 130
    frame = _Frame(width, row_height * max(len(bars), 1) + 8, left=label_w, right=56, top=4)
    values = [v for b in bars for v in (_f(b.value), _f(b.target)) if v is not None]
    top = nice_max(max(values, default=0.0))
    for i, bar in enumerate(bars):
        y = frame.top + i * row_height
        value = _f(bar.value)
        length = 0.0 if value is None or value < 0 else frame.plot_w * min(value / top, 1.0)
        text = short_number(value, unit) if value is not None else "n/a"
        rect = format_html(
            '<text class="chart-label" x="{}" y="{:.1f}" text-anchor="end">{}</text>'
            '<rect class="chart-bar chart-series-0" x="{}" y="{:.1f}" width="{:.1f}" height="{}"/>'
            '<text class="chart-value" x="{:.1f}" y="{:.1f}">{}</text>',
            label_w - 6,
            y + row_height / 2 + 4,
            bar.label[:22],
            label_w,
            y + 3,
            length,
            row_height - 6,
            label_w + length + 4,
            y + row_height / 2 + 4,
            text,
        )
        if bar.href:
            rect = format_html('<a href="{}">{}</a>', bar.href, rect)
        frame.parts.append(rect)
        target = _f(bar.target)
        if target is not None and target >= 0:
            x = label_w + frame.plot_w * min(target / top, 1.0)
            frame.parts.append(
                format_html(
                    '<line class="chart-target" x1="{:.1f}" x2="{:.1f}" y1="{:.1f}" y2="{:.1f}"/>',
                    x,
                    x,
                    y + 1,
                    y + row_height - 1,
                )
            )
    desc = "; ".join(
        f"{b.label} {short_number(_f(b.value) or 0.0, unit) if _f(b.value) is not None else 'n/a'}"
        + (
            f" (target {short_number(_f(b.target) or 0.0, unit)})"
            if _f(b.target) is not None
            else ""
        )
        for b in bars
    )
    return _svg(frame, title, desc, "chart-bar-chart")


def funnel_chart(
    steps: Sequence[tuple[str, Number]], *, title: str, width: int = 480, row_height: int = 28
) -> SafeString:
    """A conversion funnel: centred bars shrinking step by step, each with its count and the
    share of the step before."""
    frame = _Frame(width, row_height * max(len(steps), 1) + 8, left=0, right=0, top=4)
    first = _f(steps[0][1]) if steps else None
    top = first if first else 1.0
    previous: float | None = None
    desc_parts = []
    for i, (label, raw) in enumerate(steps):
        value = _f(raw) or 0.0
        bar_w = max(2.0, (width - 160) * min(value / top, 1.0))
        x = (width - bar_w) / 2
        y = frame.top + i * row_height
        share = f" ({value / previous * 100:.0f}%)" if previous else ""
        frame.parts.append(
            format_html(
                '<rect class="chart-bar chart-series-{}" x="{:.1f}" y="{:.1f}" width="{:.1f}" '
                'height="{}"/><text class="chart-label" x="{}" y="{:.1f}">{}</text>'
                '<text class="chart-value" x="{}" y="{:.1f}" text-anchor="end">{}{}</text>',
                i % 4,
                x,
                y + 2,
                bar_w,
                row_height - 4,
                4,
                y + row_height / 2 + 4,
                label,
                width - 4,
                y + row_height / 2 + 4,
                short_number(value),
                share,
            )
        )
        desc_parts.append(f"{label} {short_number(value)}{share}")
        previous = value
    return _svg(frame, title, "; ".join(desc_parts), "chart-funnel")


def sparkline(values: Sequence[Number], *, width: int = 96, height: int = 24) -> SafeString:
    """A tiny trend line for a KPI tile (no axes)."""
    numbers = [_f(v) for v in values]
    present = [v for v in numbers if v is not None]
    if len(present) < 2:
        return mark_safe("")
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    step = (width - 4) / (len(numbers) - 1)
    points = " ".join(
        f"{2 + step * i:.1f},{2 + (height - 4) * (1 - (v - low) / span):.1f}"
        for i, v in enumerate(numbers)
        if v is not None
    )
    return format_html(
        '<svg class="chart chart-spark" viewBox="0 0 {} {}" width="{}" height="{}" '
        'aria-hidden="true"><polyline class="chart-line chart-series-0" points="{}"/></svg>',
        width,
        height,
        width,
        height,
        escape(points),
    )
