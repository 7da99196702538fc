"""Charts drawn on the server as SVG: no third-party script, nothing the CSP must allow.

Each function returns the geometry a template draws (templates/inbox/_chart.html): scaled
points and bars in a fixed viewBox, axis ticks with their labels. The SVG scales to its
container's width, so the same chart reads at 1440 px and at 360 px.
"""
from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 480, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 10, 12, 30  # room for the axis labels
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM


@dataclass
class Series:
    name: str
    css: str  # a class of inbox.css: the colour
    points: list[tuple[float, float]] = field(default_factory=list)  # lines
    bars: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, width, height


@dataclass
class Chart:
    title: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]  # y, label
    x_ticks: list[tuple[float, str]]  # x, label
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_w: int = PLOT_W
    plot_h: int = PLOT_H


def _nice_max(value: float) -> float:
    """A round top for the y axis at or above `value`."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for multiple in (1, 2, 2.5, 5, 10):
        if value <= multiple * step:
            return multiple * step
    return 10 * step


def _y(value: float, top: float) -> float:
    return round(TOP + PLOT_H - value / top * PLOT_H, 1)


def _x_ticks(labels: list[str], every: int) -> list[tuple[float, str]]:
    n = len(labels)
    return [(round(LEFT + (i + 0.5) * PLOT_W / n, 1), label) for i, label in enumerate(labels) if i % every == 0]


def lines(title: str, labels: list[str], series: list[tuple[str, str, list[float | None]]],
          y_label, tick_every: int = 1) -> Chart:
    """Lines over categories (days): each series a list of values, None where there is none."""
    values = [v for _, _, vs in series for v in vs if v is not None]
    top = _nice_max(max(values, default=0))
    n = max(len(labels), 1)
    drawn = []
    for name, css, vs in series:
        points = [(round(LEFT + (i + 0.5) * PLOT_W / n, 1), _y(v, top)) for i, v in enumerate(vs) if v is not None]
        drawn.append(Series(name, css, points=points))
    y_ticks = [(_y(top * k / 4, top), y_label(top * k / 4)) for k in range(5)]
    return Chart(title, drawn, y_ticks, _x_ticks(labels, tick_every), empty=not values)


def bars(title: str, labels: list[str], series: list[tuple[str, str, list[float]]], tick_every: int = 1) -> Chart:
    """Side-by-side bars per category (hours): two series share each slot."""
    # Counts: at least 4 on the axis, so its quarter ticks are whole numbers.
    top = _nice_max(max(4, max((v for _, _, vs in series for v in vs), default=0)))
    n, k = max(len(labels), 1), max(len(series), 1)
    slot = PLOT_W / n
    width = max(slot * 0.8 / k, 0.5)
    drawn = []
    for j, (name, css, vs) in enumerate(series):
        bars_ = [(round(LEFT + i * slot + slot * 0.1 + j * width, 2), _y(v, top), round(width, 2),
                  round(v / top * PLOT_H, 1)) for i, v in enumerate(vs) if v]
        drawn.append(Series(name, css, bars=bars_))
    y_ticks = [(_y(top * q / 4, top), f"{top * q / 4:g}") for q in range(5)]
    return Chart(title, drawn, y_ticks, _x_ticks(labels, tick_every),
                 empty=not any(v for _, _, vs in series for v in vs))
