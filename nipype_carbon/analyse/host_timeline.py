"""A host's merged timeline: every sample of every node of one host, in time order.

Counters are read in many processes (MultiProc workers, SLURM jobs); each
reading is a raw cumulative value, so all of a host's readings can be laid on
one timeline and differenced once. Energy per interval comes from:

- counters: :mod:`~nipype_carbon.analyse.counters` (wraps undone, stale readings
  left out, jumps, resets and freezes found across every process's readings
  and modelled in their place, each named as a :class:`~counters.Glitch`);
- power readings: the trapezoid rule.

A measured domain no process could read for part of the run (before its first
reading or after its last) is modelled there too, and named the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nipype_carbon.analyse.counters import Glitch, counter_energy
from nipype_carbon.measure.measurement import Domain
from nipype_carbon.record.records import Measured

#: width of the bins host energy is split on among nodes (see :func:`resample`)
SPLIT_BIN_S = 0.5


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
    #: spans of measured domains modelled in place of readings (unread, jumped, reset, frozen)
    glitches: list[Glitch] = field(default_factory=list)
    #: per domain, the energy of each interval that was modelled in place of readings
    modelled_j: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def dt(self) -> np.ndarray:
        return np.diff(self.t)

    @property
    def dbusy(self) -> np.ndarray:
        return np.clip(np.diff(self.busy_cpu_s), 0.0, None)


def _fill(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Missing readings (a meter failed in one process) interpolated from the others."""
    ok = ~np.isnan(values)
    if ok.all() or not ok.any():
        return np.nan_to_num(values)
    return np.interp(t, t[ok], values[ok])


def power_energy(t: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """Energy per interval of a power series (trapezoid rule)."""
    return (power_w[1:] + power_w[:-1]) / 2.0 * np.diff(t)


def build_timeline(
    host: str,
    measurements: list[Measured],
    domains: list[Domain],
    stand_in: Callable[[Domain, np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> HostTimeline:
    """Merge the samples of every measurement of one host and difference them once.

    ``stand_in(domain, dt, dbusy)`` models a measured domain's energy per interval: it
    fills the intervals whose readings cannot be used (see the module) and shapes how a
    counter's difference between two readings far apart is spread over the intervals
    between them.
    """
    by_name = {d.name: d for d in domains}
    t_parts, busy_parts = [], []
    value_parts: dict[str, list[np.ndarray]] = {name: [] for name in by_name}
    for m in measurements:
        t_parts.append(np.asarray(m.t, dtype=float))
        busy_parts.append(np.asarray(m.host_busy_cpu_s, dtype=float))
        for name in by_name:
            column = m.domain_column(name)
            value_parts[name].append(np.array([np.nan if v is None else v for v in column], float))
    t = np.concatenate(t_parts) if t_parts else np.zeros(0)
    order = np.argsort(t, kind="stable")
    t = t[order]
    busy = np.maximum.accumulate(np.concatenate(busy_parts)[order]) if len(t) else t
    dt, dbusy = np.diff(t), np.clip(np.diff(busy), 0.0, None)
    timeline = HostTimeline(host, t, busy, by_name, {})
    for name, domain in by_name.items():
        raw = np.concatenate(value_parts[name])[order] if len(t) else t
        if domain.kind == "counter":
            model = None
            if stand_in is not None and domain.method != "model":
                model = stand_in(domain, dt, dbusy)
            found = counter_energy(
                t, raw, domain, shape=model, model=model, timed=domain.method != "model"
            )
            timeline.energy_j[name] = found.energy_j
            timeline.wraps += found.wraps
            if domain.method != "model":
                timeline.glitches += found.glitches
                timeline.modelled_j[name] = np.where(found.modelled, found.energy_j, 0.0)
        else:
            timeline.energy_j[name] = power_energy(t, _fill(t, raw) if len(t) else t)
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

    def on_grid(values: np.ndarray) -> np.ndarray:
        return np.diff(np.interp(edges, t, np.concatenate([[0.0], np.cumsum(values)])))

    energy = {name: on_grid(values) for name, values in timeline.energy_j.items()}
    busy = np.interp(edges, t, timeline.busy_cpu_s)
    modelled = {name: on_grid(values) for name, values in timeline.modelled_j.items()}
    return HostTimeline(
        timeline.host,
        edges,
        busy,
        timeline.domains,
        energy,
        timeline.wraps,
        timeline.long_gaps,
        timeline.glitches,
        modelled,
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


def node_series(record_name: str, m: Measured) -> NodeSeries:
    """A node's own samples as arrays."""
    gpu = {
        device: np.array([row if row is not None else [0.0, 0.0, 0] for row in rows], float)
        for device, rows in m.gpu_columns.items()
    }
    return NodeSeries(
        record_name,
        np.asarray(m.t, float),
        np.asarray(m.sample_cpu_s, float),
        np.asarray(m.sample_rss_b, float),
        gpu,
    )
