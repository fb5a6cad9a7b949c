"""NodeMeter: measure one unit of work in the process that runs it.

It records the wall interval, the host, the exact CPU seconds of the process
tree (short-lived children included), peak memory, GPU use by the tree's
processes, and a light time series of host counters, so attribution can later
split host energy among concurrent nodes.

Examples
--------
>>> from nipype_carbon.measure.meters import ModelMeter
>>> with NodeMeter(meters=[ModelMeter()], sample_interval_s=0.5) as meter:
...     _ = sum(i * i for i in range(100_000))
>>> meter.measurement.cpu_s > 0, meter.measurement.samples["t"][0] <= meter.measurement.end
(True, True)
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from functools import partial
from types import TracebackType
from typing import Any

from nipype_carbon.measure.alarm import Alarm, alarm_thread_id, call_later
from nipype_carbon.measure.guard import (
    BoundedCall,
    Implausible,
    PlausibleCounter,
    ReadTimeout,
    hung_meters,
)
from nipype_carbon.measure.host import HostInfo
from nipype_carbon.measure.measurement import HostNow, Measurement, wrap_safe_interval_s
from nipype_carbon.measure.meters.base import EnergyMeter
from nipype_carbon.measure.meters.factory import MeterSelection, select_meters
from nipype_carbon.measure.procfs import busy_cpu_s, memory_used_b
from nipype_carbon.measure.proctree import ProcessClock, ProcessTreeClock

logger = logging.getLogger("nipype_carbon.measure.nodemeter")

SAMPLER_THREAD_NAME = "nipype-carbon-sampler"
#: the figures of a note (left out when telling one glitch from another)
_FIGURES = re.compile(r"\d[\d.e+-]*")


def _empty_samples() -> dict[str, Any]:
    return {
        "t": [],
        "cpu_s": [],
        "rss_b": [],
        "host_busy_cpu_s": [],
        "host_mem_b": [],
        "domains": {},
        "gpu": {},
    }


class NodeMeter:
    """Context manager measuring the work done inside it.

    Parameters
    ----------
    meters : list of EnergyMeter or MeterSelection, optional
        The host's meters; chosen by :func:`select_meters` when omitted.
    sample_interval_s : float
        Interval of the host time series (default 1 s). Set it below the
        counters' wrap time.
    clock : callable
        Epoch seconds; injected for tests.
    process_clock : callable
        Factory of the CPU clock: the process tree (default), or
        :class:`~nipype_carbon.measure.proctree.ProcessClock` for this process alone.
    on_progress : callable, optional
        Given the measurement so far, from the sampler thread: when it starts (the work
        has lasted one interval), then each time the work has lasted a quarter longer
        (so a process killed mid-work leaves most of what was measured, at a cost that
        grows with the work's length only).

    Notes
    -----
    Never raises into the measured work: a failing meter is recorded in
    ``measurement.errors`` and its domain left out of later samples. The
    sampler thread is a daemon thread, started once the work has lasted one
    interval (:mod:`~nipype_carbon.measure.alarm`; shorter work needs none: it has
    its first and last samples) and joined on exit. CPU time of the
    sampler thread itself is reported as ``meter_cpu_s``, not as the node's.
    """

    def __init__(
        self,
        meters: list[EnergyMeter] | MeterSelection | None = None,
        sample_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        process_clock: Callable[[], ProcessTreeClock | ProcessClock] = ProcessTreeClock,
        on_progress: Callable[[Measurement], None] | None = None,
    ) -> None:
        self._process_clock = process_clock
        self._on_progress = on_progress
        self._progress_at_s = 0.0
        self._selection = meters if isinstance(meters, MeterSelection) else None
        self._meters = list(meters.meters if isinstance(meters, MeterSelection) else meters or [])
        self.sample_interval_s = float(sample_interval_s)
        self.clock = clock
        self.measurement: Measurement | None = None
        self._errors: list[str] = []
        self._failed: set[int] = set()
        self._thread: threading.Thread | None = None
        self._alarm: Alarm | None = None
        self._state = threading.Lock()  # the sampler thread started, or the meter stopped
        self._stopped = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sampler_cpu_s = 0.0
        self._faults: list[dict[str, Any]] = []
        self._checks: dict[str, PlausibleCounter] = {}
        self._said: set[tuple[str, str]] = set()
        self._call = BoundedCall()

    # -- context manager -------------------------------------------------
    def __enter__(self) -> NodeMeter:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- public ---------------------------------------------------------
    def start(self) -> None:
        """Take the first sample; the sampler thread follows one interval later. Never raises."""
        try:
            if not self._meters and self._selection is None:
                self._selection = select_meters()
                self._meters = list(self._selection.meters)
            domains = [d for meter in self._meters for d in meter.domains()]
            self.sample_interval_s = wrap_safe_interval_s(domains, self.sample_interval_s)
            self._checks = {
                d.name: PlausibleCounter(d)
                for d in domains
                if d.kind == "counter" and d.method != "model"
            }
            self._samples = _empty_samples()
            self._tree = self._process_clock()
            self._start = self.clock()
            self._take_sample(exclude_cpu_s=0.0)
            self._stop.clear()
            self._stopped = False
            # the sampler thread starts once the node has lasted one interval (most end first)
            self._alarm = call_later(self.sample_interval_s, self._start_sampler)
            self._ignore(alarm_thread_id())
        except Exception as err:  # never fail the user's work
            self._note(f"start failed: {type(err).__name__}: {err}")

    def _start_sampler(self) -> None:
        """Start the sampler thread (from the alarm thread), unless the node has ended."""
        with self._state:
            if self._stopped:
                return
            self._thread = threading.Thread(target=self._run, name=SAMPLER_THREAD_NAME, daemon=True)
            self._thread.start()
            self._ignore(self._thread.native_id)

    def _ignore(self, native_id: int | None) -> None:
        """Leave a thread of the meter's out of the node's CPU (counted by threads)."""
        ignore = getattr(self._tree, "ignore_thread", None)
        if ignore is not None and native_id is not None:
            ignore(native_id)

    def stop(self) -> Measurement | None:
        """Stop sampling, take the last sample, and build the measurement. Never raises."""
        try:
            with self._state:
                self._stopped = True
                thread, self._thread = self._thread, None
                if self._alarm is not None:
                    self._alarm.cancel()
            if thread is not None:
                self._stop.set()
                thread.join(timeout=max(5.0, 2 * self.sample_interval_s))
            sample = self._take_sample(exclude_cpu_s=self._sampler_cpu_s)
            self._call.close()
            self.measurement = self._build(sample)
        except Exception as err:
            self._note(f"stop failed: {type(err).__name__}: {err}")
            self.measurement = None
        return self.measurement

    def sample(self) -> None:
        """Take one sample now, besides the sampler's own (never raises)."""
        try:
            started = time.thread_time()
            self._take_sample(self._sampler_cpu_s)
            self._sampler_cpu_s += time.thread_time() - started
        except Exception as err:
            self._note(f"sample failed: {type(err).__name__}: {err}")

    # -- sampling ---------------------------------------------------------
    def _run(self) -> None:
        started = time.thread_time()
        wait_s = 0.0  # started one interval in: the first sample is due now
        while not self._stop.wait(wait_s):
            try:
                sample = self._take_sample(self._sampler_cpu_s + time.thread_time() - started)
                self._progress(sample, self._sampler_cpu_s + time.thread_time() - started)
            except Exception as err:
                self._note(f"sample failed: {type(err).__name__}: {err}")
            wait_s = self.sample_interval_s
        self._sampler_cpu_s += time.thread_time() - started

    def _progress(self, last: dict[str, Any], meter_cpu_s: float) -> None:
        """Hand the measurement so far to ``on_progress`` when due (see the class)."""
        age_s = last["t"] - self._start
        if self._on_progress is None or age_s < self._progress_at_s:
            return
        self._progress_at_s = max(1.25 * age_s, age_s + self.sample_interval_s)
        with self._lock:
            samples = _copy_samples(self._samples)
        self._on_progress(self._build(last, samples, meter_cpu_s))

    def _take_sample(self, exclude_cpu_s: float) -> dict[str, Any]:
        with self._lock:
            # host counters first and close together, then the tree (its CPU is
            # interpolated at t by attribution, so a little lag there is harmless)
            index = len(self._samples["t"])
            t = self.clock()
            busy = busy_cpu_s()
            readings = self._read_meters(HostNow(t, busy))
            tree = self._tree.sample(exclude_cpu_s)
            row = {
                "t": t,
                "cpu_s": tree.cpu_s,
                "rss_b": tree.rss_b,
                "host_busy_cpu_s": busy,
                "host_mem_b": memory_used_b(),
            }
            for key, value in row.items():
                self._samples[key].append(value)
            self._store_readings(index, readings, tree.pids)
            return {**row, "own_cpu_s": tree.own_cpu_s}

    def _read_meters(self, now: HostNow) -> list[tuple[EnergyMeter, dict[str, float | None]]]:
        readings = []
        for i, meter in enumerate(self._meters):
            if i in self._failed:
                continue
            if meter.kind != "model" and hung_meters.left_alone_s(meter) > 0:
                self._failed.add(i)  # its reads hung in an earlier node of this process
                wait = hung_meters.left_alone_s(meter)
                self._fault(meter, now.t, f"skipped: its reads hung in this process ({wait:.0f} s "
                            "before it is tried again)")  # fmt: skip
                continue
            try:
                # the model computes from ``now``; a measuring meter's read may hang
                values = (
                    meter.read(now)
                    if meter.kind == "model"
                    else self._call(partial(meter.read, now))
                )
                readings.append((meter, self._checked(meter, now.t, values)))
                if meter.kind != "model":
                    hung_meters.answered(meter)
            except Exception as err:
                if isinstance(err, ReadTimeout):
                    hung_meters.hung(meter)
                self._failed.add(i)
                self._fault(meter, now.t, f"{type(err).__name__}: {err}")
        return readings

    def _checked(
        self, meter: EnergyMeter, t: float, values: dict[str, float]
    ) -> dict[str, float | None]:
        """The readings, each checked: one no hardware can produce is left out (None), a
        glitch one shows is named (once per kind in this node) and the reading kept."""
        kept: dict[str, float | None] = {}
        for name, value in values.items():
            check = self._checks.get(name)
            kept[name] = float(value)
            if check is None:
                continue
            try:
                note = check.check(t, float(value))
            except Implausible as err:
                kept[name], note, action = None, str(err), "left out"
            else:
                action = "kept"
            if note is not None and (action, _FIGURES.sub("#", note)) not in self._said:
                self._said.add((action, _FIGURES.sub("#", note)))
                self._fault(meter, t, note, action)
        return kept

    def _fault(self, meter: EnergyMeter, t: float, reason: str, action: str = "dropped") -> None:
        """A meter fault: the meter ``dropped`` for the rest of the node, a reading ``left
        out``, or a glitch whose reading was ``kept`` for the timeline to judge."""
        what = {"dropped": "failed and was dropped", "left out": "reading left out"}
        self._note(f"meter {meter.kind} {what.get(action, 'glitch')}: {reason}")
        self._faults.append(
            {
                "meter": meter.kind,
                "domains": [d.name for d in meter.domains()],
                "t": t,
                "reason": reason,
                "action": action,
            }
        )

    def _store_readings(
        self,
        index: int,
        readings: list[tuple[EnergyMeter, dict[str, float | None]]],
        pids: set[int],
    ) -> None:
        for meter, values in readings:
            for name, value in values.items():
                _column(self._samples["domains"], name, index).append(
                    None if value is None else float(value)
                )
            try:
                uses = meter.gpu_use(pids)
            except Exception as err:
                self._note(f"GPU use from {meter.kind} failed: {type(err).__name__}: {err}")
                continue
            for use in uses:
                column = _column(self._samples["gpu"], use.device, index)
                column.append([use.util_percent, use.total_util_percent, use.memory_b])

    def _note(self, message: str) -> None:
        logger.warning("nipype-carbon: %s", message)
        self._errors.append(message)

    def _build(
        self,
        last: dict[str, Any],
        samples: dict[str, Any] | None = None,
        meter_cpu_s: float | None = None,
    ) -> Measurement:
        samples = self._samples if samples is None else samples
        selection = self._selection or MeterSelection(self._meters)
        baseline: dict[str, float] = {}
        for meter in self._meters:
            baseline.update(meter.baseline_power_w())
        peak = max(self._tree.peak_rss_b, self._tree.reaped_peak_rss_b())
        rows = len(samples["t"])
        for group in ("domains", "gpu"):
            for column in samples[group].values():
                column.extend([None] * (rows - len(column)))
        return Measurement(
            host=HostInfo.collect().to_dict(),
            pid=os.getpid(),
            start=self._start,
            end=last["t"],
            cpu_s=last["cpu_s"],
            meter_cpu_s=self._sampler_cpu_s if meter_cpu_s is None else meter_cpu_s,
            peak_rss_b=peak,
            sample_interval_s=self.sample_interval_s,
            samples=samples,
            meters=selection.to_dict(),
            baseline_power_w=baseline,
            errors=list(self._errors),
            own_cpu_s=last["own_cpu_s"],
            inherited_cpu_s=getattr(self._tree, "inherited_cpu_s", 0.0),
            faults=list(self._faults),
        )


def _copy_samples(samples: dict[str, Any]) -> dict[str, Any]:
    """The samples so far, apart from the lists the sampler goes on appending to."""
    copied: dict[str, Any] = {k: list(v) for k, v in samples.items() if isinstance(v, list)}
    for group in ("domains", "gpu"):
        copied[group] = {name: list(column) for name, column in samples[group].items()}
    return copied


def _column(columns: dict[str, list[Any]], name: str, index: int) -> list[Any]:
    """The column ``name``, padded with None up to ``index`` (a meter that failed earlier)."""
    column = columns.setdefault(name, [])
    column.extend([None] * (index - len(column)))
    return column
