"""Charts drawn on the server as inline SVG: no script, no network, nothing the CSP must allow.

Each function takes plain figures and returns Markup; every label is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

COLOURS = {
    "violation": "#c0392b",
    "warning": "#e67e22",
    "info": "#2980b9",
    "bar": "#0f4c81",
    "low": "#c0392b",
    "line": "#1d2733",
}


def _number(value: Decimal | int | float) -> str:
    if isinstance(value, int) or float(value) == int(float(value)) or abs(float(value)) >= 100:
        return f"{float(value):,.0f}"
    return f"{float(value):,.2f}"


def _text_width(text: str, size: int = 12) -> float:
    """Roughly how wide a label is drawn: CJK characters are square, Latin ones about half."""
    return sum(size * 1.05 if ord(ch) > 0x2E80 else size * 0.66 for ch in text)


def bars(
    items: Sequence[tuple[str, Decimal | int | None]],
    *,
    threshold: Decimal | int | None = None,
    threshold_label: str = "",
    title: str = "",
    width: int = 640,
    bar_height: int = 22,
    empty: str = "",
) -> Markup:
    """Horizontal bars, one per label; bars below `threshold` are red, a dashed line marks it."""
    known = [(label, value) for label, value in items]
    if not known:
        return Markup('<p class="muted">{}</p>').format(empty)
    label_width = int(min(max(_text_width(label) for label, _ in known) + 16, width * 0.5))
    plot = width - label_width - 70
    top = max([float(v) for _, v in known if v is not None] + [float(threshold or 0), 1.0])
    height = bar_height * len(known) + 30
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for i, (label, value) in enumerate(known):
        y = 10 + i * bar_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + bar_height * 0.65:.1f}" text-anchor="end" '
            f'font-size="12">{escape(label)}</text>'
        )
        if value is None:
            parts.append(
                f'<text x="{label_width + 4}" y="{y + bar_height * 0.65:.1f}" font-size="11" '
                f'fill="#5b6b7b">—</text>'
            )
            continue
        length = plot * float(value) / top
        low = threshold is not None and float(value) < float(threshold)
        colour = COLOURS["low"] if low else COLOURS["bar"]
        parts.append(
            f'<rect x="{label_width}" y="{y + 3}" width="{max(length, 1):.1f}" '
            f'height="{bar_height - 8}" fill="{colour}"><title>{escape(label)}: '
            f"{escape(_number(value))}</title></rect>"
        )
        parts.append(
            f'<text x="{label_width + max(length, 1) + 4:.1f}" y="{y + bar_height * 0.65:.1f}" '
            f'font-size="11">{escape(_number(value))}</text>'
        )
    if threshold is not None:
        x = label_width + plot * float(threshold) / top
        parts.append(
            f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 18}" stroke="{COLOURS["line"]}" '
            f'stroke-dasharray="4 3"/><text x="{x:.1f}" y="{height - 4}" text-anchor="middle" '
            f'font-size="11">{escape(threshold_label)} {escape(_number(threshold))}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    months: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[int | Decimal | None]]],
    *,
    title: str = "",
    threshold: Decimal | int | None = None,
    threshold_label: str = "",
    width: int = 640,
    height: int = 200,
    stacked: bool = True,
) -> Markup:
    """Vertical columns by month; `series` are (name, colour key, values per month), stacked."""
    left, bottom, top_pad = 44, 34, 14
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    totals = []
    for i in range(len(months)):
        values = [float(s[2][i] or 0) for s in series]
        totals.append(sum(values) if stacked else max(values or [0]))
    top = max([*totals, float(threshold or 0), 1.0]) * 1.1
    step = plot_w / max(len(months), 1)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 10}" y2="{top_pad + plot_h}" '
        'stroke="#8a98a8"/>',
        f'<text x="{left - 6}" y="{top_pad + 8}" text-anchor="end" font-size="10">'
        f"{escape(_number(round(top / 1.1)))}</text>",
        f'<text x="{left - 6}" y="{top_pad + plot_h}" text-anchor="end" font-size="10">0</text>',
    ]
    for i, month in enumerate(months):
        x = left + i * step
        base = top_pad + plot_h
        for name, colour, values in series:
            value = values[i]
            if value is None or not float(value):
                continue
            h = plot_h * float(value) / top
            y = base - h
            parts.append(
                f'<rect x="{x + step * 0.15:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS.get(colour, colour)}"><title>{escape(month)} '
                f"{escape(name)}: {escape(_number(value))}</title></rect>"
            )
            if stacked:
                base = y
        parts.append(
            f'<text x="{x + step / 2:.1f}" y="{height - 18}" text-anchor="middle" '
            f'font-size="10">{escape(month[2:])}</text>'
        )
    if threshold is not None:
        y = top_pad + plot_h - plot_h * float(threshold) / top
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
            f'stroke="{COLOURS["low"]}" stroke-dasharray="4 3"/>'
            f'<text x="{left + 4}" y="{y - 4:.1f}" font-size="10" fill="{COLOURS["low"]}">'
            f"{escape(threshold_label)} {escape(_number(threshold))}</text>"
        )
    legend_x = left
    for name, colour, _values in series:
        parts.append(
            f'<rect x="{legend_x}" y="{height - 10}" width="10" height="8" '
            f'fill="{COLOURS.get(colour, colour)}"/><text x="{legend_x + 14}" y="{height - 2}" '
            f'font-size="10">{escape(name)}</text>'
        )
        legend_x += 14 + 12 * max(len(name), 4)
    parts.append("</svg>")
    return Markup("".join(parts))
