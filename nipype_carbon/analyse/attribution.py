"""Attribution: host energy split among the nodes that spent it.

Pure functions of a session's raw records. For each host, every interval of
its merged timeline (see :mod:`nipype_carbon.analyse.host_timeline`) is split:

- CPU domains: ``baseline = min(E, P_baseline * dt)`` and ``dynamic = E - baseline``.
  A node gets ``rate * dcpu_node``, with ``rate`` the host's dynamic joules per
  busy CPU-second over the few bins around (``RATE_WINDOW_BINS``); should the
  nodes together claim more than the dynamic energy, all are scaled down. Busy
  time of other processes stays unattributed.
- DRAM domains: a node gets ``E * rss_node / max(memory_total, sum(rss))``. Modelled
  memory power counts for the run only as far as its nodes used it, unless the
  host was the run's alone (setting ``exclusive_host``): then the rest is
  "unclaimed memory".
- GPU domains: baseline as for the CPU; a node gets the dynamic part by its
  processes' share of the GPU's utilisation (equal shares among running nodes
  when the GPU is modelled and no per-process use is known).
- Baseline energy: reported apart as unattributed ``idle`` (``idle="separate"``,
  the default) or shared equally among the nodes running in the interval
  (``idle="shared"``).

Invariant: attributed + unattributed = measured, to rounding.

Baseline power per domain: the host record's value where known (the model
knows it exactly; an adapter may have measured it before the run); else a
linear fit of interval power against CPU utilisation when utilisation varied
by at least 20 points (CPU domains only); else the lowest interval power seen
(an upper bound).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from nipype_carbon.analyse.baseline import baseline_power
from nipype_carbon.analyse.host_timeline import (
    SPLIT_BIN_S,
    HostTimeline,
    NodeSeries,
    build_timeline,
    node_series,
    resample,
)
from nipype_carbon.measure.measurement import COMPONENTS, Domain
from nipype_carbon.record.records import HostRecord, NodeRecord
from nipype_carbon.record.session import Session
from nipype_carbon.record.settings import IDLE_MODES


@dataclass
class NodeEnergy:
    """Energy attributed to one node, by component, and how it was obtained."""

    name: str
    host: str
    cpu_s: float = 0.0
    energy_cpu_j: float = 0.0
    energy_dram_j: float = 0.0
    energy_gpu_j: float = 0.0
    energy_idle_j: float = 0.0
    methods: dict[str, str] = field(default_factory=dict)

    @property
    def energy_j(self) -> float:
        return self.energy_cpu_j + self.energy_dram_j + self.energy_gpu_j + self.energy_idle_j

    @property
    def method(self) -> str:
        """``rapl``, ``model``, ... or ``cpu:rapl;dram:model`` when components differ."""
        kinds = set(self.methods.values())
        if len(kinds) == 1:
            return kinds.pop()
        return ";".join(f"{c}:{m}" for c, m in sorted(self.methods.items())) or "none"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "energy_j": self.energy_j, "method": self.method}


@dataclass
class HostEnergy:
    """What the meters measured on one host, and what stayed unattributed."""

    host: str
    measured_j: dict[str, float] = field(default_factory=dict)  # per component
    unattributed_j: dict[str, float] = field(default_factory=dict)  # idle, cpu, dram, gpu
    baseline_power_w: dict[str, float] = field(default_factory=dict)
    baseline_method: dict[str, str] = field(default_factory=dict)
    duration_s: float = 0.0
    wraps: int = 0
    warnings: list[str] = field(default_factory=list)
    #: spans of measured domains modelled in place of readings: domain, kind (unread, jump,
    #: reset, frozen), start, end, modelled_j (see analyse.counters)
    glitches: list[dict[str, Any]] = field(default_factory=list)
    #: the merged samples the split was made on (for charts of power over time)
    timeline: HostTimeline | None = field(default=None, repr=False, compare=False)


@dataclass
class AttributionResult:
    """Per-node energy and per-host totals of a run."""

    nodes: dict[str, NodeEnergy]
    hosts: dict[str, HostEnergy]
    idle: str

    @property
    def energy_j(self) -> float:
        return sum(sum(h.measured_j.values()) for h in self.hosts.values())

    @property
    def attributed_energy_j(self) -> float:
        return sum(n.energy_j for n in self.nodes.values())

    @property
    def unattributed_energy_j(self) -> float:
        return sum(sum(h.unattributed_j.values()) for h in self.hosts.values())

    def unattributed_by_kind_j(self) -> dict[str, float]:
        """What nobody got, by kind (``idle``, ``cpu``, ``dram``, ``gpu``), over all hosts."""
        found: dict[str, float] = {}
        for host in self.hosts.values():
            for kind, energy_j in host.unattributed_j.items():
                found[kind] = found.get(kind, 0.0) + energy_j
        return found


def attribute_energy(
    session: Session, idle: str = "separate", exclusive_host: bool | None = None
) -> AttributionResult:
    """Split each host's measured energy among the session's nodes.

    Parameters
    ----------
    session : Session
        A loaded or live session.
    idle : {"separate", "shared"}
        Report baseline energy apart, or share it among running nodes.
    exclusive_host : bool, optional
        The hosts ran nothing but this run (their installed memory's modelled power is the
        run's); by default as the run recorded it.
    """
    if idle not in IDLE_MODES:
        raise ValueError(f"idle must be one of {IDLE_MODES}, got {idle!r}")
    if exclusive_host is None:
        exclusive_host = session.recorded_settings().exclusive_host
    nodes = {name: NodeEnergy(name, r.host) for name, r in session.nodes.items()}
    hosts: dict[str, HostEnergy] = {}
    for host, records in _by_host(session.nodes.values()).items():
        record = session.hosts.get(host)
        if record is None:
            continue
        calibrated = session.calibrated_baseline(host)
        hosts[host] = _attribute_host(record, records, nodes, idle, calibrated, exclusive_host)
    return AttributionResult(nodes, hosts, idle)


def _by_host(records: Iterable[NodeRecord]) -> dict[str, list[NodeRecord]]:
    grouped: dict[str, list[NodeRecord]] = {}
    for record in records:
        if record.has_samples:
            grouped.setdefault(record.host, []).append(record)
    return grouped


def host_domains(host: HostRecord) -> list[Domain]:
    """The domains of a host's meters, each component counted once.

    A host's meters are the union over its processes; where one process
    measured a component (RAPL, NVML) and another only modelled it, the
    measured counter is the host's and the model is left out.
    """
    domains = host.domains()
    measured = {d.component for d in domains if d.method != "model"}
    return [d for d in domains if d.method != "model" or d.component not in measured]


def _attribute_host(
    host: HostRecord,
    records: list[NodeRecord],
    nodes: dict[str, NodeEnergy],
    idle: str,
    calibrated_w: tuple[float | None, str] | None = None,
    exclusive: bool = False,
) -> HostEnergy:
    domains = host_domains(host)
    measured = [m for m in (r.measured for r in records) if m is not None]
    raw = build_timeline(host.name, measured, domains, _model_stand_in(host, domains))
    baselines = {
        name: baseline_power(host, raw, name, calibrated_w)
        for name, domain in raw.domains.items()
        if domain.component != "dram"
    }
    timeline = resample(raw, SPLIT_BIN_S)
    result = HostEnergy(host.name, wraps=timeline.wraps, timeline=timeline)
    for glitch in raw.glitches:
        result.glitches.append({**glitch.to_dict(), "what": GLITCH_WORDS[glitch.kind]})
        result.warnings.append(
            f"{glitch.domain} {GLITCH_WORDS[glitch.kind]} for {glitch.end - glitch.start:.3g} s: "
            f"{glitch.modelled_j:.3g} J modelled instead"
        )
    if timeline.long_gaps:
        result.warnings.append(
            f"{timeline.long_gaps} interval(s) long enough for a counter to wrap unseen"
        )
    series = [node_series(r.name, r.measured) for r in records if r.measured is not None]
    spans = [_span(timeline.t, s) for s in series]
    for r in records:
        nodes[r.name].cpu_s = r.cpu_s
    # per node and component: energy it got that was modelled in place of readings
    modelled: dict[str, dict[str, float]] = {s.name: {} for s in series}
    running = _running_counts(len(timeline.t) - 1, spans)
    covered = running > 0  # a gap between this run's nodes is not this run's energy
    # shared idle and modelled GPU power go to the workflow's nodes, never to the scheduler
    engine = [r.is_engine for r in records if r.measured is not None]
    working = _running_counts(
        len(timeline.t) - 1, [s for s, e in zip(spans, engine, strict=True) if not e]
    )
    result.duration_s = float(timeline.dt[covered].sum())
    unattributed = dict.fromkeys(("idle", *COMPONENTS), 0.0)
    for name, domain in timeline.domains.items():
        energy = np.where(covered, timeline.energy_j[name], 0.0)
        result.measured_j[domain.component] = result.measured_j.get(domain.component, 0.0) + float(
            energy.sum()
        )
        frac = _modelled_fraction(timeline, name)
        if domain.component == "dram":
            shares = _memory_shares(timeline, series, spans, host.memory_total_b)
            _note_modelled(modelled, "dram", energy, frac, shares, series, spans)
            left = _give(energy, shares, series, spans, nodes, "energy_dram_j")
            if domain.method == "model" and not exclusive:
                # modelled memory power is the run's for the memory its nodes used, not for
                # every installed GB, unless the host was the run's alone
                result.measured_j["dram"] -= left
                continue
            unattributed["dram"] += left
            continue
        base_w, how = baselines[name]
        result.baseline_power_w[name], result.baseline_method[name] = base_w, how
        # in place where it can be: a long run's bins are many (one array per domain each)
        baseline = timeline.dt  # a fresh array
        baseline = np.minimum(energy, np.multiply(base_w, baseline, out=baseline), out=baseline)
        dynamic = np.subtract(energy, baseline, out=energy)
        if domain.component == "cpu":
            dbusy = timeline.dbusy
            dbusy *= covered
            amounts = _cpu_amounts(dynamic, dbusy, series, spans, timeline.t)
            if frac is not None:
                parts = _cpu_amounts(dynamic, dbusy, series, spans, timeline.t, frac)
                claimed = sum(amounts)
                scale = min(1.0, float(dynamic.sum()) / claimed) if claimed > 0 else 0.0
                for s_, part in zip(series, parts, strict=True):
                    into = modelled[s_.name]
                    into["cpu"] = into.get("cpu", 0.0) + part * scale
            del dbusy
            unattributed["cpu"] += _give_amounts(dynamic, amounts, series, nodes, "energy_cpu_j")
        else:
            shares = _gpu_shares(domain, timeline, series, spans, engine, working)
            _note_modelled(modelled, domain.component, dynamic, frac, shares, series, spans)
            unattributed[domain.component] += _give(
                dynamic, shares, series, spans, nodes, f"energy_{domain.component}_j"
            )
        if idle == "shared":
            unattributed["idle"] += _give(
                baseline,
                _equal_shares(spans, working, engine),
                series,
                spans,
                nodes,
                "energy_idle_j",
            )
        else:
            unattributed["idle"] += float(baseline.sum())
        del energy, baseline, dynamic
    result.unattributed_j = unattributed
    for s_ in series:
        nodes[s_.name].methods = _methods(domains, nodes[s_.name], modelled[s_.name])
    return result


def _modelled_fraction(timeline: HostTimeline, name: str) -> np.ndarray | None:
    """Per bin, the share of a domain's energy modelled in place of readings (None: none)."""
    modelled = timeline.modelled_j.get(name)
    if modelled is None or not modelled.any():
        return None
    return np.clip(_safe_ratio(modelled, timeline.energy_j[name]), 0.0, 1.0)


def _note_modelled(
    modelled: dict[str, dict[str, float]],
    component: str,
    energy: np.ndarray,
    frac: np.ndarray | None,
    share_of: ShareOf,
    series: list[NodeSeries],
    spans: list[tuple[int, int]],
) -> None:
    """Add to each node the modelled part of what it gets of ``energy`` by ``share_of``."""
    if frac is None:
        return
    for i, (s, (a, b)) in enumerate(zip(series, spans, strict=True)):
        into = modelled[s.name]
        part = float((energy[a:b] * frac[a:b] * share_of(i)).sum())
        into[component] = into.get(component, 0.0) + part


#: the share of a node's span modelled in place of readings above which its method says so
MODELLED_SHARE_NOTED = 0.05
#: what each kind of glitch is called in a sentence
GLITCH_WORDS = {
    "unread": "could not be read",
    "jump": "jumped",
    "reset": "was reset",
    "frozen": "froze",
}


def _methods(domains: list[Domain], node: NodeEnergy, modelled: dict[str, float]) -> dict[str, str]:
    """How each component of a node was obtained: the domain's method, ``+model`` where more
    than :data:`MODELLED_SHARE_NOTED` of what the node got of it was modelled in place of
    readings (a glitch, a meter no process could read)."""
    methods: dict[str, str] = {}
    for domain in domains:
        method = domain.method
        got = float(getattr(node, f"energy_{domain.component}_j"))
        if got > 0 and modelled.get(domain.component, 0.0) > MODELLED_SHARE_NOTED * got:
            method += "+model"
        methods[domain.component] = method
    return methods


def _span(t: np.ndarray, s: NodeSeries) -> tuple[int, int]:
    """Interval indices [a, b) of the timeline that overlap the node's own samples."""
    if len(s.t) < 2 or len(t) < 2:
        return 0, 0
    n = len(t) - 1
    a = min(max(int(np.searchsorted(t, s.t[0], side="right")) - 1, 0), n)
    b = min(int(np.searchsorted(t, s.t[-1], side="left")), n)
    return a, max(a, b)


def _running_counts(n_intervals: int, spans: list[tuple[int, int]]) -> np.ndarray:
    counts = np.zeros(max(n_intervals, 0) + 1)
    for a, b in spans:
        counts[a] += 1
        counts[b] -= 1
    return np.cumsum(counts)[:n_intervals]


def _increments(
    t: np.ndarray, s: NodeSeries, values: np.ndarray, span: tuple[int, int]
) -> np.ndarray:
    a, b = span
    at = np.interp(t[a : b + 1], s.t, values)
    return np.clip(np.diff(at), 0.0, None)


#: a node's share of each bin of its span, made when asked for (index into the host's series)
ShareOf = Callable[[int], np.ndarray]


def _cpu_amounts(
    dynamic: np.ndarray,
    dbusy: np.ndarray,
    series: list[NodeSeries],
    spans: list[tuple[int, int]],
    t: np.ndarray,
    weights: np.ndarray | None = None,
) -> list[float]:
    """Each node's dynamic CPU energy: over its bins, the host's rate (J per busy
    CPU-second) there times the node's CPU seconds there.

    The rate is taken over a few bins around each (``RATE_WINDOW_BINS``), so a node's CPU
    time and the host's busy time, read at different instants by different processes,
    need not fall in the same bin for the node to get what its CPU time caused. One
    node's bins are held at a time.
    """
    window = np.ones(RATE_WINDOW_BINS)
    energy = np.convolve(dynamic, window, mode="same")
    busy = np.convolve(dbusy, window, mode="same")
    # below a nanosecond of CPU there is no rate to speak of (and dividing by it overflows)
    overall = float(dynamic.sum() / dbusy.sum()) if dbusy.sum() > MIN_BUSY_S else 0.0
    seen = busy > MIN_BUSY_S
    busy[~seen] = 1.0
    rate = np.divide(energy, busy, out=energy)  # in place: one array per bin fewer
    rate[~seen] = overall
    del busy
    if weights is not None:  # the part of each bin's rate that ``weights`` (a share) says
        rate *= weights
    return [
        float((rate[a:b] * _increments(t, s, s.cpu_s, (a, b))).sum())
        for s, (a, b) in zip(series, spans, strict=True)
    ]


def _give_amounts(
    energy: np.ndarray,
    amounts: list[float],
    series: list[NodeSeries],
    nodes: dict[str, NodeEnergy],
    attr: str,
) -> float:
    """Hand each node its amount, scaled down if together they exceed ``energy``;
    return what nobody got."""
    total = float(energy.sum())
    claimed = float(sum(amounts))
    scale = min(1.0, total / claimed) if claimed > 0 else 0.0
    for s, amount in zip(series, amounts, strict=True):
        part = amount * scale
        setattr(nodes[s.name], attr, getattr(nodes[s.name], attr) + part)
    return total - claimed * scale


def _memory_shares(
    timeline: HostTimeline, series: list[NodeSeries], spans: list[tuple[int, int]], total_b: float
) -> ShareOf:
    """Each node's share of memory energy: its memory over the bin's (at least what is
    installed). The total is summed in a first pass; shares are made one node at a time."""

    def rss(i: int) -> np.ndarray:
        a, b = spans[i]
        at = np.interp(timeline.t[a : b + 1], series[i].t, series[i].rss_b)
        return (at[1:] + at[:-1]) / 2.0

    total = _scatter_sum(len(timeline.t) - 1, rss, spans)
    denominator = np.maximum(total, float(total_b))
    return lambda i: _safe_ratio(rss(i), denominator[spans[i][0] : spans[i][1]])


def _gpu_shares(
    domain: Domain,
    timeline: HostTimeline,
    series: list[NodeSeries],
    spans: list[tuple[int, int]],
    engine: list[bool],
    working: np.ndarray,
) -> ShareOf:
    if not any(domain.device in s.gpu for s in series):
        return _equal_shares(spans, working, engine)

    def used(i: int) -> np.ndarray:
        (a, b), s = spans[i], series[i]
        rows = s.gpu.get(domain.device or "")
        if rows is None or not len(rows):
            return np.zeros(b - a)
        util = np.interp(timeline.t[a:b], s.t, rows[:, 0])
        total = np.interp(timeline.t[a:b], s.t, rows[:, 1])
        return _safe_ratio(util, np.maximum(total, util))

    scale = np.maximum(_scatter_sum(len(timeline.t) - 1, used, spans), 1.0)
    return lambda i: used(i) / scale[spans[i][0] : spans[i][1]]


def _equal_shares(
    spans: list[tuple[int, int]], running: np.ndarray, left_out: list[bool]
) -> ShareOf:
    """Equal shares among the ``running`` nodes; those ``left_out`` (the scheduler) get none."""

    def share(i: int) -> np.ndarray:
        a, b = spans[i]
        return np.zeros(b - a) if left_out[i] else _safe_ratio(np.ones(b - a), running[a:b])

    return share


def _scatter_sum(n: int, part: ShareOf, spans: list[tuple[int, int]]) -> np.ndarray:
    """Per bin, the sum of every node's ``part`` over its span (one node's part at a time)."""
    total = np.zeros(max(n, 0))
    for i, (a, b) in enumerate(spans):
        total[a:b] += part(i)
    return total


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros_like(num, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _give(
    energy: np.ndarray,
    share_of: ShareOf,
    series: list[NodeSeries],
    spans: list[tuple[int, int]],
    nodes: dict[str, NodeEnergy],
    attr: str,
) -> float:
    """Hand each node its share of ``energy``; return what nobody got."""
    given = 0.0
    for i, (s, (a, b)) in enumerate(zip(series, spans, strict=True)):
        part = float((energy[a:b] * share_of(i)).sum())
        setattr(nodes[s.name], attr, getattr(nodes[s.name], attr) + part)
        given += part
    return float(energy.sum()) - given


def _model_stand_in(
    host: HostRecord, domains: list[Domain]
) -> Callable[[Domain, np.ndarray, np.ndarray], np.ndarray] | None:
    """The model's energy per interval for a measured domain no process could read.

    CPU: the model's idle power plus its joules per busy CPU-second, shared
    among the host's CPU domains; memory: the model's memory power; GPU: none.
    """
    constants = host.model_constants()
    if constants is None:
        return None
    share = {
        c: max(sum(d.component == c for d in domains if d.method != "model"), 1) for c in COMPONENTS
    }

    def stand_in(domain: Domain, dt: np.ndarray, dbusy: np.ndarray) -> np.ndarray:
        n = share[domain.component]
        if domain.component == "cpu":
            return (constants.cpu_idle_w * dt + constants.j_per_busy_cpu_s * dbusy) / n
        if domain.component == "dram":
            return constants.dram_w * dt / n
        return np.zeros_like(dt)

    return stand_in


#: busy CPU-seconds below which a bin (or a run) has no J-per-CPU-second rate of its own
MIN_BUSY_S = 1e-9
#: bins over which the host's J per busy CPU-second is taken for each bin's CPU split
RATE_WINDOW_BINS = 5
