"""The report model: one saved session, attributed and priced, as tables.

Everything a renderer shows comes from here, computed from the raw session at
render time: attribution (with the idle mode asked for), grid intensity and
PUE (those recorded with the run unless overridden). Renderers never import a
meter or an engine.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nipype_carbon.analyse.attribution import AttributionResult, attribute_energy
from nipype_carbon.analyse.carbon import emissions_g
from nipype_carbon.analyse.host_timeline import HostTimeline
from nipype_carbon.analyse.reconcile import Reconciliation, reconcile
from nipype_carbon.analyse.reuse import cached_energy_sources, energy_avoided_by_caching
from nipype_carbon.record.reader import earlier_runs, load_session
from nipype_carbon.record.records import ModelConstants
from nipype_carbon.record.session import Session
from nipype_carbon.reference.grids import GridIntensity, check_pue, resolve_intensity
from nipype_carbon.report.totals import Totals, compute_totals

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
    "own_energy_j",
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
class ReportHost:
    """A host the run used, as a report shows it: what it is, what its meters measured, how
    its baseline was found, and its merged timeline (for charts of power over time)."""

    name: str
    cpu_model: str | None = None
    logical_cpus: int = 1
    memory_total_b: float = 0.0
    #: the constants of its model meter, if it had one
    model: ModelConstants | None = None
    #: per component: what its meters measured over the run, and what nobody got
    measured_j: dict[str, float] = field(default_factory=dict)
    unattributed_j: dict[str, float] = field(default_factory=dict)
    baseline_power_w: dict[str, float] = field(default_factory=dict)
    baseline_method: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    warnings: list[str] = field(default_factory=list)
    timeline: HostTimeline | None = field(default=None, repr=False)
    #: whether the session holds the host's record (its facts and meters), and whether
    #: attribution split its energy (it measured a node)
    recorded: bool = True
    attributed: bool = False


@dataclass
class Report:
    """A session attributed and priced, with everything a renderer reads.

    Renderers read this model only (never ``session`` or ``result``, which the model
    keeps for callers that analyse further): the node table, the totals, the run's
    workflow, edges, hosts and the tool that recorded it.
    """

    session: Session
    result: AttributionResult
    grid: GridIntensity
    pue: float
    nodes: pd.DataFrame
    totals: Totals = field(default_factory=Totals)
    reconciliation: Reconciliation | None = None
    #: the workflow's name (empty when unrecorded), the engine's, the session's own metadata
    workflow: str = ""
    engine: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    #: when the session was created (epoch s), its file, and the nipype-carbon that recorded it
    created: float = 0.0
    path: Path | None = None
    tool: dict[str, Any] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)
    hosts: dict[str, ReportHost] = field(default_factory=dict)
    #: per component, how it was obtained (a measuring method wherever one was used)
    component_methods: dict[str, str] = field(default_factory=dict)
    #: what the engine calls a node run over many inputs, and its parts
    split_names: tuple[str, str] = ("MapNode", "children")

    @property
    def tool_version(self) -> str:
        return str(self.tool.get("version", "?"))

    @property
    def session_name(self) -> str:
        """The session file's name (empty for a session in memory)."""
        return self.path.name if self.path is not None else ""

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

    def scheduler_energy_j(self) -> float:
        """Energy of the driving process (the scheduler's record): the engine overhead."""
        return self.totals.engine_overhead_j


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
    report = Report(
        session,
        result,
        grid,
        pue,
        pd.DataFrame(),
        reconciliation=reconcile(session, result),
        workflow=str(session.metadata.get("workflow") or ""),
        engine=str(session.metadata.get("engine") or ""),
        metadata=dict(session.metadata),
        created=float(session.created),
        path=Path(session.path) if session.path is not None else None,
        tool=dict(session.tool) if isinstance(session.tool, dict) else {},
        edges=list(session.edges),
        hosts=_hosts(session, result),
        component_methods=_component_methods(result),
        split_names=_split_names(session),
    )
    report.nodes = node_frame(report)
    avoided = energy_avoided_by_caching(session, _earlier_sessions(session), result.idle)
    assert report.reconciliation is not None
    report.totals = compute_totals(
        session, result, report.reconciliation, report.nodes, grid, pue, avoided
    )
    return report


