"""Rows of the timeline's Gantt: nodes, merged into few rows when there are many.

With more nodes than ``max_rows``, MapNode children merge into their MapNode,
then nodes merge by interface (the hottest kept, the rest as "other"); bars of
one row closer than a tolerance are drawn as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from nipype_carbon.report.escape import visible
from nipype_carbon.report.model import interface_key
from nipype_carbon.report.units import duration, emissions, energy


@dataclass
class Bar:
    """One drawn interval: a node, or nodes of one row merged."""

    start: float
    end: float
    emissions_g: float
    energy_j: float
    count: int
    title: str
    failed: bool = False


@dataclass
class Row:
    """One Gantt row and its bars."""

    label: str
    bars: list[Bar]
    scheduler: bool = False


def _node_title(row: dict[Any, Any]) -> str:
    """A bar's tooltip, one fact a line; a line break in a name is shown, not followed."""
    node, interface, host, status, method = (
        visible(row[k]) for k in ("node", "interface", "host", "status", "method")
    )
    return (
        f"{node}\n{interface}\nhost {host}, {status}, {method}\n"
        f"{duration(row['duration_s'])}, {energy(row['energy_j'])}, {emissions(row['emissions_g'])}"
    )


def merge_bars(frame: pd.DataFrame, label: str, tolerance_s: float) -> list[Bar]:
    """Bars of one row; intervals less than ``tolerance_s`` apart become one bar."""
    bars: list[Bar] = []
    for row in frame.sort_values("start", kind="stable").to_dict("records"):
        start, end, grams, joules = (
            float(row[k]) for k in ("start", "end", "emissions_g", "energy_j")
        )
        failed = row["status"] in ("failed", "killed")
        last = bars[-1] if bars else None
        if last is not None and start <= last.end + tolerance_s:
            last.end = max(last.end, end)
            last.emissions_g += grams
            last.energy_j += joules
            last.count += 1
            last.failed |= failed
            continue
        bars.append(Bar(start, end, grams, joules, 1, _node_title(row), failed))
    for bar in bars:
        if bar.count > 1:
            bar.title = (
                f"{visible(label)}: {bar.count} nodes over {duration(bar.end - bar.start)}\n"
                f"{energy(bar.energy_j)}, {emissions(bar.emissions_g)}"
            )
    return bars


def _row_keys(work: pd.DataFrame, max_rows: int, split: str = "MapNode") -> tuple[pd.Series, str]:
    """Each node's row, and how rows were merged ('' when one row per node)."""
    if len(work) <= max_rows:
        return work["node"], ""
    parent = work["mapnode_parent"].fillna("").astype(str)
    keys = parent.where(parent != "", work["node"])
    if keys.nunique() <= max_rows:
        return keys, f"by {split}"
    short = [str(i).rsplit(".", 1)[-1] for i in work["interface"]]
    keys = pd.Series(
        [interface_key(i, str(f)) for i, f in zip(short, work["function"], strict=True)],
        index=work.index,
    )
    if keys.nunique() <= max_rows:
        return keys, "by interface"
    hottest = work["emissions_g"].groupby(keys).sum().nlargest(max_rows - 1).index
    return keys.where(keys.isin(hottest), "(other interfaces)"), "by interface, hottest kept"


def _strip_common_prefix(labels: list[str]) -> tuple[list[str], str]:
    """Labels without the dotted prefix they all share (the workflow's name), and that prefix."""
    parts = [label.split(".") for label in labels]
    prefix: list[str] = min(parts, key=len)[:-1] if parts else []
    for p in parts:
        while p[: len(prefix)] != prefix:
            prefix = prefix[:-1]
    n = len(prefix)
    return [".".join(p[n:]) for p in parts], ".".join(prefix)


def gantt_rows(
    nodes: pd.DataFrame, max_rows: int, tolerance_s: float, split: str = "MapNode"
) -> tuple[list[Row], str, str]:
    """The scheduler's row, then node rows by first start; how rows were merged; name prefix.

    ``split`` is what the engine calls a node over many inputs (Pydra: "split task").
    """
    rows = []
    sched = nodes[nodes["kind"] == "orchestration"]
    if len(sched):
        label = f"scheduler: {emissions(float(sched['emissions_g'].sum()))}"
        rows.append(Row(label, merge_bars(sched, "scheduler", tolerance_s), scheduler=True))
    work = nodes[~nodes["kind"].isin(["orchestration", "mapnode"])]
    if work.empty:
        return rows, "", ""
    keys, how = _row_keys(work, max_rows, split)
    order = work["start"].groupby(keys).min().sort_values(kind="stable").index
    labels, prefix = _strip_common_prefix([str(k) for k in order])
    groups = dict(list(work.groupby(keys, sort=False)))
    for key, label in zip(order, labels, strict=True):
        group = groups[key]
        shown = label if len(group) == 1 else f"{label} ×{len(group)}"
        rows.append(Row(shown, merge_bars(group, str(key), tolerance_s)))
    return rows, how, prefix
