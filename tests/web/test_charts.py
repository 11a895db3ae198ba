"""The server-side SVG charts: values shown, text escaped, odd input survived."""

import xml.etree.ElementTree as ET
from decimal import Decimal

from revline.web.charts import (
    Bar,
    Series,
    bar_chart,
    funnel_chart,
    line_chart,
    nice_max,
    short_number,
    sparkline,
)

NS = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_nice_max_and_short_numbers():
    assert nice_max(0) == 1.0
    assert nice_max(7) == 10
    assert nice_max(180) == 200
    assert nice_max(2400) == 2500
    assert short_number(1_234_567) == "1.2M"
    assert short_number(0.456, "ratio") == "46%"
    assert short_number(42, "days") == "42d"
    assert short_number(2500) == "2.5k"


def test_line_chart_draws_each_series_and_lists_values():
    svg = line_chart(
        ["Q1", "Q2", "Q3"],
        [
            Series("Bookings", [100, Decimal("250.5"), None]),
            Series("Target", [200, 200, 200], True),
        ],
        title="Bookings <by quarter>",
        unit="money",
    )
    root = _parse(svg)
    assert root.find(f"{NS}title").text == "Bookings <by quarter>"
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 2  # the missing Q3 value ends the first line instead of dropping to 0
    assert "chart-dashed" in lines[1].get("class")
    assert len(lines[0].get("points").split()) == 2
    desc = root.find(f"{NS}desc").text
    assert "Bookings: Q1 100, Q2 250, Q3 n/a" in desc.replace("250.5", "250")


def test_bar_chart_links_and_targets():
    svg = bar_chart(
        [
            Bar("Anna <b>", 50, target=100, href="/opportunities/?owner=1&status=won"),
            Bar("Ben", None),
        ],
        title="Attainment",
    )
    root = _parse(svg)
    links = root.findall(f"{NS}a")
    assert [a.get("href") for a in links] == ["/opportunities/?owner=1&status=won"]
    assert root.findall(f"{NS}line")[-1].get("class") == "chart-target"
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "Anna <b>" in labels and "n/a" in labels
    assert "<b>" not in svg  # escaped, not markup


def test_funnel_shows_step_conversion():
    root = _parse(funnel_chart([("Leads", 200), ("SQLs", 50), ("Won", 10)], title="Funnel"))
    assert root.find(f"{NS}desc").text == "Leads 200; SQLs 50 (25%); Won 10 (20%)"


def test_sparkline_needs_two_points():
    assert sparkline([1]) == ""
    assert "polyline" in sparkline([1, None, 3])
