"""Quick calls made later, from one daemon thread per process.

A node meter needs its sampler thread only once the node has lasted one sample
interval; most nodes of a large workflow end before that. Starting a thread
per node costs the node a hand-over of the GIL (the starting thread waits for
the new one to run), which on a loaded host is a good part of a millisecond.
So a meter asks for its sampler to be started later, and cancels the request
when the node ends first. One thread per process keeps the requests; it wakes
only when the earliest request falls due, never once per node.

Callbacks must be quick and must not raise (an exception is logged and
dropped); they run in the alarm thread. Standard library only.

Examples
--------
>>> import threading
>>> fired = threading.Event()
>>> alarm = call_later(0.01, fired.set)
>>> fired.wait(5.0)
True
>>> call_later(60.0, fired.clear).cancel()
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("nipype_carbon.measure.alarm")

ALARM_THREAD_NAME = "nipype-carbon-alarm"


class Alarm:
    """A call due at ``due`` (``time.monotonic()`` seconds), until cancelled."""

    __slots__ = ("cancelled", "due", "function")

    def __init__(self, due: float, function: Callable[[], None]) -> None:
        self.due = due
        self.function = function
        self.cancelled = False

    def cancel(self) -> None:
        """Drop the call if it has not been made (it is then never made)."""
        self.cancelled = True


class _Alarms:
    """The pending calls of this process and the thread that makes them."""

    def __init__(self) -> None:
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Alarm]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, alarm: Alarm) -> None:
        with self._cond:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (alarm.due, next(self._order), alarm))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name=ALARM_THREAD_NAME, daemon=True
                )
                self._thread.start()
            elif earliest is None or alarm.due < earliest:
                self._cond.notify()  # else the thread wakes earlier anyway

    def thread_id(self) -> int | None:
        """The native id of the alarm thread (a meter leaves its CPU out of the node's)."""
        thread = self._thread
        return thread.native_id if thread is not None else None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)  # cancelled: dropped without waking anyone
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is None or wait > 0:
                    self._cond.wait(wait)
                    continue
                alarm = heapq.heappop(self._heap)[2]
            if alarm.cancelled:
                continue
            try:
                alarm.function()
            except Exception as err:  # a late call never ends the thread
                logger.warning("nipype-carbon: a deferred call failed: %s", err)


_alarms = _Alarms()


def _reset_after_fork() -> None:
    global _alarms
    _alarms = _Alarms()  # the parent's thread does not exist in the child


os.register_at_fork(after_in_child=_reset_after_fork)


def call_later(delay_s: float, function: Callable[[], None]) -> Alarm:
    """Call ``function`` (quick, from the alarm thread) in ``delay_s`` unless cancelled."""
    alarm = Alarm(time.monotonic() + max(delay_s, 0.0), function)
    _alarms.add(alarm)
    return alarm


def alarm_thread_id() -> int | None:
    """The native id of this process's alarm thread, once started."""
    return _alarms.thread_id()
