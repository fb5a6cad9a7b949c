"""A run's totals: the figures every format shows, typed; the JSON contract's ``totals``.

:class:`Totals` holds the run's status and notes, its energy and the parts of it,
emissions and grid, meter faults and counter glitches, counts and times.
:meth:`Totals.to_dict` is the JSON's ``totals`` object, key for key in the order of the
fields. Computed once per report (:func:`compute_totals`), from the session, its
attribution and reconciliation, the node table and the grid; renderers read the fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from nipype_carbon.analyse.carbon import emissions_g

if TYPE_CHECKING:
    import pandas as pd

    from nipype_carbon.analyse.attribution import AttributionResult
    from nipype_carbon.analyse.reconcile import Reconciliation
    from nipype_carbon.record.session import Session
    from nipype_carbon.reference.grids import GridIntensity


@dataclass
class Totals:
    """The run's figures (see the user guide's JSON contract for each)."""

    #: meters dropped or misread: host, meter, reason, action, t (first), records
    meter_faults: list[dict[str, Any]] = field(default_factory=list)
    #: energy modelled where measured domains' readings could not be used
    modelled_after_fault_j: float = 0.0
    #: spans of counters modelled: host, domain, kind, what, start, end, modelled_j
    counter_glitches: list[dict[str, Any]] = field(default_factory=list)
    run_status: str = "interrupted"
    run_status_text: str = ""
    run_notes: list[str] = field(default_factory=list)
    #: the run's energy: the host's less other processes; the nodes' energy_j add up to it
    energy_j: float = 0.0
    host_energy_j: float = 0.0
    other_processes_j: float = 0.0
    attributed_energy_j: float = 0.0
    unattributed_energy_j: float = 0.0
    unattributed_by_kind_j: dict[str, float] = field(default_factory=dict)
    #: the parts of energy_j: nodes, engine overhead, baseline, unclaimed memory
    reconciliation_j: dict[str, float] = field(default_factory=dict)
    #: the run energy by the report's vocabulary (report/vocabulary.py): the nodes' full cost
    #: (own energy + baseline share + memory share) + engine overhead + baseline not charged
    nodes_full_cost_j: float = 0.0
    nodes_own_energy_j: float = 0.0
    nodes_baseline_share_j: float = 0.0
    nodes_memory_share_j: float = 0.0
    engine_overhead_j: float = 0.0
    not_charged_j: float = 0.0
    emissions_g: float = 0.0
    energy_avoided_by_caching_j: float = 0.0
    intensity_g_per_kwh: float = 0.0
    pue: float = 1.0
    region: str = ""
    region_is_default: bool = False
    intensity_source: str = ""
    idle: str = "separate"
    #: units of work (a MapNode's children, not the MapNode; not the scheduler), by status
    nodes: int = 0
    nodes_by_status: dict[str, int] = field(default_factory=dict)
    #: MapNodes whose children are among the nodes
    mapnodes: int = 0
    wall_time_s: float = 0.0
    cpu_s: float = 0.0
    methods: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON's ``totals``: every field, in order (lists and dicts not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def compute_totals(
    session: Session,
    result: AttributionResult,
    parts: Reconciliation,
    nodes: pd.DataFrame,
    grid: GridIntensity,
    pue: float,
    avoided_j: float,
) -> Totals:
    """The totals of one attributed, reconciled and priced run."""
    energy_j = parts.run_energy_j
    starts, ends = nodes["start"], nodes["end"]
    work = nodes[nodes["kind"] == "node"]
    full_j = float(work["energy_j"].sum())
    engine_j = float(nodes.loc[nodes["kind"] == "orchestration", "energy_j"].sum())
    return Totals(
        meter_faults=meter_faults(session),
        modelled_after_fault_j=sum(
            g["modelled_j"] for h in result.hosts.values() for g in h.glitches
        ),
        counter_glitches=[
            {"host": name, **g} for name, h in sorted(result.hosts.items()) for g in h.glitches
        ],
        run_status=session.status,
        run_status_text=session.status_text(),
        run_notes=session.problems(),
        energy_j=energy_j,
        host_energy_j=result.energy_j,
        other_processes_j=parts.other_processes_j,
        attributed_energy_j=result.attributed_energy_j,
        unattributed_energy_j=result.unattributed_energy_j,
        unattributed_by_kind_j=result.unattributed_by_kind_j(),
        reconciliation_j=parts.to_dict(),
        nodes_full_cost_j=full_j,
        nodes_own_energy_j=float(work["own_energy_j"].sum()),
        nodes_baseline_share_j=float(work["baseline_share_j"].sum()),
        nodes_memory_share_j=float(work["memory_share_j"].sum()),
        engine_overhead_j=engine_j,
        not_charged_j=max(0.0, energy_j - full_j - engine_j),
        emissions_g=emissions_g(energy_j, grid, pue),
        energy_avoided_by_caching_j=avoided_j,
        intensity_g_per_kwh=grid.intensity_g_per_kwh,
        pue=pue,
        region=grid.region,
        region_is_default=grid.is_default,
        intensity_source=grid.source,
        idle=result.idle,
        nodes=len(work),
        nodes_by_status={str(k): int(v) for k, v in work["status"].value_counts().items()},
        mapnodes=int((nodes["kind"] == "mapnode").sum()),
        wall_time_s=float(ends.max() - starts.min()) if len(nodes) else 0.0,
        cpu_s=float(nodes["cpu_s"].sum()),
        methods=sorted(set(nodes["method"]) - {"none"}),
        hosts=sorted(result.hosts),
    )


#: the figures of a fault's reason (left out when telling one fault from another)
_FIGURES = re.compile(r"\d[\d.e+-]*")


def meter_faults(session: Session) -> list[dict[str, Any]]:
    """Each meter dropped or misread while the run was measured: where, when first, why, in
    how many records. One meter failing alike in several processes is one fault (the reasons
    may differ in their figures: the same jump seen over 0.25 s or 0.251 s); the first says
    why."""
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for record in session.nodes.values():
        for fault in record.measured.faults if record.measured is not None else []:
            key = (record.host, fault.meter, _FIGURES.sub("#", fault.reason), fault.action)
            entry = found.setdefault(
                key,
                {
                    "host": key[0],
                    "meter": key[1],
                    "reason": fault.reason,
                    "action": fault.action,
                    "t": fault.t,
                    "records": 0,
                },
            )
            entry["records"] += 1
            if fault.t is not None and (entry["t"] is None or fault.t < entry["t"]):
                entry["t"], entry["reason"] = fault.t, fault.reason
    return sorted(found.values(), key=lambda f: f["t"] or 0.0)
