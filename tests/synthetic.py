"""Synthetic sessions built through the public API, for properties and benchmarks.

A host whose busy CPU time is the sum of its nodes' CPU time (plus, optionally,
other processes), a CPU counter ``E = P0 * t + k * busy`` and a constant DRAM power.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nipype_carbon.measure.measurement import Domain, Measurement
from nipype_carbon.measure.meters.base import MeterInfo
from nipype_carbon.record.records import HostRecord, NodeRecord
from nipype_carbon.record.session import Session

MEMORY_B = 16 * 1024**3


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
    domains = [
        Domain("synthetic:cpu", "cpu", "counter", "rapl", wrap_j=1e6),
        Domain("synthetic:dram", "dram", "power", "model"),
    ]
    meters = {"meters": [MeterInfo("synthetic", domains).to_dict()], "skipped": {}}
    info = {"name": host, "memory_total_b": MEMORY_B, "logical_cpus": 4}
    baseline = {} if baseline_w is None else {"synthetic:cpu": baseline_w}
    return HostRecord(host, info, meters, baseline)


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
    session = Session()
    session.add_host(host_record(host, baseline_w))

    def busy(t: np.ndarray) -> np.ndarray:
        return sum((s.cpu_at(t) for s in specs), other_rate * t)

    for spec in specs:
        t = np.linspace(spec.start, spec.start + spec.duration, spec.samples)
        energy = (idle_w * t + j_per_cpu_s * busy(t)) % 1e6
        cpu = spec.cpu_at(t)
        samples = {
            "t": t.tolist(),
            "cpu_s": cpu.tolist(),
            "rss_b": [spec.rss_b] * len(t),
            "host_busy_cpu_s": busy(t).tolist(),
            "host_mem_b": [MEMORY_B / 2] * len(t),
            "domains": {"synthetic:cpu": energy.tolist(), "synthetic:dram": [6.0] * len(t)},
            "gpu": {},
        }
        m = Measurement(
            host={"name": host},
            pid=1,
            start=float(t[0]),
            end=float(t[-1]),
            cpu_s=float(cpu[-1]),
            meter_cpu_s=0.0,
            peak_rss_b=int(spec.rss_b),
            sample_interval_s=1.0,
            samples=samples,
            meters=session.hosts[host].meters,
        )
        session.add_node(NodeRecord.from_measurement(spec.name, m))
    if complete:
        session.add_event("end", status="ok", error=None)
    return session
