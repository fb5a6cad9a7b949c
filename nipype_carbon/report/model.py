"""The report model: one saved session, attributed and priced, as tables.

Everything a renderer shows comes from here, computed from the raw session at
render time: attribution (with the idle mode asked for), grid intensity and
PUE (those recorded with the run unless overridden). Renderers never import a
meter or an engine.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nipype_carbon.analyse.attribution import AttributionResult, attribute_energy
from nipype_carbon.analyse.carbon import emissions_g
from nipype_carbon.analyse.reconcile import Reconciliation, reconcile
from nipype_carbon.analyse.reuse import cached_energy_sources, energy_avoided_by_caching
from nipype_carbon.record.reader import earlier_runs, load_session
from nipype_carbon.record.session import Session
from nipype_carbon.reference.grids import GridIntensity, check_pue, resolve_intensity

logger = logging.getLogger("nipype_carbon.report")

#: the CSV/JSON contract: these columns, in this order, then the others
#: row kinds that are not the workflow's own work: a MapNode (its children carry the work) and
#: the scheduler (engine overhead)
NOT_WORK = ("mapnode", "orchestration")
#: energy_j is the node's full cost: its own (dynamic) energy, the parts energy_cpu_j ...
#: energy_idle_j, plus baseline_share_j and memory_share_j charged by what it reserved
NODE_COLUMNS = [
    "node",
    "interface",
    "status",
    "start",
    "end",
    "duration_s",
    "cpu_s",
    "energy_j",
    "energy_cpu_j",
    "energy_dram_j",
    "energy_gpu_j",
    "energy_idle_j",
    "emissions_g",
    "method",
    "dynamic_energy_j",
    "baseline_share_j",
    "memory_share_j",
]
EXTRA_COLUMNS = [
    "workflow",
    "host",
    "kind",
    "peak_rss_b",
    "n_procs",
    "mapnode_parent",
    "function",
]


@dataclass
class Report:
    """A session with its attribution and carbon settings, ready to render."""

    session: Session
    result: AttributionResult
    grid: GridIntensity
    pue: float
    nodes: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)
    reconciliation: Reconciliation | None = None

    def emissions_g(self, energy_j: float, grid: GridIntensity | None = None) -> float:
        """Grams CO2e of ``energy_j`` with this report's PUE, on its grid or on ``grid``."""
        return emissions_g(energy_j, grid or self.grid, self.pue)

    def how_obtained(self) -> str:
        """``measured``, ``modelled``, or which components were which (``measured (cpu:
        rapl); modelled (dram)``): "measured" only for counters and sensors."""
        found: dict[str, set[str]] = {}
        for node in self.result.nodes.values():
            for component, method in node.methods.items():
                found.setdefault(component, set()).add(method)
        measured = {
            c: sorted({x.removesuffix("+model") for x in m} - {"model"})
            for c, m in found.items()
            if m - {"model"}
        }
        modelled = sorted(
            c if "model" in m else f"{c} in part"
            for c, m in found.items()
            if any(x == "model" or x.endswith("+model") for x in m)
        )
        if not found:
            return "nothing metered"
        if not measured:
            return "modelled"
        if not modelled:
            return "measured"
        by = ", ".join(f"{c}: {'/'.join(m)}" for c, m in sorted(measured.items()))
        return f"measured ({by}); modelled ({', '.join(modelled)})"

    def interfaces(self) -> pd.DataFrame:
        """Per-interface totals, hottest first."""
        return interface_frame(self.nodes)

    @property
    def nothing_ran(self) -> bool:
        """Every workflow node was reused from the cache: the run did no work of its own, only
        the scheduler's (a rerun of a finished workflow)."""
        work = self.nodes[self.nodes["kind"] != "orchestration"]
        return not work.empty and bool((work["status"] == "cached").all())

    @property
    def split_names(self) -> tuple[str, str]:
        """What the engine calls a node run over many inputs, and its parts: a Nipype
        ("MapNode", "children"), a Pydra split task ("split task", "states")."""
        pydra = self.session.metadata.get("engine") == "pydra" or any(
            "state_index" in r.extra or "task_type" in r.extra for r in self.session.nodes.values()
        )
        return ("split task", "states") if pydra else ("MapNode", "children")

    def scheduler_energy_j(self) -> float:
        """Energy of the driving process (the scheduler's record)."""
        return float(self.nodes.loc[self.nodes["kind"] == "orchestration", "energy_j"].sum())


