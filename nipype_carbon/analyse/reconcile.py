"""Where every joule of a run went, and each node's full cost.

The host's energy over the run is the run's energy plus what **other
processes** spent (busy CPU and GPU of processes that are not the run's). The
parts of the run's energy, which add up to it:

- **nodes**: the energy the nodes caused (their dynamic CPU, memory and GPU
  energy, and the baseline too when it is shared among running nodes);
- **engine overhead**: what the scheduler spent (its own record, kind
  ``orchestration``), never ranked as a node;
- **baseline**: the host's idle power over the run, where kept apart;
- **unclaimed memory**: memory power not used by the run's nodes.

Full cost: a node's energy plus the baseline and unclaimed memory charged to
it by what it reserved over its duration (cores: Nipype's ``n_procs``; memory:
``mem_gb``, else its peak resident memory). Node full costs and the engine
overhead add up to the run's energy less other processes. A recorded reservation
that is not a positive finite number (a hand-edited or damaged record, an ``n_procs``
of -50) counts as one core, or as the node's peak memory: no share exceeds the whole.

Examples
--------
>>> reserved(-50, 1.0), reserved("abc", 1.0), reserved(float("inf"), 1.0), reserved(4, 1.0)
(1.0, 1.0, 1.0, 4.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nipype_carbon.analyse.attribution import AttributionResult
from nipype_carbon.record.session import Session

GB = 1024**3


@dataclass
class Reconciliation:
    """The parts of a run's energy in joules; they add up to ``energy_j``."""

    energy_j: float
    nodes_j: float
    engine_j: float
    baseline_j: float
    other_processes_j: float
    unclaimed_memory_j: float
    #: per node (engine excluded): its share of the baseline and of unclaimed memory
    baseline_share_j: dict[str, float] = field(default_factory=dict)
    memory_share_j: dict[str, float] = field(default_factory=dict)

    @property
    def run_energy_j(self) -> float:
        """The run's energy: the host's, less what other processes spent."""
        return self.energy_j - self.other_processes_j

    def full_cost_j(self, name: str, energy_j: float) -> float:
        """A node's full cost: its own energy plus its baseline and memory shares."""
        return energy_j + self.baseline_share_j.get(name, 0.0) + self.memory_share_j.get(name, 0.0)

    def parts(self) -> dict[str, float]:
        """The parts of the run's energy, in the order a report shows them."""
        return {
            "nodes": self.nodes_j,
            "engine overhead": self.engine_j,
            "baseline (idle)": self.baseline_j,
            "unclaimed memory": self.unclaimed_memory_j,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "host_energy_j": self.energy_j,
            "run_energy_j": self.run_energy_j,
            "nodes_j": self.nodes_j,
            "engine_j": self.engine_j,
            "baseline_j": self.baseline_j,
            "other_processes_j": self.other_processes_j,
            "unclaimed_memory_j": self.unclaimed_memory_j,
        }


def reconcile(session: Session, result: AttributionResult) -> Reconciliation:
    """Split the run's energy into its parts and charge baseline and memory by reservation."""
    unattributed = result.unattributed_by_kind_j()
    engine = {n for n, r in session.nodes.items() if r.is_engine}
    engine_j = sum(result.nodes[n].energy_j for n in engine if n in result.nodes)
    nodes_j = result.attributed_energy_j - engine_j
    baseline_j = unattributed.get("idle", 0.0)
    memory_j = unattributed.get("dram", 0.0)
    parts = Reconciliation(
        energy_j=result.energy_j,
        nodes_j=nodes_j,
        engine_j=engine_j,
        baseline_j=baseline_j,
        other_processes_j=unattributed.get("cpu", 0.0) + unattributed.get("gpu", 0.0),
        unclaimed_memory_j=memory_j,
    )
    parts.baseline_share_j, parts.memory_share_j = _reserved_shares(
        session, engine, baseline_j, memory_j
    )
    return parts


def reserved(value: object, otherwise: float) -> float:
    """A recorded reservation as a positive finite number, else ``otherwise``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return otherwise
    try:
        number = float(value)
    except OverflowError:
        return otherwise
    return number if math.isfinite(number) and number > 0 else otherwise


def _reserved_shares(
    session: Session, engine: set[str], baseline_j: float, memory_j: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Baseline by reserved cores x duration; unclaimed memory by reserved GB x duration."""
    cores: dict[str, float] = {}
    memory: dict[str, float] = {}
    for name, record in session.nodes.items():
        measured = record.measured
        if name in engine or measured is None or record.extra.get("mapnode"):
            continue
        duration = max(0.0, record.end - record.start)
        cores[name] = reserved(record.extra.get("n_procs"), 1.0) * duration
        peak_gb = reserved(measured.peak_rss_raw, 0.0) / GB
        memory[name] = reserved(record.extra.get("mem_gb"), peak_gb) * duration
    total_cores, total_memory = sum(cores.values()), sum(memory.values())
    baseline = {n: baseline_j * c / total_cores for n, c in cores.items()} if total_cores else {}
    mem = {n: memory_j * m / total_memory for n, m in memory.items()} if total_memory else {}
    return baseline, mem
