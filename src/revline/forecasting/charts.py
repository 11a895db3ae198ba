"""The forecasting page's two charts, drawn on the server as inline SVG (no script, no CDN).

- ``range_chart``: one period's predicted range: won to date, the P10-P90 band, P50, the
  expected value and the stage-weighted baseline on one money axis;
- ``backtest_chart``: per cut-off, what was actually won and what each method forecast.

Both carry a ``<title>`` and a ``<desc>`` listing their numbers, so a screen reader (and a
test) reads what the picture shows. Colours come from the ``chart-*`` classes of revline.css.
The axis scale (``nice_max``), the number format and the ``<svg>`` document are those of
``revline.web.charts``, which draws every other chart; the margins are these charts' own.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString

from revline.web.charts import _Frame, _svg, nice_max, short_number

SERIES_CLASS = {"actual": "chart-target", "predicted": "chart-series-0"}
OTHER_CLASSES = ["chart-series-1", "chart-series-2", "chart-series-3"]


def money_short(value: float) -> str:
    """``1234567`` -> ``$1.2M`` (``web.charts.short_number`` in dollars)."""
    if abs(value) < 1000:
        return f"${value:,.0f}"
    return f"${short_number(value)}"


def _chart(width: int, height: int, title: str, desc: str, body: list[str]) -> SafeString:
    frame = _Frame(width, height, parts=body)
    return _svg(frame, title, desc, "chart-forecast")


def range_chart(
    *,
    expected: float,
    p10: float,
    p50: float,
    p90: float,
    won_to_date: float = 0.0,
    baseline: float | None = None,
    quota: float | None = None,
    width: int = 640,
) -> SafeString:
    """One horizontal money axis: won to date (a solid bar), P10-P90 (a band), P50 and the
    expected value (marks), the stage-weighted baseline and the quota (dashed marks)."""
    height, left, right, top = 96, 12, 12, 18
    values = [p90, expected, won_to_date, baseline or 0.0, quota or 0.0]
    top_value = nice_max(max(values) * 1.05)
    plot = width - left - right

    def x(v: float) -> float:
        return left + plot * max(0.0, v) / top_value

    y0, band = top + 8, 26
    body = [
        f'<line class="chart-grid" x1="{left}" y1="{y0 + band + 6}" x2="{width - right}" '
        f'y2="{y0 + band + 6}"/>'
    ]
    for i in range(5):
        v = top_value * i / 4
        body.append(
            f'<text class="chart-tick" x="{x(v):.1f}" y="{y0 + band + 22}" '
            f'text-anchor="middle">{escape(money_short(v))}</text>'
        )
    if won_to_date > 0:
        body.append(
            f'<rect class="chart-series-2" x="{left}" y="{y0 + 8}" width="{x(won_to_date) - left:.1f}"'
            f' height="{band - 16}" opacity="0.8"><title>Won to date</title></rect>'
        )
    body.append(
        f'<rect class="chart-series-0" x="{x(p10):.1f}" y="{y0}" '
        f'width="{max(1.0, x(p90) - x(p10)):.1f}" height="{band}" opacity="0.22">'
        "<title>P10 to P90</title></rect>"
    )
    body.append(
        f'<line class="chart-line chart-series-0" x1="{x(p50):.1f}" y1="{y0 - 4}" '
        f'x2="{x(p50):.1f}" y2="{y0 + band + 4}"><title>P50</title></line>'
    )
    ex = x(expected)
    body.append(
        f'<path class="chart-series-0" d="M{ex:.1f} {y0 - 10} l5 -7 h-10 z">'
        "<title>Expected</title></path>"
    )
    for value, css, name in ((baseline, "chart-series-1", "Stage-weighted"), (quota, "", "Quota")):
        if value is None:
            continue
        extra = f" {css}" if css else " chart-target"
        body.append(
            f'<line class="chart-line chart-dashed{extra}" x1="{x(value):.1f}" y1="{y0 - 6}" '
            f'x2="{x(value):.1f}" y2="{y0 + band + 6}"><title>{escape(name)}</title></line>'
        )
    desc = (
        f"Won to date {money_short(won_to_date)}; P10 {money_short(p10)}, P50 {money_short(p50)},"
        f" P90 {money_short(p90)}; expected {money_short(expected)}"
    )
    if baseline is not None:
        desc += f"; stage-weighted {money_short(baseline)}"
    if quota is not None:
        desc += f"; quota {money_short(quota)}"
    return _chart(width, height, "Predicted bookings", desc + ".", body)


def backtest_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float | None]]],
    *,
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Lines over the cut-offs: ``series`` is ``(key, name, values)``; ``actual`` is drawn
    solid and dark, the others in the series colours, with a legend."""
    left, right, top, bottom = 52, 12, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    found = [v for _, _, values in series for v in values if v is not None]
    top_value = nice_max(max(found) * 1.05) if found else 1.0
    n = max(1, len(labels))

    def x(i: int) -> float:
        return left + (plot_w * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + plot_h * (1 - min(v, top_value) / top_value)

    body = []
    for i in range(5):
        v = top_value * i / 4
        body.append(
            f'<line class="chart-grid" x1="{left}" y1="{y(v):.1f}" x2="{width - right}" '
            f'y2="{y(v):.1f}"/><text class="chart-tick" x="{left - 6}" y="{y(v) + 3:.1f}" '
            f'text-anchor="end">{escape(money_short(v))}</text>'
        )
    for i, label in enumerate(labels):
        body.append(
            f'<text class="chart-tick" x="{x(i):.1f}" y="{height - 10}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    others = iter(OTHER_CLASSES * 3)
    legend_x = left
    desc_parts = []
    for key, name, values in series:
        css = SERIES_CLASS.get(key) or next(others)
        points = [(x(i), y(v)) for i, v in enumerate(values) if v is not None]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            dashed = "" if key in SERIES_CLASS else " chart-dashed"
            body.append(f'<polyline class="chart-line {css}{dashed}" points="{path}"/>')
            body += [
                f'<circle class="{css}" cx="{px:.1f}" cy="{py:.1f}" r="2.5"/>' for px, py in points
            ]
        body.append(
            f'<rect class="{css}" x="{legend_x}" y="6" width="10" height="10"/>'
            f'<text class="chart-label" x="{legend_x + 14}" y="15">{escape(name)}</text>'
        )
        legend_x += 24 + 6.5 * len(name)
        shown = ", ".join(
            f"{label} {money_short(v)}"
            for label, v in zip(labels, values, strict=False)
            if v is not None
        )
        desc_parts.append(f"{name}: {shown}")
    return _chart(
        width, height, "Backtest: forecast against actual", "; ".join(desc_parts) + ".", body
    )
