"""Meter reads that can neither stall a node nor slip a nonsense value into a session.

:class:`BoundedCall` runs a read in a daemon thread of its own and gives up
after a timeout: a counter file on a hung file system or a wedged vendor
library costs the node at most that once (the meter is then dropped), never
the node's whole run, and later nodes of the process leave the meter alone for a
while (:class:`HungMeters`). :class:`PlausibleCounter` leaves out readings no
hardware can produce (not finite, outside the counter's range) and names the
glitches a reading shows: a counter that falls where a wrap would mean more
energy than its domain can draw in the time since the last reading (ten times
the most power it can draw), one that rises faster than that, or one that stops
moving while time passes. A wrap is judged by power, not by how far the counter
fell: a reader stalled on a busy host may see a counter advance more than half
its range between two readings.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from nipype_carbon.measure.measurement import DEFAULT_POWER_BOUND_W, Domain

#: the longest a meter read may take before the meter is dropped
READ_TIMEOUT_S = 2.0
#: readings faster than this many times the domain's power bound are rejected
IMPLAUSIBLE_FACTOR = 10.0
#: a counter that does not move for this long, while time passes, is taken as frozen
FROZEN_AFTER_S = 2.0
#: how long later nodes of a process leave a meter alone after its read hung: at first,
#: doubled after each further hang, at most
HUNG_WAIT_S, HUNG_WAIT_MAX_S = 10.0, 600.0


class ReadTimeout(Exception):
    """A meter read that did not return in time."""


class BoundedCall:
    """Calls made in one daemon thread, each abandoned after ``timeout_s``.

    Once a call has timed out, the thread may still be stuck in it: the next
    call gets a fresh thread, and the stuck one is left to the daemon's fate.
    """

    def __init__(self, timeout_s: float = READ_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self._requests: queue.Queue[Any] | None = None

    def _start(self) -> queue.Queue[Any]:
        requests: queue.Queue[Any] = queue.Queue()
        threading.Thread(
            target=_serve, args=(requests,), name="nipype-carbon-read", daemon=True
        ).start()
        return requests

    def __call__(self, function: Callable[[], Any]) -> Any:
        if self._requests is None:
            self._requests = self._start()
        answer: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
        self._requests.put((function, answer))
        try:
            ok, value = answer.get(timeout=self.timeout_s)
        except queue.Empty:
            self._requests = None  # that thread is stuck: the next call gets a new one
            raise ReadTimeout(f"no answer in {self.timeout_s:g} s") from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        if self._requests is not None:
            self._requests.put(None)
            self._requests = None


def _serve(requests: queue.Queue[Any]) -> None:
    while True:
        item = requests.get()
        if item is None:
            return
        function, answer = item
        try:
            answer.put((True, function()))
        except BaseException as err:  # handed to the caller
            answer.put((False, err))


class HungMeters:
    """Meters whose reads hung in this process: later nodes leave them alone for a while
    (so a hung file system costs one read timeout now and then, not one per node), then try
    again; the wait doubles with each further hang. Kept on the meter object itself, for
    this process only (a forked worker starts afresh)."""

    ATTRIBUTE = "_nipype_carbon_hung"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _state(self, meter: object) -> tuple[float, float]:
        pid, until, wait_s = getattr(meter, self.ATTRIBUTE, (0, 0.0, 0.0))
        return (until, wait_s) if pid == os.getpid() else (0.0, 0.0)

    def hung(self, meter: object) -> None:
        with self._lock:
            _, wait_s = self._state(meter)
            wait_s = min(2 * wait_s, HUNG_WAIT_MAX_S) if wait_s else HUNG_WAIT_S
            setattr(meter, self.ATTRIBUTE, (os.getpid(), time.monotonic() + wait_s, wait_s))

    def answered(self, meter: object) -> None:
        if hasattr(meter, self.ATTRIBUTE):
            with self._lock:
                delattr(meter, self.ATTRIBUTE)

    def left_alone_s(self, meter: object) -> float:
        """How much longer the meter is left alone in this process (0: try it)."""
        with self._lock:
            until, _ = self._state(meter)
        return max(0.0, until - time.monotonic())


#: the meters of this process whose reads hung
hung_meters = HungMeters()


class Implausible(Exception):
    """A reading no hardware can produce."""


class PlausibleCounter:
    """Checks each new reading of one counter domain against the last one.

    A reading no hardware can produce at all (not a finite number, outside the counter's
    range) raises :class:`Implausible`: it is left out. A reading that a glitch explains
    (the counter rose faster than the domain can draw, fell where no wrap explains it, or
    stopped moving while time passed) is returned as a note and kept: the host timeline,
    which sees every process's readings, judges the glitch and models what it touched
    (:mod:`nipype_carbon.analyse.counters`). The check then goes on from the new value.
    """

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.bound_w = IMPLAUSIBLE_FACTOR * (domain.power_bound_w or DEFAULT_POWER_BOUND_W)
        self._last: tuple[float, float] | None = None
        self._moved_at: float | None = None
        self._frozen_said = False

    def check(self, t: float, value: float) -> str | None:
        """A note for a glitch the reading shows (it is kept), or None; :class:`Implausible`
        for a reading no hardware can produce (it is left out)."""
        if not value == value or value in (float("inf"), float("-inf")):  # NaN or infinite
            raise Implausible(f"{self.domain.name} read {value!r}")
        wrap = self.domain.wrap_j
        if value < 0 or (wrap and value > wrap):
            raise Implausible(
                f"{self.domain.name} reads {value:.6g} J, outside its range 0-{wrap:g}"
                if wrap
                else f"{self.domain.name} reads {value:.6g} J, below zero"
            )
        if self._last is None:
            self._last, self._moved_at = (t, value), t
            return None
        t0, v0 = self._last
        self._last = (t, value)
        delta, dt = value - v0, max(t - t0, 1e-3)
        if delta < 0 and wrap:
            # a wrap if the advance it implies (less than one range: reads come far more
            # often than a counter wraps) is one the hardware can make in dt; else it fell
            advance = delta % wrap
            if advance <= self.bound_w * dt + 1.0:
                delta = advance
        if delta < 0:
            self._moved_at = t
            return f"{self.domain.name} fell by {-delta:.6g} J (not a wrap)"
        if delta > self.bound_w * dt + 1.0:
            self._moved_at = t
            return f"{self.domain.name} rose {delta:.6g} J in {dt:.3g} s: above {self.bound_w:g} W"
        if delta > 0:
            self._moved_at, self._frozen_said = t, False
            return None
        still_s = t - (self._moved_at if self._moved_at is not None else t)
        if still_s >= FROZEN_AFTER_S and not self._frozen_said:
            self._frozen_said = True
            return f"{self.domain.name} has not moved for {still_s:.3g} s (frozen)"
        return None
