"""Small server-side SVG charts: inline markup, no script, no external assets.

Each chart is `role="img"` with a `<title>` (its accessible name) and a `<desc>` listing
every value, so a screen reader gets the numbers, not the drawing. Every label is escaped
with `html.escape` before it enters the markup; only then is the whole marked safe for
Jinja. Colours and type sizes come from classes styled in `monitoring.css` (the CSP allows
no inline `<style>`), with presentation attributes as a fallback. The viewBox is fixed:
bar charts are drawn for a card about 400 px wide, column charts for a full-width card.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

BAR_WIDTH = 400
ROW = 24
LABEL_WIDTH = 172
VALUE_WIDTH = 36
MAX_LABEL = 24
COLUMN_WIDTH = 640
COLUMN_HEIGHT = 160
AXIS_GAP = 22
MAX_TICKS = 8
PAD = 8

Point = tuple[str, float]
Fmt = Callable[[float], str]


def _count(value: float) -> str:
    return str(round(value))


def _short(label: str, limit: int = MAX_LABEL) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _frame(
    title: str, size: tuple[int, int], body: list[str], points: Sequence[Point], fmt: Fmt
) -> Markup:
    desc = "; ".join(f"{label}: {fmt(value)}" for label, value in points)
    svg = (
        f'<svg class="chart" role="img" viewBox="0 0 {size[0]} {size[1]}" '
        f'xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMinYMin meet">'
        f"<title>{escape(title)}</title><desc>{escape(desc)}</desc>{''.join(body)}</svg>"
    )
    # Safe: the callers escaped every label and value they put in `body`.
    return Markup(svg)  # noqa: S704


def bar_chart(title: str, bars: Sequence[Point], fmt: Fmt = _count) -> Markup:
    """Horizontal bars, one row per label, the value printed after each bar.
    Nothing to draw gives empty markup, so the template can say "no data" instead."""
    if not bars:
        return Markup("")
    top = max((value for _, value in bars), default=0) or 1
    room = BAR_WIDTH - LABEL_WIDTH - VALUE_WIDTH - PAD
    body: list[str] = []
    for index, (label, value) in enumerate(bars):
        y = PAD + index * ROW
        length = max(0.0, value) / top * room
        middle = f"{y + ROW / 2 + 4:.1f}"
        body.append(
            f'<g class="row"><title>{escape(f"{label}: {fmt(value)}")}</title>'
            f'<text class="label" x="{LABEL_WIDTH - 6}" y="{middle}" text-anchor="end">'
            f"{escape(_short(label))}</text>"
            f'<rect class="bar" x="{LABEL_WIDTH}" y="{y + 4}" width="{_num(length)}" '
            f'height="{ROW - 8}" fill="#15803d"></rect>'
            f'<text class="value" x="{_num(LABEL_WIDTH + length + 5)}" y="{middle}">'
            f"{escape(fmt(value))}</text></g>"
        )
    return _frame(title, (BAR_WIDTH, 2 * PAD + len(bars) * ROW), body, bars, fmt)


def column_chart(title: str, columns: Sequence[Point], fmt: Fmt = _count) -> Markup:
    """Columns over time, left to right, with at most MAX_TICKS labels under the axis
    and the highest value on a guide line; each column's tooltip gives its value."""
    if not columns:
        return Markup("")
    top = max((value for _, value in columns), default=0) or 1
    left, right = 40, COLUMN_WIDTH - PAD
    slot = (right - left) / len(columns)
    base = PAD + COLUMN_HEIGHT
    every = max(1, -(-len(columns) // MAX_TICKS))  # ceiling division
    body = [
        f'<line class="guide" x1="{left}" y1="{PAD}" x2="{right}" y2="{PAD}" '
        f'stroke="#e5e7eb"></line>'
        f'<line class="axis" x1="{left}" y1="{base}" x2="{right}" y2="{base}" '
        f'stroke="#9ca3af"></line>'
        f'<text class="value" x="{left - 5}" y="{PAD + 4}" text-anchor="end">'
        f"{escape(fmt(top))}</text>"
        f'<text class="value" x="{left - 5}" y="{base}" text-anchor="end">0</text>'
    ]
    for index, (label, value) in enumerate(columns):
        x = left + index * slot
        height = max(0.0, value) / top * COLUMN_HEIGHT
        body.append(
            f'<g class="column"><title>{escape(f"{label}: {fmt(value)}")}</title>'
            f'<rect class="bar" x="{_num(x + slot * 0.12)}" y="{_num(base - height)}" '
            f'width="{_num(slot * 0.76)}" height="{_num(height)}" fill="#15803d"></rect></g>'
        )
        if index % every == 0:
            body.append(
                f'<text class="tick" x="{_num(x + slot / 2)}" y="{base + AXIS_GAP - 5}" '
                f'text-anchor="middle">{escape(_short(label, 12))}</text>'
            )
    return _frame(title, (COLUMN_WIDTH, base + AXIS_GAP), body, columns, fmt)