def build_report(
    run: Session | str | Path,
    region: str | None = None,
    intensity_g_per_kwh: float | None = None,
    pue: float | None = None,
    idle: str | None = None,
) -> Report:
    """Attribute and price a session; explicit arguments override what the run recorded."""
    session = run if isinstance(run, Session) else load_session(run)
    recorded = session.recorded_settings()
    if region is None and intensity_g_per_kwh is None:
        region, intensity_g_per_kwh = recorded.region, recorded.intensity_g_per_kwh
    grid = resolve_intensity(region, intensity_g_per_kwh)
    pue = check_pue(pue if pue is not None else recorded.pue)
    idle = idle or recorded.idle
    result = attribute_energy(session, idle=idle, exclusive_host=recorded.exclusive_host)
    report = Report(session, result, grid, pue, pd.DataFrame())
    report.reconciliation = reconcile(session, result)
    report.nodes = node_frame(report)
    report.totals = totals(report)
    return report


def node_frame(report: Report) -> pd.DataFrame:
    """One row per node: the CSV contract's columns, then context."""
    rows = []
    parts = report.reconciliation or reconcile(report.session, report.result)
    for name, record in report.session.nodes.items():
        energy = report.result.nodes[name]
        full = parts.full_cost_j(name, energy.energy_j)
        m = record.measured
        rows.append(
            {
                "node": name,
                "interface": record.interface,
                "status": record.status,
                "start": record.start,
                "end": record.end,
                "duration_s": max(0.0, record.end - record.start),
                "cpu_s": record.cpu_s,
                "energy_j": full,
                "energy_cpu_j": energy.energy_cpu_j,
                "energy_dram_j": energy.energy_dram_j,
                "energy_gpu_j": energy.energy_gpu_j,
                "energy_idle_j": energy.energy_idle_j,
                "emissions_g": report.emissions_g(full),
                "method": energy.method if m is not None else "none",
                "dynamic_energy_j": energy.energy_j,
                "baseline_share_j": parts.baseline_share_j.get(name, 0.0),
                "memory_share_j": parts.memory_share_j.get(name, 0.0),
                "workflow": record.workflow,
                "host": record.host,
                "kind": record.extra.get("kind")
                or ("mapnode" if record.extra.get("mapnode") else "node"),
                "peak_rss_b": int(m.peak_rss_b) if m is not None else 0,
                "n_procs": record.extra.get("n_procs", 1),
                "mapnode_parent": record.extra.get("mapnode_parent", ""),
                "function": record.extra.get("function", ""),
            }
        )
    frame = pd.DataFrame(rows, columns=NODE_COLUMNS + EXTRA_COLUMNS)
    return frame.sort_values("energy_j", ascending=False, kind="stable").reset_index(drop=True)


def interface_key(interface: str, function: str) -> str:
    """Group key of an interface; Function nodes are told apart by their function."""
    return f"{interface}:{function}" if function else interface


