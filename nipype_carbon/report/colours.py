"""Colours of the reports: viridis by emissions, readable text on any fill.

The graph, the timeline and the HTML report colour by emissions with the same
perceptual scale (viridis: dark purple is cold, yellow is hot) and the same rule:
a log scale when the positive values span two decades or more. A log scale spans two decades
down from the hottest value, no more, so a tenfold difference is always half the scale (over
five decades a tenfold step would be a fifth of it, and 214 J look like 9.9 J); colder values
take the coldest colour, and every legend says so.
"""

from __future__ import annotations

import math

#: matplotlib's viridis at 0, 1/16, ..., 1 (perceptually uniform; dark = cold, yellow = hot)
_VIRIDIS_HEX = (
    "440154 48186a 472d7b 424086 3b528b 33638d 2c728e 26828e 21918c "
    "1fa088 28ae80 3fbc73 5ec962 84d44b addc30 d8e219 fde725"
)
VIRIDIS = tuple("#" + code for code in _VIRIDIS_HEX.split())
FAILED_COLOUR = "#d62728"


def viridis(position: float) -> str:
    """The viridis colour at ``position`` in [0, 1], linearly interpolated, as ``#rrggbb``."""
    x = min(max(position, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(x), len(VIRIDIS) - 2)
    lo, hi = (_rgb(VIRIDIS[i]), _rgb(VIRIDIS[i + 1]))
    return "#" + "".join(f"{round(a + (b - a) * (x - i)):02x}" for a, b in zip(lo, hi, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def text_colour(fill: str) -> str:
    """Black on light fills, white on dark ones."""
    r, g, b = _rgb(fill)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 110 else "#ffffff"


def scale_position(value: float, low: float, high: float, log: bool) -> float:
    """Where ``value`` sits on the colour scale from ``low`` to ``high`` (0 to 1)."""
    if high <= 0 or high <= low:
        return 1.0 if high > 0 else 0.0
    if log:
        return (math.log(max(value, low)) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


#: decades a log colour scale spans, down from its hottest value
LOG_DECADES = 2


def colour_scale(values: list[float]) -> tuple[float, float, bool]:
    """(low, high, log) for ``values``: log when the positive ones span two decades or more,
    then from ``high / 10**LOG_DECADES`` (colder values are clamped to it) to ``high``.

    Examples
    --------
    >>> colour_scale([214.0, 9.9, 0.001])
    (2.14, 214.0, True)
    >>> colour_scale([1.0, 3.0])
    (1.0, 3.0, False)
    """
    positive = [v for v in values if v > 0]
    if not positive:
        return 0.0, 0.0, False
    high, low = max(positive), min(positive)
    log = high / low >= 10**LOG_DECADES
    return (high / 10**LOG_DECADES if log else min(values)), high, log


def scale_label(log: bool) -> str:
    """How a legend names the scale: linear, or log with its clamped low end."""
    if not log:
        return "linear scale"
    return f"log scale: x10 per half of the bar; {LOG_DECADES} decades, colder ones darkest"


def emissions_colour(value: float, vmin: float, vmax: float, log: bool = False) -> str:
    """The viridis colour of ``value`` on the scale from ``vmin`` (dark) to ``vmax`` (yellow)."""
    if math.isnan(value):
        value = vmin
    return viridis(scale_position(value, vmin, vmax, log))
