"""Text renderers of a report: console, CSV, JSON, Markdown, and several runs at once.

Every renderer has the same interface, ``render(report, **options) -> str | bytes``, and
is found by the output file's extension in :mod:`~nipype_carbon.report.registry`; the
sentences they share are :mod:`~nipype_carbon.report.sentences`'.
CSV and JSON follow the contracts in the user guide (columns ``node, interface,
status, start, end, duration_s, cpu_s, energy_j, energy_cpu_j, energy_dram_j,
energy_gpu_j, energy_idle_j, emissions_g, method``; JSON ``{"totals", "nodes"}``).

What a run's names can hold is made harmless in each format, by the rules of
:mod:`nipype_carbon.report.escape`: the console, CSV and Markdown show control
characters as control pictures (``␛``), bidi controls as ``<U+202E>`` and lone
surrogates as U+FFFD; a CSV cell that a spreadsheet would read as a formula
starts with ``'``; Markdown holds no raw HTML, link, image or autolink made from
session text. JSON is strict (a non-finite number is written ``null`` and named
in ``totals.non_finite``; a lone surrogate becomes U+FFFD). Every format says
the run's status (complete, failed, interrupted) first.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from nipype_carbon.report.escape import csv_cell, markdown_text, valid_unicode, visible
from nipype_carbon.report.hotspots import top_nodes
from nipype_carbon.report.methods import methods_paragraph
from nipype_carbon.report.model import Report
from nipype_carbon.report.sentences import (
    advice_lines,
    fault_lines,
    header_lines,
    hottest_heading,
    interfaces_heading,
    mostly_baseline,
    projection,
    status_lines,
)
from nipype_carbon.report.units import emissions, energy, percent


def render_csv(report: Report, **_: Any) -> str:
    """The node table: text cells visible; one that starts like a formula (``=``, ``+``, ``-``,
    ``@``, after any whitespace) gets ``'``."""
    return str(report.nodes.map(csv_cell).to_csv(index=False))


def render_json(report: Report, **_: Any) -> str:
    """Strict JSON: a non-finite number becomes ``null`` and is listed in ``totals.non_finite``;
    a lone surrogate in a name becomes U+FFFD (controls are written as ``\\u`` escapes)."""
    frame = report.nodes.map(valid_unicode)
    nodes = json.loads(frame.to_json(orient="records", double_precision=15))
    found = [  # written null by pandas; named here
        f"nodes[{i}].{column}"
        for column in frame.select_dtypes("number").columns
        for i, value in enumerate(frame[column])
        if not math.isfinite(value)
    ]
    data = _finite({"totals": report.totals.to_dict(), "nodes": nodes}, "", found)
    if found:
        data["totals"]["non_finite"] = found
    return json.dumps(data, indent=1, default=str, allow_nan=False)


