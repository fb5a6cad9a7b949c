"""One self-contained HTML report: totals, hottest nodes, interfaces, timeline, graph, methods.

No remote asset of any kind: inline CSS, inline SVG, one small inline script.
The report's data (totals, every node, every interface, hosts, edges) is
embedded as JSON in ``<script type="application/json" id="nipype-carbon-data">``
with every ``<``, ``>`` and ``&`` written as a ``\\u`` escape, so no name can
close the script; tables show the top rows only and the page offers the full
node table as CSV from the embedded data (its cells made safe as
:func:`~nipype_carbon.report.escape.csv_cell` makes them). Every name is shown
by :func:`~nipype_carbon.report.escape.markup`: node and workflow names are the
user's, so control and bidi characters are made visible and markup escaped.

Examples
--------
>>> from nipype_carbon.report import build_report
>>> from nipype_carbon.record.records import NodeRecord
>>> from nipype_carbon.record.session import Session
>>> session = Session()
>>> session.add_node(NodeRecord("wf.<b>", "ran", 0.0, 1.0, "h"))
>>> page = render_html(build_report(session))
>>> "wf.&lt;b&gt;" in page and "wf.<b>" not in page
True
"""

from __future__ import annotations

import json
import math
import re
import shutil
import time
from collections.abc import Iterable
from typing import Any

import pandas as pd

from nipype_carbon.report.equivalents import CAR_EU_G_PER_KM
from nipype_carbon.report.escape import markup, valid_unicode
from nipype_carbon.report.hotspots import advise, top_nodes
from nipype_carbon.report.html_assets import CSS, SCRIPT
from nipype_carbon.report.model import Report
from nipype_carbon.report.power_timeline import timeline_svg
from nipype_carbon.report.sentences import fault_lines, reuse_line, run_energy_parts
from nipype_carbon.report.units import duration, energy, grams, percent
from nipype_carbon.report.vocabulary import FULL_COST, NODES_FULL_COST, OTHER_PROCESSES, node_count

DATA_ID = "nipype-carbon-data"


