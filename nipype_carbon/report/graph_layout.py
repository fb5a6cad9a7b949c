"""What the graph draws: boxes for nodes, MapNodes and (in large graphs) sub-workflows.

MapNode children are always folded into their MapNode. With ``collapse="auto"``
and more boxes than ``MAX_NODES``, sub-workflows are folded into single boxes,
deepest level first; if that is not enough, the coldest boxes merge into one.
Many unconnected siblings are wrapped into a grid with invisible edges.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nipype_carbon.report.model import Report

COLLAPSE_MODES = ("auto", "mapnodes", "workflows", "none")
#: above this many boxes, collapse="auto" folds sub-workflows into boxes
MAX_NODES = 200
#: more parallel siblings than this are wrapped into a grid, not drawn in one long row
WRAP_MIN = 8


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
        """Failed, or killed mid-node: drawn with the failure's red border."""
        broken = self.statuses["failed"] + self.statuses["killed"]
        return broken > 0 or self.container_status in ("failed", "killed")

    @property
    def cached(self) -> bool:
        if self.members == 0:
            return self.container_status == "cached"
        return self.statuses["cached"] == self.members


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
    pairs = [*report.edges] + [
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
    named = {n for edge in report.edges for n in edge} - set(rows)
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
