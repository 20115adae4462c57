"""Small SVG charts, written out at build time: the report is one file that prints and needs no
network, no script and no chart library (stdlib only, like the rest of ``reports``).

Two shapes cover what the report draws: horizontal bars against a target line (the booking
flow's p50/p95/p99 against 45 s, each endpoint's latency) and a line over points with a target
(the capacity curve). Each returns the markup of one ``<svg>`` with a ``<title>`` and
``data-chart`` naming it; values are printed beside the marks, so the chart reads on paper.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH = 720
OK, BAD, NEUTRAL, TARGET = "#1a7f37", "#cf222e", "#0969da", "#9a6700"


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _nice_max(value: float) -> float:
    """A round axis end above `value` (1, 2, 2.5, 5 × 10^n)."""
    if value <= 0:
        return 1.0
    exp = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10 ** exp
        if candidate >= value:
            return float(candidate)
    return float(10 ** (exp + 1))


def bar_chart(name: str, title: str, bars: Sequence[tuple[str, float | None]], *,
              unit: str, target: float | None = None, target_label: str = "target",
              label_width: int = 210) -> str:
    """Horizontal bars, one per (label, value); bars over `target` are drawn red. A missing
    value is written as "no data" instead of a bar."""
    known = [v for _, v in bars if v is not None]
    top = _nice_max(max([*known, target or 0.0, 0.0]) * 1.08)
    row_h, pad_top, pad_bottom = 26, 34, 30
    height = pad_top + row_h * max(1, len(bars)) + pad_bottom
    plot_w = WIDTH - label_width - 70
    x0 = label_width

    def x(value: float) -> float:
        return x0 + plot_w * value / top

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" class="chart-title">{escape(title)}</text>']
    for tick in range(5):
        at = top * tick / 4
        tx = x(at)
        parts.append(f'<line x1="{tx:.1f}" y1="{pad_top - 6}" x2="{tx:.1f}" '
                     f'y2="{height - pad_bottom + 4}" class="grid"/>')
        parts.append(f'<text x="{tx:.1f}" y="{height - 10}" text-anchor="middle" '
                     f'class="tick">{_fmt(at)} {escape(unit)}</text>')
    for n, (label, value) in enumerate(bars):
        y = pad_top + n * row_h
        parts.append(f'<text x="{x0 - 8}" y="{y + 15}" text-anchor="end" '
                     f'class="label">{escape(label)}</text>')
        if value is None:
            parts.append(f'<text x="{x0 + 4}" y="{y + 15}" class="value">no data</text>')
            continue
        over = target is not None and value > target
        width = max(1.0, x(value) - x0)
        parts.append(f'<rect x="{x0}" y="{y + 3}" width="{width:.1f}" height="{row_h - 8}" '
                     f'fill="{BAD if over else (OK if target is not None else NEUTRAL)}" '
                     f'data-value="{value:g}"><title>{escape(label)}: {_fmt(value)} '
                     f'{escape(unit)}</title></rect>')
        parts.append(f'<text x="{x0 + width + 5:.1f}" y="{y + 15}" class="value">'
                     f"{_fmt(value)} {escape(unit)}</text>")
    if target is not None:
        tx = x(target)
        parts.append(f'<line x1="{tx:.1f}" y1="{pad_top - 8}" x2="{tx:.1f}" '
                     f'y2="{height - pad_bottom + 4}" stroke="{TARGET}" stroke-width="2" '
                     f'stroke-dasharray="6 3" class="target"/>')
        parts.append(f'<text x="{tx + 4:.1f}" y="{pad_top - 12}" class="target-label">'
                     f"{escape(target_label)} {_fmt(target)} {escape(unit)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def line_chart(name: str, title: str, points: Sequence[tuple[float, float | None, bool]], *,
               x_unit: str, y_unit: str, target: float | None = None,
               target_label: str = "target") -> str:
    """A line through (x, y, ok) points, each marked green (ok) or red; a dashed target line."""
    known = [(px, py, ok) for px, py, ok in points if py is not None]
    xs = [p[0] for p in points] or [1.0]
    y_top = _nice_max(max([p[1] for p in known] + [target or 0.0, 0.0]) * 1.1)
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    left, right, top, bottom, height = 64, 24, 34, 40, 300
    plot_w, plot_h = WIDTH - left - right, height - top - bottom

    def sx(value: float) -> float:
        return left + plot_w * (value - x_lo) / (x_hi - x_lo)

    def sy(value: float) -> float:
        return top + plot_h * (1 - value / y_top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="{escape(name)}" '
             f'viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" '
             f'aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="16" class="chart-title">{escape(title)}</text>']
    for tick in range(5):
        value = y_top * tick / 4
        ty = sy(value)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{WIDTH - right}" y2="{ty:.1f}" '
                     f'class="grid"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" class="tick">'
                     f"{_fmt(value)} {escape(y_unit)}</text>")
    for px in xs:
        parts.append(f'<text x="{sx(px):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                     f'class="tick">{px:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                 f'class="tick">{escape(x_unit)}</text>')
    if target is not None:
        ty = sy(target)
        parts.append(f'<line x1="{left}" y1="{ty:.1f}" x2="{WIDTH - right}" y2="{ty:.1f}" '
                     f'stroke="{TARGET}" stroke-width="2" stroke-dasharray="6 3" class="target"/>')
        parts.append(f'<text x="{WIDTH - right}" y="{ty - 5:.1f}" text-anchor="end" '
                     f'class="target-label">{escape(target_label)} {_fmt(target)} '
                     f"{escape(y_unit)}</text>")
    if len(known) > 1:
        path = " ".join(f"{sx(px):.1f},{sy(py):.1f}" for px, py, _ in known)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{NEUTRAL}" '
                     f'stroke-width="2" class="curve"/>')
    for px, py, ok in known:
        parts.append(f'<circle cx="{sx(px):.1f}" cy="{sy(py):.1f}" r="5" '
                     f'fill="{OK if ok else BAD}" data-value="{py:g}"><title>{px:g} '
                     f"{escape(x_unit)}: {_fmt(py)} {escape(y_unit)}</title></circle>")
        parts.append(f'<text x="{sx(px):.1f}" y="{sy(py) - 9:.1f}" text-anchor="middle" '
                     f'class="value">{_fmt(py)}</text>')
    parts.append("</svg>")
    return "".join(parts)