def embedded_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` left."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _frame(frame: pd.DataFrame) -> dict[str, Any]:
    """A table as {columns, data}: compact, NaN as null, lone surrogates as U+FFFD."""
    split = frame.map(valid_unicode).to_json(orient="split", index=False, double_precision=12)
    return dict(json.loads(split))


def _plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy values made Python, NaN made null, lone
    surrogates U+FFFD)."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        value = value.tolist()
    if isinstance(value, dict):
        return {valid_unicode(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return valid_unicode(value)
    return value if value is None or isinstance(value, bool | int | float) else _plain(str(value))


def report_data(report: Report) -> dict[str, Any]:
    """Everything the page shows, and every row it does not, for the embedded JSON."""
    hosts = {
        name: {
            "measured_j": h.measured_j,
            "unattributed_j": h.unattributed_j,
            "baseline_power_w": h.baseline_power_w,
            "baseline_method": h.baseline_method,
            "duration_s": h.duration_s,
            "warnings": h.warnings,
        }
        for name, h in report.hosts.items()
        if h.attributed
    }
    return {
        "format": "nipype-carbon-report",
        "version": 1,
        "totals": _plain(report.totals.to_dict()),
        "metadata": _plain(report.metadata),
        "tool": _plain(report.tool),
        "hosts": _plain(hosts),
        "nodes": _frame(report.nodes),
        "interfaces": _frame(report.interfaces()),
        "edges": _plain(report.edges),
    }


def _card(key: str, value: str, detail: str = "") -> str:
    small = f'<div class="small">{detail}</div>' if detail else ""
    size = " long" if len(re.sub("<[^>]+>", "", value)) > 10 else ""
    value = f'<div class="v{size}">{value}</div>'
    return f'<div class="card"><div class="k">{key}</div>{value}{small}</div>'


def _methods(methods: list[str]) -> str:
    """Methods such as ``cpu:rapl;dram:model``, one component a line, each said once."""
    parts = dict.fromkeys(p.replace(":", ": ") for m in methods for p in m.split(";"))
    return "<br>".join(markup(p) for p in parts) or "none"


def _name(text: Any) -> str:
    """An escaped name that may wrap after its dots."""
    return markup(str(text)).replace(".", ".<wbr>")


def _camel(text: str) -> str:
    """An escaped class name that may wrap between its words (``Framewise<wbr>Displacement``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "<wbr>", markup(text))


def _distance(km: float) -> str:
    return (
        f"{km:.3g} km" if km >= 1 else f"{km * 1e3:.3g} m" if km >= 1e-3 else f"{km * 1e6:.3g} mm"
    )


def _equivalent(emissions_g: float) -> str:
    km = emissions_g / CAR_EU_G_PER_KM
    return f"as much as {_distance(km)} by an average EU car ({CAR_EU_G_PER_KM:g} gCO2/km)"


def _methods_note(methods: list[str]) -> str:
    if not any("model" in m for m in methods):
        return ""
    return (
        '<p class="alert" id="nc-modelled"><b>Modelled, not measured:</b> some energy components '
        "were estimated from CPU utilisation and rated power (method <code>model</code>) where "
        "no hardware counter could be read; <code>nipype-carbon doctor</code> says why.</p>"
    )


def _status_note(report: Report) -> str:
    """The run's status: a line when complete, an alert when it is not."""
    t = report.totals
    notes = "".join(f"; {markup(n)}" for n in t.run_notes)
    if t.run_status == "complete":
        return f'<p class="sub" id="nc-run-status">Run complete{notes}.</p>'
    return (
        f'<p class="alert" id="nc-run-status"><b>Run {markup(t.run_status_text)}.</b> '
        f"The figures cover only what was recorded, not the whole run{notes}.</p>"
    )


def _region_note(is_default: bool) -> str:
    if not is_default:
        return ""
    return (
        '<p class="alert" id="nc-region-warning"><b>No region set: world average.</b> Emissions '
        "use the world-average grid intensity; set the region where the run happened "
        "(<code>region=</code> or <code>--region</code>) for a meaningful CO2e.</p>"
    )


def _cards(report: Report) -> list[str]:
    t, grid = report.totals, report.grid
    where = "world average" if t.region_is_default else grid.region
    parts = "; ".join(
        f"{markup(name)} {energy(value)}"
        + (" = " + " + ".join(f"{markup(n)} {energy(v)}" for n, v in inner) if inner else "")
        for name, value, inner in run_energy_parts(report)
    )
    other = (
        f"; besides, {OTHER_PROCESSES} {energy(t.other_processes_j)} (not the run's)"
        if t.other_processes_j > 0
        else ""
    )
    kwh = "" if energy(t.energy_j).endswith("kWh") else f"{t.energy_j / 3.6e6:.3g} kWh "
    statuses = ", ".join(f"{v:,} {markup(str(k))}" for k, v in t.nodes_by_status.items())
    hosts = t.hosts
    return [
        _card("Run energy", energy(t.energy_j), f"{kwh}{markup(report.how_obtained())}; "
              f"{parts}{other}"),
        _card("CO2e", grams(t.emissions_g), _equivalent(t.emissions_g)),
        _card("Grid", markup(where), f"{markup(grid.name)}, {t.intensity_g_per_kwh:g} "
              f"gCO2e/kWh ({markup(t.intensity_source)})"),
        _card("PUE", f"{t.pue:.2f}", "1.00 for a workstation; data centres about 1.56"),
        _card("Run", duration(t.wall_time_s), f"{t.cpu_s:,.1f} CPU s; "
              f"{markup(node_count(t.nodes, t.mapnodes, report.split_names))} ({statuses}); "
              f"{len(hosts)} host(s): {markup(', '.join(hosts[:5]))}"
              + (" ..." if len(hosts) > 5 else "")),
        _card("Method", _methods(t.methods), "how the energy was obtained"),
    ]  # fmt: skip


def header(report: Report) -> str:
    """Title, the totals as cards, and the region and method warnings."""
    meta = report.metadata
    name = markup(report.workflow or "workflow")
    created = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.created))
    run = " ".join(markup(str(meta[k])) for k in ("engine", "plugin") if meta.get(k))
    version = markup(str(report.tool.get("version", "")))
    return (
        f'<header><h1>Energy and carbon: {name}</h1><p class="sub">{run} run, session '
        f"created {created}; nipype-carbon {version}</p></header>"
        + _status_note(report)
        + "".join(f'<p class="alert nc-fault">{markup(line)}</p>' for line in fault_lines(report))
        + f'<section class="cards" id="nc-totals">{"".join(_cards(report))}</section>'
        + _region_note(bool(report.totals.region_is_default))
        + _methods_note(report.totals.methods)
        + (f'<p class="alert" id="nc-nothing-ran">{markup(reuse_line(report))}</p>'
           if report.nothing_ran else "")
    )  # fmt: skip


def _share_cell(share: float) -> str:
    """The share as a number, with a bar beneath it (never over it)."""
    width = min(max(share, 0.0), 1.0) * 100
    return (
        f'<td class="n share"><b>{percent(share)}</b>'
        f'<span class="bar"><i style="width:{width:.1f}%"></i></span></td>'
    )


def _table(head: list[str], rows: Iterable[str], table_id: str) -> str:
    """A table; a heading that starts with '#' is a number column."""
    cells = "".join(f'<th class="n">{h[1:]}</th>' if h[0] == "#" else f"<th>{h}</th>" for h in head)
    body = "".join(rows)
    return f'<table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>'


def nodes_table(report: Report, top: int) -> str:
    """The hottest nodes, by emissions, with share and cumulative share of node energy.

    The host column is shown only for runs on several hosts (one host is in the Run card), so
    that the table fits a 900 px window.
    """
    hosts = len(report.totals.hosts) > 1
    rows = []
    for i, r in enumerate(top_nodes(report, top).to_dict("records"), start=1):
        interface = str(r["interface"])
        host = f'<td class="wrap">{_name(r["host"])}</td>' if hosts else ""
        rows.append(
            f'<tr><td class="n">{i}</td><td class="name">{_name(r["node"])}</td>'
            f'<td class="word" title="{markup(interface)}">'
            f"{_camel(interface.rsplit('.', 1)[-1])}</td>"
            f"<td>{markup(str(r['status']))}</td>{host}"
            f'<td class="n">{duration(r["duration_s"])}</td><td class="n">{r["cpu_s"]:,.2f}</td>'
            f'<td class="n">{energy(r["energy_j"])}</td>{_share_cell(r["share"])}'
            f'<td class="n">{percent(r["cumulative_share"])}</td>'
            f'<td class="n">{grams(r["emissions_g"])}</td>'
            f'<td class="m">{markup(str(r["method"])).replace(";", "; ")}</td></tr>'
        )
    head = ["##", "node", "interface", "status", *(["host"] if hosts else []), "#time", "#CPU s"]
    return _table([*head, "#energy", "#share", "#cumulative", "#CO2e", "method"], rows, "nc-nodes")


def interfaces_table(report: Report, top: int) -> str:
    """Energy per interface type, hottest first, with share and cumulative share."""
    rows = [
        f'<tr><td class="name">{_name(r["interface"])}</td><td class="n">{r["nodes"]:,}</td>'
        f'<td class="n">{r["cpu_s"]:,.2f}</td><td class="n">{energy(r["energy_j"])}</td>'
        f'{_share_cell(r["share"])}<td class="n">{percent(r["cumulative_share"])}</td>'
        f'<td class="n">{grams(r["emissions_g"])}</td></tr>'
        for r in report.interfaces().head(top).to_dict("records")
    ]
    head = ["interface", "#nodes", "#CPU s", "#energy", "#share", "#cumulative", "#CO2e"]
    return _table(head, rows, "nc-interfaces")


def graph_section(report: Report, max_nodes: int) -> str:
    """The workflow graph as inline SVG, or a short note saying why it is not here."""
    try:
        from nipype_carbon.report.graphviz import render_graph
    except ImportError:
        return '<p class="small">Workflow graph: not available in this version.</p>'
    if shutil.which("dot") is None:
        why = "graphviz's <code>dot</code> is not installed (apt-get install graphviz)"
    elif len(report.nodes) > max_nodes:
        why = f"{len(report.nodes):,} nodes; render it apart: <code>-o graph.svg</code>"
    else:
        try:
            svg = render_graph(report, fmt="svg").decode("utf-8", "replace")
        except Exception as err:  # a broken dot must not cost the whole report
            why = f"dot failed: {markup(str(err))}"
        else:
            start = svg.find("<svg")  # after the XML declaration and DOCTYPE
            if start >= 0:
                return (
                    '<p class="small">Fitted to the page where its words stay legible; '
                    '<button type="button" id="nc-graph-fit">Fit to width</button> '
                    '<button type="button" id="nc-graph-open">Open full size</button> '
                    '<b id="nc-graph-wider" hidden>Wider than the page: scroll right in the '
                    "frame for the rest, or fit it to the width.</b></p>"
                    f'<figure id="nc-graph">{svg[start:]}</figure>'
                )
            why = "dot gave no SVG"
    return f'<p class="small" id="nc-graph-note">Workflow graph not shown: {why}.</p>'


def _optional_sections(report: Report) -> str:
    parts = []
    found = advise(report)
    if found:
        items = "".join(f"<li>{markup(a.message)}</li>" for a in found[:10])
        parts.append(f'<section id="nc-advice"><h2>Advice</h2><ul>{items}</ul></section>')
    try:
        from nipype_carbon.report.methods import methods_paragraph
    except ImportError:
        return "".join(parts)
    text = methods_paragraph(report)
    paragraphs = "".join(f"<p>{markup(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
    parts.append(f'<section id="nc-methods"><h2>Methods</h2>{paragraphs}</section>')
    return "".join(parts)


def render_html(report: Report, top: int = 25, graph_max_nodes: int = 20_000, **_: Any) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    report : Report
        From :func:`nipype_carbon.report.build_report`.
    top : int
        Rows of the node and interface tables (all rows are in the embedded JSON).
    graph_max_nodes : int
        Above this many nodes the graph is left to ``render_graph`` (it takes longest).
    """
    n_nodes, n_ifaces = len(report.nodes), len(report.interfaces())
    n_work = report.totals.nodes
    title = markup(report.workflow or "workflow")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>nipype-carbon: {title}</title><style>{CSS}</style></head><body>"
        + header(report)
        + '<section id="nc-hot"><h2>Hottest nodes</h2><p class="small">'
        + (
            "None: nothing ran, every node was reused (see above).</p>"
            if report.nothing_ran
            else f"Top {min(top, n_work)} of {n_work:,} nodes by CO2e; each figure its "
            f"{FULL_COST}, each share of the {NODES_FULL_COST} "
            f"({energy(report.totals.nodes_full_cost_j)}).</p>"
        )
        + nodes_table(report, top)
        + f'</section><section id="nc-by-interface"><h2>By interface</h2><p class="small">Top '
        f"{min(top, n_ifaces)} of {n_ifaces:,}.</p>"
        + interfaces_table(report, top)
        + '</section><section id="nc-timeline"><h2>Timeline</h2><figure>'
        + timeline_svg(report)
        + "</figure></section><section><h2>Workflow graph</h2>"
        + graph_section(report, graph_max_nodes)
        + "</section>"
        + _optional_sections(report)
        + '<footer><h2>Data</h2><p class="small">All <span id="nc-count">'
        f"{n_nodes:,}</span> nodes, every interface, the hosts and the graph's edges are "
        f"embedded in this file as JSON (<code>#{DATA_ID}</code>). "
        '<button type="button" id="nc-csv">Download nodes as CSV</button></p></footer>'
        f'<script type="application/json" id="{DATA_ID}">{embedded_json(report_data(report))}'
        f"</script><script>{SCRIPT}</script></body></html>"
    )
