"""Charts drawn on the server as inline SVG (no script, no CDN): a line of points and a row of
bars, scaled into a fixed box with the zero line marked. Every point and bar carries its label
and value (data-x, data-y, a <title>) for a reader, a screen reader and a test."""
from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 640, 180, 12


def _scale(values: list[int]) -> tuple[int, int]:
    """The range drawn: the values' and zero's."""
    return min(values + [0]), max(values + [0])


def _y(value: int, low: int, high: int) -> float:
    span = (high - low) or 1
    return round(PAD + (high - value) * (HEIGHT - 2 * PAD) / span, 1)


def _box(chart_id: str, title: str, body: str, low: int, high: int) -> Markup:
    zero = _y(0, low, high)
    return Markup(
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<title>{escape(title)}</title>'
        f'<line class="zero" x1="0" y1="{zero}" x2="{WIDTH}" y2="{zero}" stroke="#999" '
        f'stroke-dasharray="4 3"/>{body}</svg>')


def line(chart_id: str, title: str, points: list[tuple[str, int, str]]) -> Markup:
    """(label, value, value as shown) in order, joined by a line."""
    if not points:
        return Markup("")
    low, high = _scale([v for _, v, _ in points])
    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)
    xy = [(round(PAD + k * step, 1), _y(v, low, high)) for k, (_, v, _) in enumerate(points)]
    body = (f'<polyline fill="none" stroke="#1565c0" stroke-width="2" '
            f'points="{" ".join(f"{x},{y}" for x, y in xy)}"/>')
    body += "".join(
        f'<circle class="point" cx="{x}" cy="{y}" r="3" fill="#1565c0" '
        f'data-x="{escape(label)}" data-y="{escape(shown)}"><title>{escape(label)}: '
        f'{escape(shown)}</title></circle>'
        for (x, y), (label, _, shown) in zip(xy, points))
    return _box(chart_id, title, body, low, high)


def bars(chart_id: str, title: str, values: list[tuple[str, int, str]]) -> Markup:
    """(label, value, value as shown) in order, a bar each from the zero line: green up, red
    down."""
    if not values:
        return Markup("")
    low, high = _scale([v for _, v, _ in values])
    slot = (WIDTH - 2 * PAD) / len(values)
    zero, body = _y(0, low, high), ""
    for k, (label, value, shown) in enumerate(values):
        top = _y(value, low, high)
        body += (f'<rect class="bar" x="{round(PAD + k * slot + slot * 0.15, 1)}" '
                 f'y="{min(top, zero)}" width="{round(slot * 0.7, 1)}" '
                 f'height="{round(abs(zero - top), 1)}" '
                 f'fill="{"#2e7d32" if value >= 0 else "#c62828"}" data-x="{escape(label)}" '
                 f'data-y="{escape(shown)}"><title>{escape(label)}: {escape(shown)}</title></rect>')
    return _box(chart_id, title, body, low, high)
