"""Chart layout for the coverage page: daily counts in, shapes with coordinates out.

Pure functions over numbers and labels; they draw nothing and never build markup. The
``_charts.html`` template turns a ``Chart`` into inline SVG (escaped like everything
else), so a chart needs no JavaScript and no inline style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 36
MAX_X_LABELS = 12
# Colour-blind-safe (Okabe–Ito, then Tol's muted), distinct enough for a dozen series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
           "#332288", "#882255", "#44AA99", "#999933", "#AA4499", "#000000")


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # what a pointer over the bar shows (an SVG <title>)


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y …" for <polyline points>
    colour: str
    dots: tuple[tuple[float, float, str], ...]  # (x, y, label) of each day


@dataclass(frozen=True)
class LegendItem:
    name: str
    colour: str


@dataclass(frozen=True)
class Chart:
    title: str
    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    bars: tuple[Bar, ...] = ()
    lines: tuple[Line, ...] = ()
    legend: tuple[LegendItem, ...] = field(default=())


def nice_ticks(maximum: int, target: int = 5) -> list[int]:
    """Round tick values from 0 to at least ``maximum``: steps of 1, 2 or 5 × 10^k."""
    if maximum <= 0:
        return [0, 1]
    raw = maximum / target
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, int(math.ceil(maximum / step) * step) + 1, int(step)))


def colours(names: list[str]) -> dict[str, str]:
    return {name: PALETTE[n % len(PALETTE)] for n, name in enumerate(names)}


class _Frame:
    """The plot area and its scales for ``days`` and values up to ``maximum``."""

    def __init__(self, days: list[date], maximum: int) -> None:
        self.days = days
        self.ticks = nice_ticks(maximum)
        self.top_value = self.ticks[-1]
        self.left, self.top = LEFT, TOP
        self.right, self.bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
        self.band = (self.right - self.left) / max(len(days), 1)

    def x(self, index: int) -> float:
        """The centre of day ``index``'s band."""
        return round(self.left + self.band * (index + 0.5), 2)

    def y(self, value: float) -> float:
        return round(self.bottom - (self.bottom - self.top) * value / self.top_value, 2)

    def chart(self, title: str, legend: dict[str, str], **shapes) -> Chart:
        every = math.ceil(len(self.days) / MAX_X_LABELS) or 1
        x_ticks = tuple(Tick(self.x(n), day.strftime("%m-%d")) for n, day in enumerate(self.days)
                        if n % every == 0)
        y_ticks = tuple(Tick(self.y(value), str(value)) for value in self.ticks)
        return Chart(title=title, width=WIDTH, height=HEIGHT, left=self.left, top=self.top,
                     right=self.right, bottom=self.bottom, x_ticks=x_ticks, y_ticks=y_ticks,
                     legend=tuple(LegendItem(name, colour) for name, colour in legend.items()), **shapes)


def stacked_bars(title: str, days: list[date], series: dict[str, list[int]]) -> Chart:
    """One bar per day, stacked by series (e.g. languages), bottom to top in ``series`` order."""
    totals = [sum(counts) for counts in zip(*series.values())] or [0] * len(days)
    frame = _Frame(days, max(totals, default=0))
    palette = colours(list(series))
    width = round(frame.band * 0.8, 2)
    bars: list[Bar] = []
    for n, day in enumerate(days):
        stacked = 0
        for name, counts in series.items():
            if counts[n]:
                top = frame.y(stacked + counts[n])
                bars.append(Bar(x=round(frame.x(n) - width / 2, 2), y=top, width=width,
                                height=round(frame.y(stacked) - top, 2), colour=palette[name],
                                label=f"{day.isoformat()} · {name}: {counts[n]}"))
                stacked += counts[n]
    return frame.chart(title, palette, bars=tuple(bars))


def line_chart(title: str, days: list[date], series: dict[str, list[int]]) -> Chart:
    """One line per series through its daily values, with a dot on each day."""
    frame = _Frame(days, max((max(c, default=0) for c in series.values()), default=0))
    palette = colours(list(series))
    lines = []
    for name, counts in series.items():
        dots = tuple((frame.x(n), frame.y(v), f"{day.isoformat()} · {name}: {v}")
                     for n, (day, v) in enumerate(zip(days, counts)))
        lines.append(Line(points=" ".join(f"{x},{y}" for x, y, _ in dots), colour=palette[name], dots=dots))
    return frame.chart(title, palette, lines=tuple(lines))
