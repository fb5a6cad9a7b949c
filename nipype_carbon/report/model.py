"""The report model: one saved session, attributed and priced, as tables.

Everything a renderer shows comes from here, computed from the raw session at
render time: attribution (with the idle mode asked for), grid intensity and
PUE (those recorded with the run unless overridden). Renderers never import a
meter or an engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nipype_carbon.analyse.attribution import AttributionResult, attribute_energy
from nipype_carbon.analyse.carbon import emissions_g
from nipype_carbon.analyse.reuse import energy_avoided_by_caching
from nipype_carbon.record.session import Session, load_session
from nipype_carbon.reference.grids import GridIntensity, check_pue, resolve_intensity

logger = logging.getLogger("nipype_carbon.report")

#: the CSV/JSON contract: these columns, in this order, then the others
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
]
EXTRA_COLUMNS = ["workflow", "host", "kind", "peak_rss_b", "n_procs", "mapnode_parent", "function"]


@dataclass
class Report:
    """A session with its attribution and carbon settings, ready to render."""

    session: Session
    result: AttributionResult
    grid: GridIntensity
    pue: float
    nodes: pd.DataFrame
    totals: dict[str, Any] = field(default_factory=dict)

    def emissions_g(self, energy_j: float, grid: GridIntensity | None = None) -> float:
        """Grams CO2e of ``energy_j`` with this report's PUE, on its grid or on ``grid``."""
        return emissions_g(energy_j, grid or self.grid, self.pue)

    def interfaces(self) -> pd.DataFrame:
        """Per-interface totals, hottest first."""
        return interface_frame(self.nodes)


def build_report(
    run: Session | str | Path,
    region: str | None = None,
    intensity_g_per_kwh: float | None = None,
    pue: float | None = None,
    idle: str | None = None,
) -> Report:
    """Attribute and price a session; explicit arguments override what the run recorded."""
    session = run if isinstance(run, Session) else load_session(run)
    recorded = session.settings
    if region is None and intensity_g_per_kwh is None:
        region = recorded.get("region")
        intensity_g_per_kwh = recorded.get("intensity_g_per_kwh")
    grid = resolve_intensity(region, intensity_g_per_kwh)
    pue = check_pue(pue if pue is not None else recorded.get("pue", 1.0))
    idle = idle or recorded.get("idle", "separate")
    result = attribute_energy(session, idle=idle)
    report = Report(session, result, grid, pue, pd.DataFrame())
    report.nodes = node_frame(report)
    report.totals = totals(report)
    return report


def node_frame(report: Report) -> pd.DataFrame:
    """One row per node: the CSV contract's columns, then context."""
    rows = []
    for name, record in report.session.nodes.items():
        energy = report.result.nodes[name]
        m = record.measurement or {}
        rows.append(
            {
                "node": name,
                "interface": record.interface,
                "status": record.status,
                "start": record.start,
                "end": record.end,
                "duration_s": max(0.0, record.end - record.start),
                "cpu_s": float(m.get("cpu_s", 0.0)),
                "energy_j": energy.energy_j,
                "energy_cpu_j": energy.energy_cpu_j,
                "energy_dram_j": energy.energy_dram_j,
                "energy_gpu_j": energy.energy_gpu_j,
                "energy_idle_j": energy.energy_idle_j,
                "emissions_g": report.emissions_g(energy.energy_j),
                "method": energy.method if record.measurement else "none",
                "workflow": record.workflow,
                "host": record.host,
                "kind": record.extra.get("kind")
                or ("mapnode" if record.extra.get("mapnode") else "node"),
                "peak_rss_b": int(m.get("peak_rss_b", 0)),
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
    nodes = nodes[nodes["kind"] != "mapnode"]  # a MapNode's children carry its work
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


def totals(report: Report) -> dict[str, Any]:
    """The JSON contract's totals: measured, attributed, unattributed, emissions, grid."""
    result, grid = report.result, report.grid
    energy_j = result.energy_j
    unattributed: dict[str, float] = {}
    for host in result.hosts.values():
        for key, value in host.unattributed_j.items():
            unattributed[key] = unattributed.get(key, 0.0) + value
    nodes = report.nodes
    starts, ends = nodes["start"], nodes["end"]
    session = report.session
    return {
        "run_status": session.status,
        "run_status_text": session.status_text(),
        "run_notes": session.problems(),
        "energy_j": energy_j,
        "attributed_energy_j": result.attributed_energy_j,
        "unattributed_energy_j": result.unattributed_energy_j,
        "unattributed_by_kind_j": unattributed,
        "emissions_g": report.emissions_g(energy_j),
        "energy_avoided_by_caching_j": energy_avoided_by_caching(report.session, result.idle),
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
