"""Chart layout: ticks, stacked bars and lines land where the numbers say."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipeline.web.charts import BOTTOM, HEIGHT, TOP, line_chart, nice_ticks, stacked_bars

DAYS = [date(2025, 8, 15) + timedelta(days=n) for n in range(3)]


@pytest.mark.parametrize("maximum, ticks", [
    (0, [0, 1]),
    (1, [0, 1]),
    (4, [0, 1, 2, 3, 4]),
    (7, [0, 2, 4, 6, 8]),
    (10, [0, 2, 4, 6, 8, 10]),
    (23, [0, 5, 10, 15, 20, 25]),
    (480, [0, 100, 200, 300, 400, 500]),
])
def test_ticks_are_round_and_reach_the_maximum(maximum, ticks):
    assert nice_ticks(maximum) == ticks


def test_stacked_bars_stack_each_day_to_its_total():
    chart = stacked_bars("by language", DAYS, {"de": [1, 0, 2], "en": [3, 1, 0]})
    assert [item.name for item in chart.legend] == ["de", "en"]
    assert len(chart.bars) == 4  # no bar for a zero
    day0 = [b for b in chart.bars if b.label.startswith("2025-08-15")]
    assert day0[0].y + day0[0].height == pytest.approx(HEIGHT - BOTTOM)  # de sits on the axis
    assert day0[1].y + day0[1].height == pytest.approx(day0[0].y)  # en sits on de
    assert day0[1].y == pytest.approx(TOP)  # 4, the highest total, reaches the top tick (4)
    assert [t.label for t in chart.x_ticks] == ["08-15", "08-16", "08-17"]
    assert day0[1].label == "2025-08-15 · en: 3"


def test_a_line_has_a_dot_per_day_and_an_empty_chart_still_draws():
    chart = line_chart("summit", DAYS, {"summit": [0, 2, 1]})
    [line] = chart.lines
    assert len(line.dots) == 3 and line.points.count(",") == 3
    assert line.dots[1][1] == pytest.approx(TOP)  # 2 is the top tick
    empty = stacked_bars("nothing", DAYS, {})
    assert empty.bars == () and [t.label for t in empty.y_ticks] == ["0", "1"]


def test_long_ranges_label_only_some_days():
    days = [date(2025, 1, 1) + timedelta(days=n) for n in range(90)]
    chart = stacked_bars("quarter", days, {"en": [1] * 90})
    assert 6 <= len(chart.x_ticks) <= 12 and len(chart.bars) == 90
