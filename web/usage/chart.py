"""A small bar-and-line chart of minutes and estimated cost per day, drawn as SVG on the server (no script).

Only presentation attributes are used (no style attributes), so the strict CSP applies unchanged. Every bar carries
its figures in data-* attributes and a <title>, which is what screen readers and the tests read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from web.usage.reports import DayTotal

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 56, 16, 28


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    step = 10 ** len(str(int(value))) / 10 if value >= 1 else 0.1
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        if step * factor >= value:
            return step * factor
    return value


def usage_chart(days: Sequence[DayTotal], *, minutes_label: str, cost_label: str) -> Markup:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top_minutes = _nice_max(max((d.minutes for d in days), default=0.0))
    top_cost = _nice_max(max((d.cost_usd for d in days), default=0.0))
    slot = plot_w / max(1, len(days))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="usage-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" aria-label="{escape(minutes_label)} / {escape(cost_label)}" data-testid="usage-chart">',
             f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#888"/>',
             f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11" fill="#2b6cb0">'
             f'{top_minutes:g}</text>',
             f'<text x="{LEFT + plot_w + 6}" y="{TOP + 10}" font-size="11" fill="#c05621">${top_cost:g}</text>',
             f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" font-size="11" fill="#2b6cb0">0</text>',
             f'<text x="4" y="{HEIGHT - 6}" font-size="11" fill="#2b6cb0">{escape(minutes_label)}</text>',
             f'<text x="{WIDTH - 4}" y="{HEIGHT - 6}" text-anchor="end" font-size="11" fill="#c05621">'
             f'{escape(cost_label)}</text>']
    points = []
    for index, day in enumerate(days):
        date = dt.datetime.fromtimestamp(day.day, dt.UTC).strftime("%Y-%m-%d")
        bar_h = plot_h * day.minutes / top_minutes
        x = LEFT + index * slot
        parts.append(
            f'<rect class="bar" x="{x + slot * 0.15:.1f}" y="{TOP + plot_h - bar_h:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{bar_h:.1f}" fill="#2b6cb0" data-day="{date}" data-minutes="{day.minutes:.2f}" '
            f'data-cost="{day.cost_usd:.4f}"><title>{date}: {day.minutes:.1f} min, ${day.cost_usd:.2f}</title></rect>')
        points.append(f"{x + slot / 2:.1f},{TOP + plot_h - plot_h * day.cost_usd / top_cost:.1f}")
        if index % 7 == 0 or index == len(days) - 1:
            parts.append(f'<text x="{x + slot / 2:.1f}" y="{TOP + plot_h + 14}" text-anchor="middle" '
                         f'font-size="10" fill="#555">{date[5:]}</text>')
    parts.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#c05621" stroke-width="2"/>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped or a number