def interface_frame(nodes: pd.DataFrame) -> pd.DataFrame:
    """Energy and emissions per interface type, with share and cumulative share."""
    columns = [
        "interface",
        "nodes",
        "cpu_s",
        "energy_j",
        "emissions_g",
        "share",
        "cumulative_share",
    ]
    # a MapNode's children carry its work; the scheduler is engine overhead, not an interface
    nodes = nodes[~nodes["kind"].isin(NOT_WORK)]
    if nodes.empty:
        return pd.DataFrame(columns=columns)
    keyed = nodes.assign(
        interface=[
            interface_key(i, f) for i, f in zip(nodes["interface"], nodes["function"], strict=True)
        ]
    )
    grouped = (
        keyed.groupby("interface", sort=False)
        .agg(
            nodes=("node", "count"),
            cpu_s=("cpu_s", "sum"),
            energy_j=("energy_j", "sum"),
            emissions_g=("emissions_g", "sum"),
        )
        .sort_values("energy_j", ascending=False, kind="stable")
        .reset_index()
    )
    total = grouped["energy_j"].sum()
    grouped["share"] = grouped["energy_j"] / total if total > 0 else 0.0
    grouped["cumulative_share"] = grouped["share"].cumsum()
    return grouped


#: the figures of a fault's reason (left out when telling one fault from another)
_FIGURES = re.compile(r"\d[\d.e+-]*")


def meter_faults(report: Report) -> list[dict[str, Any]]:
    """Each meter dropped while the run was measured: where, when first, why, in how many
    records. One meter failing alike in several processes is one fault (the reasons may
    differ in their figures: the same jump seen over 0.25 s or 0.251 s); the first says why."""
    found: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for record in report.session.nodes.values():
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


def _earlier_sessions(session: Session) -> dict[str, Session]:
    """The earlier sessions that spent the energy of this run's cached nodes, by file name
    (those that can no longer be read are left out)."""
    if session.path is None:
        return {}
    names = sorted(set(cached_energy_sources(session).values()))
    paths = [Path(session.path).parent / name for name in names]
    return {path.name: earlier for path, earlier in earlier_runs(paths)}


def totals(report: Report) -> dict[str, Any]:
    """The JSON contract's totals: the run's and the host's energy, its parts, emissions, grid."""
    result, grid = report.result, report.grid
    parts = report.reconciliation or reconcile(report.session, result)
    energy_j = parts.run_energy_j
    nodes = report.nodes
    starts, ends = nodes["start"], nodes["end"]
    session = report.session
    return {
        "meter_faults": meter_faults(report),
        # measured domains modelled where their readings could not be used (analyse.counters)
        "modelled_after_fault_j": sum(
            g["modelled_j"] for h in result.hosts.values() for g in h.glitches
        ),
        "counter_glitches": [
            {"host": name, **g} for name, h in sorted(result.hosts.items()) for g in h.glitches
        ],
        "run_status": session.status,
        "run_status_text": session.status_text(),
        "run_notes": session.problems(),
        # the run's energy: the host's less other processes; the nodes' energy_j add up to it
        "energy_j": energy_j,
        "host_energy_j": result.energy_j,
        "other_processes_j": parts.other_processes_j,
        "attributed_energy_j": result.attributed_energy_j,
        "unattributed_energy_j": result.unattributed_energy_j,
        "unattributed_by_kind_j": result.unattributed_by_kind_j(),
        # the parts of energy_j: nodes, engine overhead, baseline, unclaimed memory
        "reconciliation_j": parts.to_dict(),
        "emissions_g": report.emissions_g(energy_j),
        "energy_avoided_by_caching_j": energy_avoided_by_caching(
            report.session, _earlier_sessions(report.session), result.idle
        ),
        "intensity_g_per_kwh": grid.intensity_g_per_kwh,
        "pue": report.pue,
        "region": grid.region,
        "region_is_default": grid.is_default,
        "intensity_source": grid.source,
        "idle": result.idle,
        "nodes": len(nodes),
        "nodes_by_status": {k: int(v) for k, v in nodes["status"].value_counts().items()},
        "wall_time_s": float(ends.max() - starts.min()) if len(nodes) else 0.0,
        "cpu_s": float(nodes["cpu_s"].sum()),
        "methods": sorted(set(nodes["method"]) - {"none"}),
        "hosts": sorted(result.hosts),
    }
