"""Where every joule of a run went, and each node's full cost.

The parts of a run's energy, which add up to it:

- **nodes**: the energy the nodes caused (their dynamic CPU, memory and GPU
  energy, and the baseline too when it is shared among running nodes);
- **engine overhead**: what the scheduler spent (its own record, kind
  ``orchestration``), never ranked as a node;
- **baseline**: the host's idle power over the run, where kept apart;
- **other processes**: busy CPU (and GPU) of processes that are not the run's;
- **unclaimed memory**: memory power not used by the run's nodes.

Full cost: a node's energy plus the baseline and unclaimed memory charged to
it by what it reserved over its duration (cores: Nipype's ``n_procs``; memory:
``mem_gb``, else its peak resident memory). Node full costs and the engine
overhead add up to the run's energy less other processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nipype_carbon.analyse.attribution import AttributionResult
from nipype_carbon.record.session import Session

ORCHESTRATION = "orchestration"
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
    full_cost_j: dict[str, float] = field(default_factory=dict)  # per node, engine excluded

    def parts(self) -> dict[str, float]:
        """The parts, in the order a report shows them."""
        return {
            "nodes": self.nodes_j,
            "engine overhead": self.engine_j,
            "baseline (idle)": self.baseline_j,
            "other processes": self.other_processes_j,
            "unclaimed memory": self.unclaimed_memory_j,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_j": self.energy_j,
            "nodes_j": self.nodes_j,
            "engine_j": self.engine_j,
            "baseline_j": self.baseline_j,
            "other_processes_j": self.other_processes_j,
            "unclaimed_memory_j": self.unclaimed_memory_j,
        }


def is_engine(record: Any) -> bool:
    """Whether a record is the engine's own (the scheduler), not a node of the workflow."""
    return bool(record.extra.get("kind") == ORCHESTRATION)


def reconcile(session: Session, result: AttributionResult) -> Reconciliation:
    """Split the run's energy into its parts and charge baseline and memory by reservation."""
    unattributed: dict[str, float] = {}
    for host in result.hosts.values():
        for key, value in host.unattributed_j.items():
            unattributed[key] = unattributed.get(key, 0.0) + value
    engine = {n for n, r in session.nodes.items() if is_engine(r)}
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
    parts.full_cost_j = _full_costs(session, result, engine, baseline_j, memory_j)
    return parts


def _full_costs(
    session: Session,
    result: AttributionResult,
    engine: set[str],
    baseline_j: float,
    memory_j: float,
) -> dict[str, float]:
    cores: dict[str, float] = {}
    memory: dict[str, float] = {}
    for name, record in session.nodes.items():
        if name in engine or not record.measurement or record.extra.get("mapnode"):
            continue
        duration = max(0.0, record.end - record.start)
        cores[name] = float(record.extra.get("n_procs") or 1) * duration
        mem_gb = record.extra.get("mem_gb")
        peak_gb = float(record.measurement.get("peak_rss_b", 0)) / GB
        memory[name] = float(mem_gb if mem_gb else peak_gb) * duration
    total_cores, total_memory = sum(cores.values()), sum(memory.values())
    full = {}
    for name, energy in result.nodes.items():
        if name in engine:
            continue
        share = energy.energy_j
        if total_cores > 0:
            share += baseline_j * cores.get(name, 0.0) / total_cores
        if total_memory > 0:
            share += memory_j * memory.get(name, 0.0) / total_memory
        full[name] = share
    return full
