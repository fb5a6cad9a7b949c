"""The workflow graph coloured by emissions: DOT text, rendered by graphviz's ``dot``.

Each box is a node, a MapNode with its children folded in, or (in large graphs)
a whole sub-workflow. Its fill follows viridis by CO2e (yellow is hottest) and
its label gives energy or CO2e with units. Sub-workflows are clusters; cached
nodes have a dashed border, failed ones a red border, nodes named by an edge
but never run a dotted one; the scheduler is drawn apart, on no edge.

Examples
--------
>>> from nipype_carbon.report import build_report
>>> from nipype_carbon.record.records import NodeRecord
>>> from nipype_carbon.record.session import Session
>>> session = Session()
>>> session.add_node(NodeRecord("wf.a", "ran", 0.0, 1.0, "h", workflow="wf"))
>>> graph_dot(build_report(session, region="GB")).splitlines()[0]
'digraph carbon {'
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.report.colours import (
    FAILED_COLOUR,
    VIRIDIS,
    colour_scale,
    scale_label,
    scale_position,
    text_colour,
    viridis,
)
from nipype_carbon.report.escape import visible
from nipype_carbon.report.graph_layout import (
    MAX_NODES,
    WRAP_MIN,
    Unit,
    graph_units,
    wrap_edges,
)
from nipype_carbon.report.model import Report
from nipype_carbon.report.units import energy as format_energy
from nipype_carbon.report.units import grams as format_emissions
from nipype_carbon.report.vocabulary import ENGINE, NODES_FULL_COST, RUN_ENERGY, node_count

LABELS = ("energy", "emissions")
#: a node over many inputs and its parts, as Nipype names them (Pydra: Report.split_names)
NIPYPE_SPLIT = ("MapNode", "children")
FORMATS = ("svg", "png", "dot")
INSTALL_HINT = (
    "apt-get install graphviz (macOS: brew install graphviz; conda: conda install graphviz)"
)


class GraphvizError(NipypeCarbonError, RuntimeError):
    """graphviz's ``dot`` is missing or failed; the message says what to do."""


# -- escaping -----------------------------------------------------------------
def html_text(text: str) -> str:
    """Text for an HTML-like DOT label: ASCII only, markup as entities, controls visible.

    Controls, bidi controls and lone surrogates are first made visible
    (:func:`~nipype_carbon.report.escape.visible`). A backslash is doubled, as
    graphviz reads ``\\N``, ``\\G`` ... as escapes in labels.
    """
    out = []
    for ch in visible(text):
        code = ord(ch)
        entity = "&#92;&#92;" if ch == "\\" else f"&#{code};"
        out.append(ch if 32 <= code < 127 and ch not in "&<>\"'\\" else entity)
    return "".join(out)


def dot_string(text: str) -> str:
    """A double-quoted DOT string for a tooltip, a backslash shown as ⧵.

    Graphviz unescapes tooltips twice over, differently across versions; no
    escape of a backslash is safe, so none is left in. A character beyond the
    Basic Multilingual Plane (an emoji) stays a character: graphviz 2.x writes
    its numeric entity in a quoted string as invalid UTF-8.
    """
    escaped = html_text(text.replace("\\", "\u29f5"))
    return '"' + _ENTITY.sub(_astral_as_character, escaped) + '"'


_ENTITY = re.compile(r"&#([0-9]{5,7});")


def _astral_as_character(match: re.Match[str]) -> str:
    code = int(match.group(1))
    return chr(code) if 0x10000 <= code <= 0x10FFFF else match.group(0)


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
    flow = [u for u in units.values() if _oncolour_scale(u)]
    scale = colour_scale([u.emissions_g for u in flow])
    show_method = len(set().union(*(u.methods for u in flow))) > 1
    lines = ["digraph carbon {", *_defaults(report)]
    nodes: dict[tuple[str, ...], list[str]] = {}
    for unit in units.values():
        line = _node_line(ids[unit.key], unit, scale, label, show_method, report.split_names)
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


def _oncolour_scale(unit: Unit) -> bool:
    """Whether a box is coloured by the scale (not the scheduler, a placeholder, a container)."""
    return unit.kind not in ("orchestration", "missing", "rest") and unit.members > 0


