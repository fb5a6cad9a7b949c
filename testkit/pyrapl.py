"""A fake pyRAPL sensor: ``energy()`` as ``pyRAPL.sensor.Sensor.energy()`` gives it.

pyRAPL returns raw cumulative counters in microjoules, laid out
``(pkg socket 0, dram socket 0, pkg socket 1, dram socket 1, ...)``, with -1
for a device it does not read. Counters wrap at the zone's range.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .nvml import ManualClock

__all__ = ["FakeRaplSensor", "ManualClock", "RaisingFactory"]


class FakeRaplSensor:
    """Counters that advance at a constant power each.

    Parameters
    ----------
    powers_w : sequence of float or None
        Power of each slot in pyRAPL's layout; None for a device not read.
    clock : callable
        Seconds, monotonic. Counters are host state: they do not restart when
        a sensor is made, so each reads ``start_uj`` plus the energy drawn
        since the clock's zero.
    start_uj : float
        Counter value at the clock's zero.
    range_uj : float or None
        Counters wrap to zero at this value, as the hardware's do.
    """

    def __init__(
        self,
        powers_w: Sequence[float | None] = (50.0, 5.0),
        clock: Callable[[], float] = time.monotonic,
        start_uj: float = 1.0e9,
        range_uj: float | None = None,
    ) -> None:
        self.powers_w = list(powers_w)
        self.clock = clock
        self.start_uj = start_uj
        self.range_uj = range_uj
        self.read_error: BaseException | None = None

    def energy(self) -> list[float]:
        if self.read_error is not None:
            raise self.read_error
        elapsed_s = self.clock()
        values: list[float] = []
        for power_w in self.powers_w:
            if power_w is None:
                values.append(-1)
                continue
            value_uj = self.start_uj + power_w * elapsed_s * 1e6
            values.append(value_uj % self.range_uj if self.range_uj else value_uj)
        return values


class RaisingFactory:
    """A sensor factory that fails as pyRAPL's Sensor can fail when opening."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __call__(self) -> FakeRaplSensor:
        raise self.error
