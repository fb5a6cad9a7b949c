"""The workflow graph coloured by emissions: DOT text, rendered by graphviz's ``dot``.

Each box is a node, a MapNode with its children folded in, or (in large graphs)
a whole sub-workflow. Its fill follows viridis by CO2e (yellow is hottest) and
its label gives energy or CO2e with units. Sub-workflows are clusters; cached
nodes have a dashed border, failed ones a red border, nodes named by an edge
but never run a dotted one; the scheduler is drawn apart, on no edge.

Examples
--------
>>> from nipype_carbon.report import build_report
>>> from nipype_carbon.session import NodeRecord, Session
>>> session = Session()
>>> session.add_node(NodeRecord("wf.a", "ran", 0.0, 1.0, "h", workflow="wf"))
>>> graph_dot(build_report(session, region="GB")).splitlines()[0]
'digraph carbon {'
"""

from __future__ import annotations

import math
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nipype_carbon.report.model import Report

COLLAPSE_MODES = ("auto", "mapnodes", "workflows", "none")
LABELS = ("energy", "emissions")
FORMATS = ("svg", "png", "dot")
#: above this many boxes, collapse="auto" folds sub-workflows into boxes
MAX_NODES = 200
#: more parallel siblings than this are wrapped into a grid, not drawn in one long row
WRAP_MIN = 8
#: matplotlib's viridis at 0, 1/16, ..., 1 (perceptually uniform; dark = cold, yellow = hot)
_VIRIDIS_HEX = (
    "440154 48186a 472d7b 424086 3b528b 33638d 2c728e 26828e 21918c "
    "1fa088 28ae80 3fbc73 5ec962 84d44b addc30 d8e219 fde725"
)
VIRIDIS = tuple("#" + code for code in _VIRIDIS_HEX.split())
FAILED_COLOUR = "#d62728"
INSTALL_HINT = (
    "apt-get install graphviz (macOS: brew install graphviz; conda: conda install graphviz)"
)


class GraphvizError(RuntimeError):
    """graphviz's ``dot`` is missing or failed; the message says what to do."""


@dataclass
class Unit:
    """One drawn box: a node, a MapNode with its children, or a whole sub-workflow."""

    key: str
    label: str
    kind: str  # node, child, mapnode, workflow, missing, orchestration
    cluster: tuple[str, ...]
    energy_j: float = 0.0
    emissions_g: float = 0.0
    members: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    methods: set[str] = field(default_factory=set)
    container_status: str = ""  # a MapNode's own status (its children carry the work)
    parts_j: dict[str, float] = field(default_factory=dict)  # energy by node in a workflow box

    @property
    def failed(self) -> bool:
        return self.statuses["failed"] > 0 or self.container_status == "failed"

    @property
    def cached(self) -> bool:
        if self.members == 0:
            return self.container_status == "cached"
        return self.statuses["cached"] == self.members


# -- colours and numbers ------------------------------------------------------
def viridis(position: float) -> str:
    """The viridis colour at ``position`` in [0, 1], linearly interpolated, as ``#rrggbb``."""
    x = min(max(position, 0.0), 1.0) * (len(VIRIDIS) - 1)
    i = min(int(x), len(VIRIDIS) - 2)
    lo, hi = (_rgb(VIRIDIS[i]), _rgb(VIRIDIS[i + 1]))
    return "#" + "".join(f"{round(a + (b - a) * (x - i)):02x}" for a, b in zip(lo, hi, strict=True))


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def text_colour(fill: str) -> str:
    """Black on light fills, white on dark ones."""
    r, g, b = _rgb(fill)
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 110 else "#ffffff"


def format_energy(energy_j: float) -> str:
    """Energy with a readable unit: mJ, J, kJ, Wh (from 10 Wh) or kWh."""
    for unit, threshold_j, size_j in (
        ("kWh", 3.6e6, 3.6e6),
        ("Wh", 3.6e4, 3.6e3),
        ("kJ", 1e3, 1e3),
        ("J", 1.0, 1.0),
    ):
        if energy_j >= threshold_j:
            return f"{energy_j / size_j:.3g} {unit}"
    return f"{energy_j * 1e3:.3g} mJ" if energy_j > 0 else "0 J"