def read_nodes(
    run: Session | str | Path,
    region: str | None = None,
    intensity_g_per_kwh: float | None = None,
    pue: float | None = None,
    idle: str | None = None,
) -> pd.DataFrame:
    """A run's nodes as a pandas DataFrame (one row per node, the CSV's columns), priced as
    :func:`build_report` prices them: for notebooks.

    Examples
    --------
    >>> from nipype_carbon.record.session import Session
    >>> read_nodes(Session()).columns[:4].tolist()
    ['node', 'interface', 'status', 'start']
    """
    return build_report(run, region, intensity_g_per_kwh, pue, idle).nodes


def _hosts(session: Session, result: AttributionResult) -> dict[str, ReportHost]:
    """Every host the run measured on, and every host it recorded."""
    hosts = {}
    for name in [*result.hosts, *(h for h in session.hosts if h not in result.hosts)]:
        record, energy = session.hosts.get(name), result.hosts.get(name)
        host = ReportHost(name, recorded=record is not None)
        if record is not None:
            host.cpu_model, host.logical_cpus = record.cpu_model, record.logical_cpus
            host.memory_total_b = record.installed_memory_b
            host.model = record.model_constants()
        if energy is not None:
            host.attributed = True
            host.measured_j, host.unattributed_j = energy.measured_j, energy.unattributed_j
            host.baseline_power_w, host.baseline_method = (
                energy.baseline_power_w,
                energy.baseline_method,
            )
            host.duration_s, host.warnings = energy.duration_s, energy.warnings
            host.timeline = energy.timeline
        hosts[name] = host
    return hosts


def _component_methods(result: AttributionResult) -> dict[str, str]:
    """Per component, a measuring method wherever a node had one, else the model's."""
    found: dict[str, str] = {}
    for node in result.nodes.values():
        for component, method in node.methods.items():
            current = found.get(component)
            if current is None or "model" in current:  # a purely measured method wins
                found[component] = method
    return found


def _split_names(session: Session) -> tuple[str, str]:
    """What the engine calls a node run over many inputs, and its parts: a Nipype
    ("MapNode", "children"), a Pydra split task ("split task", "states")."""
    pydra = session.metadata.get("engine") == "pydra" or any(
        "state_index" in r.extra or "task_type" in r.extra for r in session.nodes.values()
    )
    return ("split task", "states") if pydra else ("MapNode", "children")


def _mapnode_parents(names: Iterable[str]) -> dict[str, str]:
    """Child -> MapNode for records a scheduler wrote without saying so (a cached rerun finds
    a whole MapNode in its cache): Nipype names a child ``<MapNode>._<name><index>``."""
    ordered = sorted(names)
    found = {}
    for i, name in enumerate(ordered):
        prefix = f"{name}._"
        for other in ordered[i + 1 :]:
            if not other.startswith(prefix):
                break
            if "." not in other[len(prefix) :]:
                found[other] = name
    return found


def node_frame(report: Report) -> pd.DataFrame:
    """One row per node: the CSV contract's columns, then context."""
    rows = []
    parts = report.reconciliation or reconcile(report.session, report.result)
    inferred = _mapnode_parents(report.session.nodes)
    parents = set(inferred.values())
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
                "own_energy_j": energy.energy_j,
                "baseline_share_j": parts.baseline_share_j.get(name, 0.0),
                "memory_share_j": parts.memory_share_j.get(name, 0.0),
                "workflow": record.workflow,
                "host": record.host,
                "kind": record.extra.get("kind")
                or ("mapnode" if record.extra.get("mapnode") or name in parents else "node"),
                "peak_rss_b": int(m.peak_rss_b) if m is not None else 0,
                "n_procs": record.extra.get("n_procs", 1),
                "mapnode_parent": record.extra.get("mapnode_parent", "") or inferred.get(name, ""),
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


def _earlier_sessions(session: Session) -> dict[str, Session]:
    """The earlier sessions that spent the energy of this run's cached nodes, by file name
    (those that can no longer be read are left out)."""
    if session.path is None:
        return {}
    names = sorted(set(cached_energy_sources(session).values()))
    paths = [Path(session.path).parent / name for name in names]
    return {path.name: earlier for path, earlier in earlier_runs(paths)}
