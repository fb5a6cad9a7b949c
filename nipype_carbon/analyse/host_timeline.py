"""A host's merged timeline: every sample of every node of one host, in time order.

Counters are read in many processes (MultiProc workers, SLURM jobs); each
reading is a raw cumulative value, so all of a host's readings can be laid on
one timeline and differenced once. Energy per interval comes from:

- counters: the difference of consecutive readings, with wraparound undone
  (a drop of more than half the counter's range is a wrap; a smaller drop is
  read-order jitter between processes and counts as zero);
- power readings: the trapezoid rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nipype_carbon.measure.measurement import Domain


@dataclass
class NodeSeries:
    """One node's own samples on a host."""

    name: str
    t: np.ndarray
    cpu_s: np.ndarray
    rss_b: np.ndarray
    gpu: dict[str, np.ndarray] = field(default_factory=dict)  # device -> (util, total) rows


@dataclass
class HostTimeline:
    """The merged samples of one host and the energy of each interval."""

    host: str
    t: np.ndarray
    busy_cpu_s: np.ndarray
    domains: dict[str, Domain]
    energy_j: dict[str, np.ndarray]  # per domain, one value per interval
    wraps: int = 0
    long_gaps: int = 0
    #: per measured domain that no process could read for part of the run: when it was last
    #: read, and the energy modelled for the intervals after (or before) its readings
    stood_in: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.t)

    @property
    def dbusy(self) -> np.ndarray:
        return np.clip(np.diff(self.busy_cpu_s), 0.0, None)


def _unread_intervals(raw: np.ndarray) -> np.ndarray:
    """Intervals before a domain's first reading or after its last (no reading bounds them)."""
    read = np.flatnonzero(~np.isnan(raw))
    unread = np.zeros(max(len(raw) - 1, 0), dtype=bool)
    if not len(read):
        unread[:] = True
        return unread
    unread[: read[0]] = True
    unread[read[-1] :] = True
    return unread