def format_emissions(emissions_g: float) -> str:
    """CO2e with a readable unit: ng, µg, mg, g or kg."""
    for unit, size_g in (("kg", 1e3), ("g", 1.0), ("mg", 1e-3), ("µg", 1e-6)):
        if emissions_g >= size_g:
            return f"{emissions_g / size_g:.3g} {unit}"
    return f"{emissions_g * 1e9:.3g} ng" if emissions_g > 0 else "0 g"


def scale_position(value: float, low: float, high: float, log: bool) -> float:
    """Where ``value`` sits on the colour scale from ``low`` to ``high`` (0 to 1)."""
    if high <= 0 or high <= low:
        return 1.0 if high > 0 else 0.0
    if log:
        return (math.log(max(value, low)) - math.log(low)) / (math.log(high) - math.log(low))
    return (value - low) / (high - low)


# -- escaping -----------------------------------------------------------------
def html_text(text: str) -> str:
    """Text for an HTML-like DOT label: ASCII only, markup as entities, controls visible.

    A backslash is doubled, as graphviz reads ``\\N``, ``\\G`` ... as escapes in labels.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if code < 32 or code == 127:
            code = 0x2400 + (code if code < 32 else 0x21)  # the Unicode control pictures
        elif 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            code = 0xFFFD  # not representable in XML
        entity = "&#92;&#92;" if ch == "\\" else f"&#{code};"
        out.append(ch if 32 <= code < 127 and ch not in "&<>\"'\\" else entity)
    return "".join(out)


def dot_string(text: str) -> str:
    """A double-quoted DOT string for a tooltip, a backslash shown as ⧵.

    Graphviz unescapes tooltips twice over, differently across versions; no
    escape of a backslash is safe, so none is left in.
    """
    return '"' + html_text(text.replace("\\", "\u29f5")) + '"'


# -- what is drawn ------------------------------------------------------------
def graph_units(
    report: Report, collapse: str = "auto", max_nodes: int = MAX_NODES
) -> tuple[dict[str, Unit], dict[tuple[str, str], int]]:
    """The boxes to draw and the edges between them (with multiplicity), after collapsing."""
    if collapse not in COLLAPSE_MODES:
        raise ValueError(f"collapse must be one of {COLLAPSE_MODES}, got {collapse!r}")
    entries = _entries(report)
    depth = _choose_depth(entries, collapse, max_nodes)
    placed = {e["name"]: _place(e, depth, collapse != "none") for e in entries}
    units: dict[str, Unit] = {}
    for entry in entries:
        _add_member(units, placed[entry["name"]], entry)
    edges: Counter[tuple[str, str]] = Counter()
    pairs = [*report.session.edges] + [
        (e["parent"], e["name"]) for e in entries if e["kind"] == "child" and collapse == "none"
    ]
    for a, b in pairs:
        ka, kb = placed[a][0], placed[b][0]
        apart = "orchestration" in (units[ka].kind, units[kb].kind)
        if ka != kb and not apart:
            edges[(ka, kb)] += 1
    if collapse == "auto" and len(units) > max_nodes:
        _fold_coldest(units, edges, max_nodes)
    return units, dict(edges)


def _entries(report: Report) -> list[dict[str, Any]]:
    records = sorted(report.nodes.to_dict("records"), key=lambda r: str(r["node"]))
    rows = {str(r["node"]): r for r in records}
    entries: list[dict[str, Any]] = []
    for name, row in rows.items():
        parent = str(row["mapnode_parent"] or "")
        kind = "child" if parent else str(row["kind"])
        workflow = rows[parent]["workflow"] if parent in rows else ""
        path = str(workflow or row["workflow"] or _parent_path(parent or name))
        picked = {k: row[k] for k in ("status", "energy_j", "emissions_g", "method")}
        entries.append({**picked, "name": name, "kind": kind, "parent": parent, "path": path})
    named = {n for edge in report.session.edges for n in edge} - set(rows)
    entries += [
        {"name": n, "kind": "missing", "parent": "", "path": _parent_path(n), "status": "not run"}
        for n in sorted(named)
    ]
    in_flow = [e["path"].split(".") for e in entries if e["kind"] != "orchestration"]
    root = len(_common_prefix(in_flow))
    for e in entries:
        e["wf"] = () if e["kind"] == "orchestration" else tuple(e["path"].split(".")[root:])
        e["wf"] = tuple(p for p in e["wf"] if p)
        e["short"] = _strip(e["name"], e["parent"] or e["path"])
        e["box_short"] = _strip(e["parent"], e["path"]) if e["parent"] else e["short"]
    return entries


def _parent_path(name: str) -> str:
    return name.rpartition(".")[0]


def _common_prefix(paths: list[list[str]]) -> list[str]:
    if not paths:
        return []
    prefix = min(paths, key=len)
    for path in paths:
        while path[: len(prefix)] != prefix:
            prefix = prefix[:-1]
    return prefix


def _place(entry: dict[str, Any], depth: int | None, fold_children: bool) -> tuple[str, ...]:
    """(key, label, kind, *cluster) of the box an entry is drawn in."""
    wf, kind = entry["wf"], entry["kind"]
    if kind == "orchestration":
        return (entry["name"], entry["short"], kind)
    if depth is not None and len(wf) >= depth:
        return ("workflow:" + ".".join(wf[:depth]), wf[depth - 1], "workflow", *wf[: depth - 1])
    if kind == "child" and fold_children:
        return (entry["parent"], entry["box_short"], "mapnode", *wf)
    return (entry["name"], entry["short"], kind, *wf)


def _strip(name: str, path: str) -> str:
    return name[len(path) + 1 :] if path and name.startswith(path + ".") else name


def _choose_depth(entries: list[dict[str, Any]], collapse: str, max_nodes: int) -> int | None:
    """How deep sub-workflows stay open (None: all open; 1: top-level ones are boxes)."""
    if collapse == "workflows":
        return 1
    if collapse != "auto":
        return None
    deepest = max((len(e["wf"]) for e in entries), default=0)
    for depth in (None, *range(deepest, 0, -1)):
        if len({_place(e, depth, True)[0] for e in entries}) <= max_nodes:
            return depth
    return 1


def _add_member(units: dict[str, Unit], place: tuple[str, ...], entry: dict[str, Any]) -> None:
    key, label, kind, *cluster = place
    unit = units.setdefault(key, Unit(key, label, kind, tuple(cluster)))
    if entry["kind"] == "mapnode":  # a container: its children carry the work and the count
        if unit.kind != "workflow":
            unit.kind, unit.container_status = "mapnode", str(entry["status"])
        return
    unit.members += 1
    unit.energy_j += float(entry.get("energy_j", 0.0))
    unit.emissions_g += float(entry.get("emissions_g", 0.0))
    unit.statuses[str(entry["status"])] += 1
    unit.methods |= {str(entry.get("method", "none"))} - {"none"}
    if unit.kind == "workflow":
        inner = (*entry["wf"][len(unit.cluster) + 1 :], entry["box_short"])
        part = ".".join(inner)
        unit.parts_j[part] = unit.parts_j.get(part, 0.0) + float(entry.get("energy_j", 0.0))


def _fold_coldest(units: dict[str, Unit], edges: Counter[tuple[str, str]], max_nodes: int) -> None:
    drawn = sorted(units.values(), key=lambda u: u.emissions_g, reverse=True)
    rest = Unit("rest", "", "rest", ())
    for unit in drawn[max_nodes - 1 :]:
        if unit.kind != "orchestration":
            del units[unit.key]
            rest.members += unit.members
            rest.energy_j += unit.energy_j
            rest.emissions_g += unit.emissions_g
    rest.label = f"{rest.members} more nodes, the coldest"
    units[rest.key] = rest
    for pair in [p for p in edges if p[0] not in units or p[1] not in units]:
        del edges[pair]


# -- DOT ----------------------------------------------------------------------
def graph_dot(
    report: Report, collapse: str = "auto", label: str = "energy", max_nodes: int = MAX_NODES
) -> str:
    """The workflow graph of ``report`` as DOT text, coloured by emissions.

    Parameters
    ----------
    report : Report
        From :func:`nipype_carbon.report.build_report`.
    collapse : {"auto", "mapnodes", "workflows", "none"}
        Fold MapNode children into their MapNode ("mapnodes"); also fold every
        top-level sub-workflow into one box ("workflows"); draw every node
        ("none"); or fold MapNodes, then sub-workflows from the deepest up until
        at most ``max_nodes`` boxes remain, then the coldest boxes into one ("auto").
    label : {"energy", "emissions"}
        What each box shows beside its name.
    max_nodes : int
        The most boxes ``collapse="auto"`` draws.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    units, edges = graph_units(report, collapse, max_nodes)
    ids = {key: f"n{i}" for i, key in enumerate(units)}
    flow = [u for u in units.values() if _on_scale(u)]
    scale = _scale([u.emissions_g for u in flow])
    show_method = len(set().union(*(u.methods for u in flow))) > 1
    lines = ["digraph carbon {", *_defaults(report)]
    nodes: dict[tuple[str, ...], list[str]] = {}
    for unit in units.values():
        line = _node_line(ids[unit.key], unit, scale, label, show_method)
        nodes.setdefault(unit.cluster if unit.kind != "orchestration" else ("",), []).append(line)
    scheduler = nodes.pop(("",), [])
    lines += _nest((), nodes, units, label, [0])
    lines += _edge_lines(edges, ids)
    lines += [f"  {ids[a]} -> {ids[b]} [style=invis];" for a, b in wrap_edges(units, list(edges))]
    if scheduler:
        lines += _cluster("scheduler", "<B>scheduler</B> (on no edge, not on the scale)", scheduler)
    lines += _legend(scale, any(u.kind == "missing" for u in units.values()))
    return "\n".join([*lines, "}", ""])


