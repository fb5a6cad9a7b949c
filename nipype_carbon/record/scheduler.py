"""The scheduler's own cost: the driving process's CPU, less the nodes it ran itself.

The process that drives a workflow (nipype's scheduler loop, a Pydra
submitter) spends CPU of its own: polling, hashing inputs, checking caches,
pickling nodes. It is metered with a :class:`~nipype_carbon.measure.proctree.ProcessClock`
(its threads only, no worker processes) for the whole run. Nodes that ran in
that same process (the Linear plugin, ``run_without_submitting``) are measured
by their own meters; their own-process CPU is taken out of the scheduler's
series here, spread over each node's interval, so no CPU second counts twice.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from nipype_carbon.measure.measurement import Measurement
from nipype_carbon.record.records import ORCHESTRATION, NodeRecord


def in_process_cpu(records: Iterable[NodeRecord], pid: int, t: np.ndarray) -> np.ndarray:
    """CPU of the nodes measured in process ``pid``, cumulative at times ``t``."""
    total = np.zeros_like(t, dtype=float)
    for record in records:
        m = record.measured
        if m is None or m.pid != pid:
            continue
        own = m.own_cpu_s + m.meter_cpu_s
        start, end = m.start, m.end
        if end <= start:
            total += np.where(t >= end, own, 0.0)
        else:
            total += own * np.clip((t - start) / (end - start), 0.0, 1.0)
    return total


def scheduler_record(
    name: str,
    measurement: Measurement,
    records: Iterable[NodeRecord],
    interface: str,
    extra: dict[str, Any] | None = None,
) -> NodeRecord:
    """The scheduler's record: its CPU series less that of nodes run in its process."""
    record = NodeRecord.from_measurement(
        name,
        measurement,
        interface=interface,
        extra={"kind": ORCHESTRATION, "pid": os.getpid(), **(extra or {})},
    )
    m = record.measured
    assert m is not None
    t = np.asarray(m.t, dtype=float)
    inner = in_process_cpu(list(records), measurement.pid, t)
    cpu = np.maximum.accumulate(np.clip(np.asarray(m.sample_cpu_s, float) - inner, 0.0, None))
    m.set_cpu(cpu.tolist())
    return record