def _defaults(report: Report) -> list[str]:
    totals, grid = report.totals, report.grid
    # one short line each (a long title widens the whole drawing)
    summary = "<BR/>".join(
        html_text(line)
        for line in (
            f"{RUN_ENERGY} {format_energy(totals.energy_j)} ({report.how_obtained()}), "
            f"{format_emissions(totals.emissions_g)} CO2e",
            f"{NODES_FULL_COST} {format_energy(totals.nodes_full_cost_j)} in the boxes, "
            f"{node_count(totals.nodes, totals.mapnodes, report.split_names)}; "
            f"{ENGINE} {format_energy(totals.engine_overhead_j)}",
        )
    )
    where = html_text(
        f"{grid.region} {grid.intensity_g_per_kwh:g} gCO2e/kWh, PUE {report.pue:g}"
        + (" (region unknown: world average)" if grid.is_default else "")
    )
    workflow = str(report.metadata.get("workflow", "workflow"))
    status = totals.run_status
    if status != "complete":
        where += f"<BR/><B>run {html_text(totals.run_status_text)}</B>: partial figures"
    title = f"<B>{html_text(workflow)}</B>: {summary}<BR/>{where}"
    return [
        f'  graph [fontname="Helvetica", fontsize=12, labelloc=t, labeljust=l, newrank=true, '
        f"nodesep=0.2, ranksep=0.35, label=<{title}>];",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, '
        'color="#404040", fillcolor="#ffffff", penwidth=1.2];',
        '  edge [color="#606060", arrowsize=0.6];',
    ]


def _node_line(
    uid: str,
    unit: Unit,
    scale: tuple[float, float, bool],
    label: str,
    show_method: bool,
    split_names: tuple[str, str] = NIPYPE_SPLIT,
) -> str:
    value = (
        format_energy(unit.energy_j)
        if label == "energy"
        else f"{format_emissions(unit.emissions_g)} CO2e"
    )
    fill = viridis(scale_position(unit.emissions_g, *scale)) if _oncolour_scale(unit) else "#e8e8e8"
    style = "rounded,dotted" if unit.kind == "missing" else "rounded,filled"
    attrs = [
        f"label=<{_label_html(unit, value, show_method, split_names)}>",
        f'fillcolor="{fill}"',
        f'fontcolor="{text_colour(fill)}"',
        "tooltip=" + dot_string(f"{unit.key}: {value} ({', '.join(sorted(unit.statuses))})"),
    ]
    if unit.cached:
        style += ",dashed"
    if unit.failed:
        attrs += [f'color="{FAILED_COLOUR}"', "penwidth=3"]
    return f'  {uid} [style="{style}", {", ".join(attrs)}];'


def _label_html(
    unit: Unit, value: str, show_method: bool, split_names: tuple[str, str] = NIPYPE_SPLIT
) -> str:
    """A box's label; a MapNode (Pydra: a split task) says how many children (states)."""
    name = f"<B>{html_text(unit.label)}</B>"
    split, parts = split_names
    detail = {
        "mapnode": f"{split}, {unit.members} {parts}: {value}"
        if unit.members
        else f"{split}, {parts} drawn apart",
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
        lines.append(html_text(", ".join(notes)))
    if show_method and unit.methods:
        lines.append(f"<I>{html_text('+'.join(sorted(unit.methods)))}</I>")
    # a thin line between the name and the figures: the bold name's underscores and
    # descenders otherwise touch the line below (Graphviz spaces lines by one font size)
    return lines[0] + '<BR/><FONT POINT-SIZE="3"> </FONT><BR/>' + "<BR/>".join(lines[1:])


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
        f'<TR><TD COLSPAN="{span}">CO2e per box ({scale_label(log)})</TD></TR>'
        f"<TR>{swatches}</TR><TR>"
        f'<TD COLSPAN="{span // 2}" ALIGN="LEFT">{"&#8804; " if log else ""}'
        f"{html_text(format_emissions(low))}</TD>"
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
    text = graph_dot(report, collapse, label, max_nodes).encode("utf-8")
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
