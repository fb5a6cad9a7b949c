"""Synthetic sessions built through the public API: one builder for the tests' properties
and for the report and graph benchmarks.

A :class:`SyntheticHost` is a host whose CPU counter follows ``E = idle_w * (t - t0) +
j_per_cpu_s * busy`` (wrapping at ``wrap_j``), where ``busy`` is the host's busy CPU time,
and whose memory draws a constant power; :meth:`SyntheticHost.measurement` turns a node's
sample times, CPU time and the host's busy time at those times into the measurement a
node meter would have taken. :func:`build_session` lays out nodes given as
:class:`NodeSpec` on one such host, the host busy with exactly their CPU (plus, optionally,
other processes'): the truth the attribution tests check against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nipype_carbon.measure.measurement import Domain, Measurement
from nipype_carbon.measure.meters.base import MeterInfo
from nipype_carbon.record.records import HostRecord, NodeRecord
from nipype_carbon.record.session import Session

GIB = 1024**3
MEMORY_B = 16 * GIB


@dataclass(frozen=True)
class SyntheticHost:
    """A host's counters as functions of its busy CPU time (see the module)."""

    name: str = "h"
    idle_w: float = 10.0
    j_per_cpu_s: float = 5.0
    dram_w: float = 6.0
    wrap_j: float = 1e6
    #: the time the counter reads ``j_per_cpu_s * busy`` (it counts from there)
    t0: float = 0.0
    meter: str = "synthetic"
    cpu_domain: str = "synthetic:cpu"
    dram_domain: str = "synthetic:dram"
    #: a GPU's power column, measured as NVML would (None: no GPU)
    gpu_domain: str | None = None
    memory_b: int = MEMORY_B
    logical_cpus: int = 4
    cpu_model: str | None = None
    #: the CPU counter's baseline power known before the run (None: none known)
    baseline_w: float | None = 10.0

    def domains(self) -> list[Domain]:
        found = [
            Domain(self.cpu_domain, "cpu", "counter", "rapl", wrap_j=self.wrap_j),
            Domain(self.dram_domain, "dram", "power", "model"),
        ]
        if self.gpu_domain is not None:
            found.append(Domain(self.gpu_domain, "gpu", "power", "nvml", device="GPU-0"))
        return found

    def record(self) -> HostRecord:
        """The host as a session records it: facts, meters, baseline."""
        meters = {"meters": [MeterInfo(self.meter, self.domains()).to_dict()], "skipped": {}}
        info: dict[str, object] = {
            "name": self.name,
            "memory_total_b": self.memory_b,
            "logical_cpus": self.logical_cpus,
        }
        if self.cpu_model is not None:
            info["cpu_model"] = self.cpu_model
        baseline = {} if self.baseline_w is None else {self.cpu_domain: self.baseline_w}
        return HostRecord(self.name, info, meters, baseline)

    def counter_j(self, t: np.ndarray, busy: np.ndarray) -> np.ndarray:
        """What the CPU counter reads at ``t`` with the host ``busy`` CPU-seconds in."""
        return (self.idle_w * (t - self.t0) + self.j_per_cpu_s * busy) % self.wrap_j

    def measurement(
        self,
        t: np.ndarray,
        cpu_s: np.ndarray,
        busy_s: np.ndarray,
        rss_b: float = 1e8,
        sample_interval_s: float = 1.0,
        gpu_w: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> Measurement:
        """A node's measurement: samples at ``t`` of its CPU time and the host's busy time."""
        n = len(t)
        domains = {
            self.cpu_domain: self.counter_j(t, busy_s).tolist(),
            self.dram_domain: [self.dram_w] * n,
        }
        if self.gpu_domain is not None and gpu_w is not None:
            domains[self.gpu_domain] = gpu_w(t).tolist()
        host = self.record()
        samples = {
            "t": t.tolist(),
            "cpu_s": cpu_s.tolist(),
            "rss_b": [rss_b] * n,
            "host_busy_cpu_s": busy_s.tolist(),
            "host_mem_b": [self.memory_b / 2] * n,
            "domains": domains,
            "gpu": {},
        }
        return Measurement(
            host=host.info,
            pid=1,
            start=float(t[0]),
            end=float(t[-1]),
            cpu_s=float(cpu_s[-1]),
            meter_cpu_s=0.0,
            peak_rss_b=int(rss_b),
            sample_interval_s=sample_interval_s,
            samples=samples,
            meters=host.meters,
            baseline_power_w=host.baseline_power_w,
        )


@dataclass
class NodeSpec:
    name: str
    start: float
    duration: float
    cpu_rate: float  # CPU seconds per second
    samples: int
    rss_b: float = 1e8

    def cpu_at(self, t: np.ndarray) -> np.ndarray:
        return self.cpu_rate * np.clip(t - self.start, 0.0, self.duration)


def host_record(host: str, baseline_w: float | None, dram_w: float = 6.0) -> HostRecord:
    """The default synthetic host's record."""
    return SyntheticHost(host, dram_w=dram_w, baseline_w=baseline_w).record()


def build_session(
    specs: list[NodeSpec],
    idle_w: float = 10.0,
    j_per_cpu_s: float = 5.0,
    other_rate: float = 0.0,
    baseline_w: float | None = 10.0,
    host: str = "h",
    complete: bool = True,
) -> Session:
    """A session whose counters follow from the nodes' CPU use (ended, unless not ``complete``)."""
    machine = SyntheticHost(host, idle_w=idle_w, j_per_cpu_s=j_per_cpu_s, baseline_w=baseline_w)
    session = Session()
    session.add_host(machine.record())

    def busy(t: np.ndarray) -> np.ndarray:
        return sum((s.cpu_at(t) for s in specs), other_rate * t)

    for spec in specs:
        t = np.linspace(spec.start, spec.start + spec.duration, spec.samples)
        m = machine.measurement(t, spec.cpu_at(t), busy(t), rss_b=spec.rss_b)
        session.add_node(NodeRecord.from_measurement(spec.name, m))
    if complete:
        session.add_event("end", status="ok", error=None)
    return session
