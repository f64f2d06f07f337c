"""Charts drawn on the server as inline SVG (no script, no CDN): a line of points and a row of
bars, scaled into a fixed box with the zero line marked. Every point and bar carries its label
and value (data-x, data-y, a <title>) for a reader, a screen reader and a test."""
from __future__ import annotations

from fractions import Fraction
from typing import Callable

from markupsafe import Markup, escape

from schemas.money import paise_to_rupees, signed_rupees

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


def over_time(chart_id: str, title: str, series: dict[str, list[tuple[int, float, str, str]]],
              marks: list[tuple[str, int, float, str, str]], dots: bool = True) -> Markup:
    """Prices over time: each series (name -> (at, value, time as shown, value as shown)) a
    step line, each holding until its next point (a dot on each point, unless not `dots`);
    each mark (name, at, value, time, value as shown) a ring. Not from zero: the prices' own
    range."""
    values = [v for points in series.values() for _, v, _, _ in points] + \
        [v for _, _, v, _, _ in marks]
    times = [t for points in series.values() for t, _, _, _ in points] + \
        [t for _, t, _, _, _ in marks]
    if not values:
        return Markup("")
    low, high = min(values), max(values)
    low, high = low - (high - low or high) * 0.05, high + (high - low or high) * 0.05
    start, span = min(times), (max(times) - min(times)) or 1

    def x(t: int) -> float:
        return round(PAD + (t - start) * (WIDTH - 2 * PAD) / span, 1)

    def y(v: float) -> float:
        return round(PAD + (high - v) * (HEIGHT - 2 * PAD) / (high - low), 1)
    colours = {"stop": "#c62828", "target": "#2e7d32", "best": "#1565c0"}
    body, end = "", max(times)
    for name, points in series.items():
        steps = []
        for k, (t, v, _, _) in enumerate(points):
            until = points[k + 1][0] if k + 1 < len(points) else end
            steps += [f"{x(t)},{y(v)}", f"{x(until)},{y(v)}"]
        body += (f'<polyline class="{escape(name)}" fill="none" stroke-width="2" '
                 f'stroke="{colours.get(name, "#555")}" points="{" ".join(steps)}"/>')
        body += "".join(
            f'<circle class="point {escape(name)}" cx="{x(t)}" cy="{y(v)}" r="2.5" '
            f'fill="{colours.get(name, "#555")}" data-x="{escape(when)}" data-y="{escape(shown)}">'
            f'<title>{escape(name)} {escape(shown)} at {escape(when)}</title></circle>'
            for t, v, when, shown in points if dots)
    body += "".join(
        f'<circle class="mark {escape(name)}" cx="{x(t)}" cy="{y(v)}" r="5" fill="none" '
        f'stroke="#000" stroke-width="2" data-x="{escape(when)}" data-y="{escape(shown)}">'
        f'<title>{escape(name)} {escape(shown)} at {escape(when)}</title></circle>'
        for name, t, v, when, shown in marks)
    return Markup(f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
                  f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
                  f'<title>{escape(title)}</title>{body}</svg>')


def equity(closes: list[tuple[int, str, int]], when: Callable[[int], str]) -> Markup:
    """Realized P&L added up over the closed positions ((closed at, symbol, realized)), in
    close order."""
    points, total = [], 0
    for at_ms, symbol, realized in closes:
        total += realized
        points.append((f"{when(at_ms)} {symbol}", total, signed_rupees(total)))
    return line("equity", "Equity: realized P&L added up, trade by trade", points)


def position(row: dict, path: dict, when: Callable[[int], str],
             chart_id: str = "position-chart") -> Markup:
    """A position's stop, target and best price (what a trailing stop follows) as they moved,
    event by event (queries.position_path, or a backtest's trade); its entry and exit fills
    marked."""
    series: dict[str, list] = {"stop": [], "target": [], "best": []}
    for at_ms, *levels in path["levels"]:
        for name, value in zip(series, levels):
            value = None if value is None else Fraction(value)    # exact: "n/d" or paise
            if value is not None and (not series[name] or series[name][-1][1] != value):
                series[name].append((at_ms, value, when(at_ms), paise_to_rupees(value)))
    entry_side = "BUY" if row["side"] == "LONG" else "SELL"
    marks = [("entry" if side == entry_side else "exit", at_ms, price, when(at_ms),
              paise_to_rupees(price)) for at_ms, side, price in path["fills"]]
    return over_time(chart_id, "Stop, target and best price as they moved; the fills marked",
                     {k: v for k, v in series.items() if v}, marks)
