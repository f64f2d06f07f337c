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
