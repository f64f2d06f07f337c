"""The server's SVG charts: every point in the box, in order, the zero line between a gain's
bar and a loss's."""
import re

from webapp import charts


def _numbers(svg: str, tag: str, attr: str) -> list[float]:
    return [float(v) for v in re.findall(rf'<{tag}[^>]* {attr}="([-0-9.]+)"', svg)]


def test_a_line_keeps_its_points_in_order_inside_the_box():
    svg = str(charts.line("c", "t", [("a", 400, "4.00"), ("b", -300, "-3.00"), ("c", 0, "0.00")]))
    xs, ys = _numbers(svg, "circle", "cx"), _numbers(svg, "circle", "cy")
    assert xs == sorted(xs) and len(xs) == 3
    assert all(charts.PAD <= y <= charts.HEIGHT - charts.PAD for y in ys)
    assert ys[0] < ys[2] < ys[1]                      # 4.00 highest, then 0, then -3.00
    assert re.findall(r'data-y="([^"]+)"', svg) == ["4.00", "-3.00", "0.00"]


def test_a_gain_stands_on_the_zero_line_and_a_loss_hangs_from_it():
    svg = str(charts.bars("c", "t", [("d1", 500, "5.00"), ("d2", -250, "-2.50")]))
    zero = _numbers(svg, "line", "y1")[0]
    (gain_y, loss_y), (gain_h, loss_h) = _numbers(svg, "rect", "y"), _numbers(svg, "rect", "height")
    assert gain_y + gain_h == zero and loss_y == zero and gain_h == 2 * loss_h


def test_no_data_no_chart_and_labels_are_escaped():
    assert str(charts.line("c", "t", [])) == ""
    assert "<b>" not in str(charts.bars("c", "t", [("<b>", 1, "x")]))


def test_a_level_holds_until_it_moves_and_the_fills_are_rings_on_the_same_scale():
    svg = str(charts.over_time("c", "t", {"stop": [(0, 990, "a", "990"), (10, 1000, "b", "1000")]},
                               [("entry", 0, 1000, "a", "1000"), ("exit", 20, 995, "c", "995")]))
    stop = re.search(r'<polyline class="stop"[^>]* points="([^"]+)"', svg).group(1).split()
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = [map(float, p.split(",")) for p in stop]
    assert y0 == y1 and x1 == x2 and y2 == y3 < y0 and x3 == charts.WIDTH - charts.PAD
    assert re.findall(r'class="mark (\w+)"', svg) == ["entry", "exit"]
    entry_y = float(re.search(r'class="mark entry" cx="[^"]+" cy="([^"]+)"', svg).group(1))
    assert entry_y == y2                        # 1000, on the scale of the stop's 1000