def _finite(value: Any, where: str, found: list[str]) -> Any:
    """``value`` with every NaN or infinity replaced by None, their paths added to ``found``
    (and every lone surrogate by U+FFFD)."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, float) and not math.isfinite(value):
        found.append(where)
        return None
    if isinstance(value, dict):
        return {k: _finite(v, f"{where}.{k}" if where else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v, f"{where}[{i}]", found) for i, v in enumerate(value)]
    return value


def render_console(report: Report, top: int = 10, subjects: int | None = None, **_: Any) -> str:
    heading = "Hottest nodes:" if report.nothing_ran else hottest_heading(report)
    lines = [*header_lines(report), "", heading]
    if report.nothing_ran:
        lines.append("  none: nothing ran (see above)")
    for row in top_nodes(report, top).to_dict("records"):
        lines.append(
            f"  {energy(row['energy_j']):>9}  {emissions(row['emissions_g']):>13}  "
            f"{percent(row['share']):>6} (cum {percent(row['cumulative_share']):>6})  "
            f"cpu {row['cpu_s']:7.2f} s  [{row['method']}]  {visible(row['node'])}"
            + ("" if row["status"] in ("ran", "cached") else f"  ({row['status']})")
            + (f"  ({note})" if (note := mostly_baseline(row)) else "")
        )
    if not report.nothing_ran:
        lines += ["", interfaces_heading(report)]
        for row in report.interfaces().head(top).to_dict("records"):
            lines.append(
                f"  {energy(row['energy_j']):>9}  {percent(row['share']):>6}  "
                f"{row['nodes']:4d} node(s)  {visible(row['interface'])}"
            )
    *advice, elsewhere = advice_lines(report)
    lines += ["", "Advice:", *(f"  - {a}" for a in advice), "", elsewhere]
    if subjects:
        lines += ["", projection(report, subjects)]
    return "\n".join(visible(line) for line in lines) + "\n"


def render_runs(
    reports: list[Report],
    top: int = 10,
    unmetered: list[str] | None = None,
    unreadable: list[str] | None = None,
) -> str:
    """Several runs (every workflow an app ran), one line each, their total, and the hottest
    nodes across them; ``unmetered`` names runs that could not be metered, ``unreadable``
    sessions that could not be read (each with why): the others are reported all the same."""
    lines = [f"{len(reports)} workflow run(s) metered"]
    for report in reports:
        t = report.totals
        workflow = report.metadata.get("workflow", "?")
        lines.append(
            f"  {t.run_status:<11} {energy(t.energy_j):>9}  "
            f"{emissions(t.emissions_g):>13}  {t.nodes:4d} node(s)  "
            f"[{', '.join(t.methods) or 'none'}]  {visible(workflow)}  "
            f"({report.session_name or 'None'})"
        )
        if t.run_status != "complete" or t.run_notes or t.meter_faults:
            lines += [f"      {line}" for line in status_lines(report) + fault_lines(report)]
    for note in unmetered or []:
        lines.append(f"  NOT METERED: {note}")
    for note in unreadable or []:
        lines.append(f"  NOT READ: {note}")
    if not reports:
        return "\n".join(visible(line) for line in lines) + "\n"
    energy_j = sum(r.totals.energy_j for r in reports)
    grams = sum(r.totals.emissions_g for r in reports)
    incomplete = sum(r.totals.run_status != "complete" for r in reports)
    lines.append(
        f"Total {energy(energy_j)} (before PUE), {emissions(grams)}, each run priced with its "
        "own grid and PUE"
        + (
            f"; {incomplete} run(s) not complete: the total covers only what was recorded"
            if incomplete
            else ""
        )
        + (
            f"; {len(unreadable)} run(s) could not be read: the total leaves them out"
            if unreadable
            else ""
        )
    )
    every = [top_nodes(report, len(report.nodes)) for report in reports]
    work = sum(float(nodes["energy_j"].sum()) for nodes in every)
    ranked = [row for nodes in every for row in nodes.head(top).to_dict("records")]
    ranked.sort(key=lambda row: row["energy_j"], reverse=True)
    lines += ["", "Hottest nodes across the runs (share of all runs' node energy):"]
    for row in ranked[:top]:
        share = percent(row["energy_j"] / work) if work > 0 else "-"
        lines.append(
            f"  {energy(row['energy_j']):>9}  {emissions(row['emissions_g']):>13}  {share:>6}  "
            f"cpu {row['cpu_s']:7.2f} s  [{row['method']}]  {visible(row['node'])}"
            + ("" if row["status"] in ("ran", "cached") else f"  ({row['status']})")
        )
    return "\n".join(visible(line) for line in lines) + "\n"


def _md_table(frame: pd.DataFrame) -> str:
    cells = frame.map(markdown_text)
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns) + "\n"
    return head + "".join("| " + " | ".join(row) + " |\n" for row in cells.itertuples(index=False))


def render_markdown(report: Report, top: int = 10, subjects: int | None = None, **_: Any) -> str:
    nodes = top_nodes(report, top)
    table = pd.DataFrame(
        {
            "node": nodes["node"],
            "energy": nodes["energy_j"].map(energy),
            "CO2e": nodes["emissions_g"].map(emissions),
            "share": nodes["share"].map(percent),
            "cumulative": nodes["cumulative_share"].map(percent),
            "method": nodes["method"],
            "status": nodes["status"],
        }
    )
    ifaces = report.interfaces().head(top)
    itable = pd.DataFrame(
        {
            "interface": ifaces["interface"],
            "nodes": ifaces["nodes"],
            "energy": ifaces["energy_j"].map(energy),
            "share": ifaces["share"].map(percent),
        }
    )
    parts = [
        "# nipype-carbon report",
        "",
        *(f"- {markdown_text(line)}" for line in header_lines(report)),
        "",
        "## Hottest nodes",
        "",
        f"{markdown_text(hottest_heading(report))}\n",
        _md_table(table) if not report.nothing_ran else "None: nothing ran (see above).\n",
        "## By interface",
        "",
        f"{markdown_text(interfaces_heading(report))}\n",
        _md_table(itable) if not report.nothing_ran else "None: nothing ran (see above).\n",
        "## Advice",
        "",
        *(f"- {markdown_text(a)}" for a in advice_lines(report)),
        "",
        "## Methods",
        "",
        *(
            f"{markdown_text(p.strip())}\n"
            for p in methods_paragraph(report).split("\n\n")
            if p.strip()
        ),
    ]
    if subjects:
        parts += ["## Projection", "", markdown_text(projection(report, subjects)), ""]
    return "\n".join(parts)