def _edge_lines(edges: dict[tuple[str, str], int], ids: dict[str, str]) -> list[str]:
    """Edges, thicker when they stand for several; those of hubs do not pull boxes together."""
    fan_in = Counter(b for _, b in edges)
    fan_out = Counter(a for a, _ in edges)
    lines = []
    for (a, b), count in edges.items():
        attrs = [f"penwidth={min(1.0 + math.log2(count), 4.0):.2g}"] if count > 1 else []
        if fan_in[b] > WRAP_MIN or fan_out[a] > WRAP_MIN:
            attrs.append("weight=0")  # else a hub drags every wrapped row towards it
        lines.append(f"  {ids[a]} -> {ids[b]}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    return lines


def wrap_edges(units: dict[str, Unit], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Invisible edges that wrap long rows of parallel siblings into a grid.

    At each cluster, the items are its boxes and its sub-clusters. Items at the
    same depth of the graph between them (so no path joins them) are laid out
    ``sqrt(2 n)`` to a row: the last box of item ``i`` points to the first box
    of item ``i + width``.
    """
    boxes = [u for u in units.values() if u.kind != "orchestration"]
    paths = sorted({u.cluster[:i] for u in boxes for i in range(len(u.cluster) + 1)})
    wrapped: list[tuple[str, str]] = []
    for path in paths:
        depth = len(path)
        item_of: dict[str, object] = {
            u.key: u.cluster[: depth + 1] if len(u.cluster) > depth else u.key
            for u in boxes
            if u.cluster[:depth] == path
        }
        wrapped += _wrap_level(item_of, edges)
    return wrapped


def _wrap_level(item_of: dict[str, object], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    members: dict[object, list[str]] = {}
    for key, item in item_of.items():
        members.setdefault(item, []).append(key)
    if len(members) <= WRAP_MIN:
        return []
    here = [(a, b) for a, b in edges if a in item_of and b in item_of]
    links = {(item_of[a], item_of[b]) for a, b in here if item_of[a] != item_of[b]}
    has_in = {b for a, b in here if item_of[a] == item_of[b]}
    has_out = {a for a, b in here if item_of[a] == item_of[b]}
    top = {i: next((k for k in ks if k not in has_in), ks[0]) for i, ks in members.items()}
    bottom = {
        i: next((k for k in reversed(ks) if k not in has_out), ks[-1]) for i, ks in members.items()
    }
    depths = _depths(list(members), links)
    wrapped = []
    for level in sorted(set(depths.values())):
        row = [i for i in members if depths[i] == level]
        width = max(WRAP_MIN, math.ceil(math.sqrt(2 * len(row))))
        wrapped += [(bottom[row[i]], top[row[i + width]]) for i in range(len(row) - width)]
    return wrapped


def _depths(items: list[object], links: set[tuple[object, object]]) -> dict[object, int]:
    """Longest-path depth of each item from the sources (members of a cycle stay where reached)."""
    successors: dict[object, list[object]] = {i: [] for i in items}
    waiting = dict.fromkeys(items, 0)
    for a, b in links:
        successors[a].append(b)
        waiting[b] += 1
    depth = dict.fromkeys(items, 0)
    ready = [i for i in items if waiting[i] == 0]
    while ready:
        item = ready.pop()
        for after in successors[item]:
            depth[after] = max(depth[after], depth[item] + 1)
            waiting[after] -= 1
            if waiting[after] == 0:
                ready.append(after)
    return depth


def _on_scale(unit: Unit) -> bool:
    """Whether a box is coloured by the scale (not the scheduler, a placeholder, a container)."""
    return unit.kind not in ("orchestration", "missing", "rest") and unit.members > 0


def _scale(values: list[float]) -> tuple[float, float, bool]:
    """(low, high, log): log when the positive values span two decades or more."""
    positive = [v for v in values if v > 0]
    if not positive:
        return 0.0, 0.0, False
    high, low = max(positive), min(positive)
    log = high / low >= 100
    return (low if log else min(values)), high, log


def _defaults(report: Report) -> list[str]:
    totals, grid = report.totals, report.grid
    summary = (
        f"{format_energy(totals['attributed_energy_j'])} attributed to nodes, "
        f"{format_energy(totals['energy_j'])} measured, "
        f"{format_emissions(totals['emissions_g'])} CO2e"
    )
    where = f"{grid.region} {grid.intensity_g_per_kwh:g} gCO2e/kWh, PUE {report.pue:g}" + (
        " (region unknown: world average)" if grid.is_default else ""
    )
    workflow = str(report.session.metadata.get("workflow", "workflow"))
    title = f"<B>{html_text(workflow)}</B>: {html_text(summary)}<BR/>{html_text(where)}"
    return [
        f'  graph [fontname="Helvetica", fontsize=12, labelloc=t, newrank=true, nodesep=0.2, '
        f"ranksep=0.35, label=<{title}>];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'color="#404040", fillcolor="#ffffff", penwidth=1.2];',
        '  edge [color="#606060", arrowsize=0.6];',
    ]


def _node_line(
    uid: str, unit: Unit, scale: tuple[float, float, bool], label: str, show_method: bool
) -> str:
    value = (
        format_energy(unit.energy_j)
        if label == "energy"
        else f"{format_emissions(unit.emissions_g)} CO2e"
    )
    fill = viridis(scale_position(unit.emissions_g, *scale)) if _on_scale(unit) else "#e8e8e8"
    style = "rounded,dotted" if unit.kind == "missing" else "rounded,filled"
    attrs = [
        f"label=<{_label_html(unit, value, show_method)}>",
        f'fillcolor="{fill}"',
        f'fontcolor="{text_colour(fill)}"',
        "tooltip=" + dot_string(f"{unit.key}: {value} ({', '.join(sorted(unit.statuses))})"),
    ]
    if unit.cached:
        style += ",dashed"
    if unit.failed:
        attrs += [f'color="{FAILED_COLOUR}"', "penwidth=3"]
    return f'  {uid} [style="{style}", {", ".join(attrs)}];'


def _label_html(unit: Unit, value: str, show_method: bool) -> str:
    name = f"<B>{html_text(unit.label)}</B>"
    detail = {
        "mapnode": f"MapNode, {unit.members} children: {value}"
        if unit.members
        else "MapNode, children drawn apart",
        "workflow": f"workflow, {unit.members} nodes: {value}",
        "missing": "not run",
        "rest": f"folded to stay legible: {value}",
    }.get(unit.kind, value)
    lines = [name, html_text(detail)]
    if unit.parts_j and unit.energy_j > 0:
        part, energy_j = max(unit.parts_j.items(), key=lambda item: item[1])
        lines.append(html_text(f"hottest: {part}, {energy_j / unit.energy_j:.0%}"))
    notes = [f"{n} {s}" for s, n in sorted(unit.statuses.items()) if s != "ran"]
    if unit.members > 1 and notes:
        lines.append(", ".join(notes))
    if show_method and unit.methods:
        lines.append(f"<I>{html_text('+'.join(sorted(unit.methods)))}</I>")
    return "<BR/>".join(lines)


def _nest(
    path: tuple[str, ...],
    nodes: dict[tuple[str, ...], list[str]],
    units: dict[str, Unit],
    label: str,
    counter: list[int],
) -> list[str]:
    """The node lines of ``path``, then its sub-workflows as nested clusters."""
    lines = list(nodes.get(path, []))
    children = sorted(
        {p[: len(path) + 1] for p in nodes if len(p) > len(path) and p[: len(path)] == path}
    )
    for child in children:
        inside = [u for u in units.values() if u.cluster[: len(child)] == child]
        total = sum(u.energy_j if label == "energy" else u.emissions_g for u in inside)
        value = format_energy(total) if label == "energy" else format_emissions(total) + " CO2e"
        counter[0] += 1
        title = f"<B>{html_text(child[-1])}</B> ({html_text(value)})"
        lines += _cluster(str(counter[0]), title, _nest(child, nodes, units, label, counter))
    return lines


def _cluster(name: str, title: str, lines: list[str]) -> list[str]:
    head = f'  subgraph "cluster_{name}" {{ label=<{title}>; style="rounded"; color="#909090";'
    return [head, *["  " + line for line in lines], "  }"]


def _legend(scale: tuple[float, float, bool], missing: bool) -> list[str]:
    low, high, log = scale
    swatches = "".join(f'<TD BGCOLOR="{c}" WIDTH="12" HEIGHT="12"></TD>' for c in VIRIDIS)
    span = len(VIRIDIS)
    table = (
        f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        f'<TR><TD COLSPAN="{span}">CO2e per box ({"log" if log else "linear"} scale)</TD></TR>'
        f"<TR>{swatches}</TR><TR>"
        f'<TD COLSPAN="{span // 2}" ALIGN="LEFT">{html_text(format_emissions(low))}</TD>'
        f'<TD COLSPAN="{span - span // 2}" ALIGN="RIGHT">{html_text(format_emissions(high))}</TD>'
        "</TR></TABLE>"
    )
    entries = [
        f"legend_scale [shape=plaintext, style=solid, label=<{table}>];",
        'legend_cached [style="rounded,dashed", label="cached"];',
        f'legend_failed [style="rounded", color="{FAILED_COLOUR}", penwidth=3, label="failed"];',
    ]
    if missing:
        entries.append('legend_missing [style="rounded,dotted", label="not run"];')
    return _cluster("legend", "<B>legend</B>", ["  " + e for e in entries])


# -- rendering ----------------------------------------------------------------
def render_graph(
    report: Report,
    fmt: str = "svg",
    collapse: str = "auto",
    label: str = "energy",
    max_nodes: int = MAX_NODES,
    dot_binary: str = "dot",
    timeout_s: float = 300.0,
) -> bytes:
    """The graph rendered by graphviz's ``dot`` as SVG or PNG bytes (or the DOT text itself).

    Raises
    ------
    GraphvizError
        ``dot`` is not installed (the message names the fix) or failed.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    text = graph_dot(report, collapse, label, max_nodes).encode("ascii")
    if fmt == "dot":
        return text
    binary = shutil.which(dot_binary)
    if binary is None:
        raise GraphvizError(f"graphviz's `{dot_binary}` is not on PATH: {INSTALL_HINT}")
    try:
        done = subprocess.run(
            [binary, f"-T{fmt}"], input=text, capture_output=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot took over {timeout_s:g} s: try --collapse auto") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no message"]
        raise GraphvizError(f"dot -T{fmt} failed (exit {done.returncode}): {why[0]}")
    return done.stdout