def _fill(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Missing readings (a meter failed in one process) interpolated from the others."""
    ok = ~np.isnan(values)
    if ok.all() or not ok.any():
        return np.nan_to_num(values)
    return np.interp(t, t[ok], values[ok])


def counter_energy(
    values: np.ndarray, wrap_j: float | None, t: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Energy per interval of a cumulative counter read by several processes, and the wraps.

    Readings of one counter merged from several processes are in time order
    only up to the delay between taking the time and reading the counter, so
    a reading may be a little older than the one before it, even across a
    wrap. Each reading is therefore placed on the wrap (a multiple of
    ``wrap_j``) that brings it nearest to where the counter should be: the
    highest value reached so far, advanced (given the times ``t``) at the
    counter's mean power so far over the time since. The counter is the running
    maximum of those: a stale reading adds no energy, and a wrap is never taken
    for a fall or a fall for a wrap. Without times this holds while less than
    half the counter's range passes between readings; with them, while the
    power between two readings stays within half a range per interval of its
    mean (a reader stalled on a busy host, see ``long_gaps``).
    """
    if not len(values):
        return np.zeros(0), 0
    if not wrap_j:
        level = np.maximum.accumulate(values)
        return np.diff(level), 0
    level = np.empty_like(values)
    times = t.tolist() if t is not None else [0.0] * len(values)
    first, t0 = float(values[0]), times[0]
    top, t_top = first, t0
    for i, value in enumerate(values.tolist()):
        power = (top - first) / (t_top - t0) if t_top > t0 else 0.0
        expected = top + power * max(0.0, times[i] - t_top)
        placed = value + round((expected - value) / wrap_j) * wrap_j
        if placed > top:
            top, t_top = placed, times[i]
        level[i] = top
    wraps = int(level[-1] // wrap_j - values[0] // wrap_j)
    return np.diff(level), wraps


def power_energy(t: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Energy per interval of a power series (trapezoid rule)."""
    return (power_w[1:] + power_w[:-1]) / 2.0 * np.diff(t)


def build_timeline(
    host: str,
    measurements: list[dict[str, Any]],
    domains: list[Domain],
    stand_in: Callable[[Domain, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> HostTimeline:
    """Merge the samples of every measurement of one host and difference them once.

    ``stand_in(domain, dt, dbusy)`` models a measured domain's energy per
    interval: it fills the intervals no process could read the domain in (before
    its first reading or after its last: a meter dropped mid-run), and the
    energy so modelled is kept in ``stood_in_j``.
    """
    by_name = {d.name: d for d in domains}
    t_parts, busy_parts = [], []
    value_parts: dict[str, list[np.ndarray]] = {name: [] for name in by_name}
    for m in measurements:
        s = m["samples"]
        n = len(s["t"])
        t_parts.append(np.asarray(s["t"], dtype=float))
        busy_parts.append(np.asarray(s["host_busy_cpu_s"], dtype=float))
        for name in by_name:
            column = s["domains"].get(name, [None] * n)
            value_parts[name].append(np.array([np.nan if v is None else v for v in column], float))
    t = np.concatenate(t_parts) if t_parts else np.zeros(0)
    order = np.argsort(t, kind="stable")
    t = t[order]
    busy = np.maximum.accumulate(np.concatenate(busy_parts)[order]) if len(t) else t
    energy: dict[str, np.ndarray] = {}
    stood_in: dict[str, tuple[float, float]] = {}
    wraps = 0
    for name, domain in by_name.items():
        raw = np.concatenate(value_parts[name])[order] if len(t) else t
        values = _fill(t, raw) if len(t) else t
        if domain.kind == "counter":
            energy[name], n_wraps = counter_energy(values, domain.wrap_j, t)
            wraps += n_wraps
        else:
            energy[name] = power_energy(t, values)
        unread = _unread_intervals(raw)
        if stand_in is not None and domain.method != "model" and unread.any():
            modelled = stand_in(domain, np.diff(t), np.clip(np.diff(busy), 0.0, None))
            energy[name] = np.where(unread, modelled, energy[name])
            read_at = t[~np.isnan(raw)]
            last = float(read_at[-1]) if len(read_at) else float(t[0])
            stood_in[name] = (last, float(modelled[unread].sum()))
    timeline = HostTimeline(host, t, busy, by_name, energy, wraps, stood_in=stood_in)
    timeline.long_gaps = _long_gaps(timeline)
    return timeline


def resample(timeline: HostTimeline, width_s: float) -> HostTimeline:
    """The timeline on a regular grid of about ``width_s``, from its cumulative quantities.

    Readings merged from several processes interleave into intervals of a few
    milliseconds, in which the counters' and /proc/stat's own resolution (a
    RAPL update, a 10-ms CPU tick) dominate: shares computed there are noise.
    On a regular grid every bin holds many updates of each, and energy, busy
    CPU and each node's CPU are taken at the same instants.
    """
    t = timeline.t
    if len(t) < 2 or t[-1] - t[0] <= width_s:
        return timeline
    edges = np.linspace(t[0], t[-1], int(np.ceil((t[-1] - t[0]) / width_s)) + 1)
    energy = {
        name: np.diff(np.interp(edges, t, np.concatenate([[0.0], np.cumsum(values)])))
        for name, values in timeline.energy_j.items()
    }
    busy = np.interp(edges, t, timeline.busy_cpu_s)
    return HostTimeline(
        timeline.host,
        edges,
        busy,
        timeline.domains,
        energy,
        timeline.wraps,
        timeline.long_gaps,
        timeline.stood_in,
    )


def _long_gaps(timeline: HostTimeline) -> int:
    """Intervals long enough that a counter may have wrapped more than once unseen."""
    gaps = 0
    dt = timeline.dt
    for name, domain in timeline.domains.items():
        if domain.kind != "counter" or not domain.wrap_j or not len(dt):
            continue
        power = timeline.energy_j[name].sum() / max(dt.sum(), 1e-9)
        if power > 0:
            gaps += int((dt * power > domain.wrap_j / 2).sum())
    return gaps


def node_series(record_name: str, m: dict[str, Any]) -> NodeSeries:
    """A node's own samples as arrays."""
    s = m["samples"]
    gpu = {
        device: np.array([row if row is not None else [0.0, 0.0, 0] for row in rows], float)
        for device, rows in s.get("gpu", {}).items()
    }
    return NodeSeries(
        record_name,
        np.asarray(s["t"], float),
        np.asarray(s["cpu_s"], float),
        np.asarray(s["rss_b"], float),
        gpu,
    )
