"""The sentences several formats share: status, faults and glitches, energy, reuse,
where the energy went, projection, advice.

The console, Markdown, HTML, the graph's title and the end-of-run summary say the same
things in the same words; each sentence is made here once, from the report model, as
plain text (each format then makes it safe for its reader: :mod:`~nipype_carbon.report.escape`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from nipype_carbon.report.hotspots import advise, other_grids
from nipype_carbon.report.model import Report
from nipype_carbon.report.units import emissions, energy, percent
from nipype_carbon.report.vocabulary import (
    BASELINE,
    ENGINE,
    FULL_COST,
    HOST_METERS,
    NODES_FULL_COST,
    NOT_CHARGED,
    OTHER_PROCESSES,
    OWN_ENERGY,
    RUN_ENERGY,
    node_count,
)


def reuse_line(report: Report) -> str:
    """What a run in which nothing ran did: how many nodes it reused, and what that avoided."""
    reused = report.totals.nodes_by_status.get("cached", 0)
    avoided = report.totals.energy_avoided_by_caching_j
    what = (
        f"energy avoided {energy(avoided)}, what an earlier run spent on them"
        if avoided > 0
        else "energy avoided unknown: the earlier run's session is not in this carbon directory"
    )
    return (
        f"Nothing ran: {reused:,} node(s) reused ({what}); the scheduler spent "
        f"{energy(report.scheduler_energy_j())} checking the cache ({ENGINE})."
    )


def projection(report: Report, subjects: int) -> str:
    """The run as one subject, times a cohort (refused when nothing ran)."""
    if report.nothing_ran:
        return (
            f"Projection to {subjects:,} subjects refused: nothing ran in this run (every node "
            "was reused), so it says nothing about what a subject costs. Project from the run "
            "that did the work (its session file), or rerun with a fresh base_dir."
        )
    e, g = report.totals.energy_j * subjects, report.totals.emissions_g * subjects
    return (
        f"Projection: {subjects:,} subjects x this run = {energy(e)}, {emissions(g)} "
        f"(UK Biobank imaging: tens of thousands of subjects)"
    )


def run_energy_parts(report: Report) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """The run energy's parts by the vocabulary, each with the parts it is made of: the
    nodes' full cost (own energy, baseline share, memory share), the engine overhead and the
    baseline not charged to a node. They add up to the run energy."""
    t = report.totals
    inner = [(OWN_ENERGY, t.nodes_own_energy_j), (f"{BASELINE} share", t.nodes_baseline_share_j)]
    if t.nodes_memory_share_j > 0:
        inner.append(("memory share", t.nodes_memory_share_j))
    parts = [(NODES_FULL_COST, t.nodes_full_cost_j, inner), (ENGINE, t.engine_overhead_j, [])]
    if t.not_charged_j > 1e-9:
        parts.append((NOT_CHARGED, t.not_charged_j, []))
    return parts


def reconciliation_line(report: Report) -> str:
    """Where the run energy went, each part with its share of the run energy."""
    t = report.totals
    total = t.energy_j

    def part(name: str, value: float) -> str:
        return f"{name} {energy(value)} ({percent(value / total) if total > 0 else '-'})"

    shown = []
    for name, value, inner in run_energy_parts(report):
        text = part(name, value)
        if inner and value > 0:
            text += " = " + " + ".join(part(n, v) for n, v in inner)
        shown.append(text)
    line = f"Where the {RUN_ENERGY} went (shares of the {RUN_ENERGY}): " + "; ".join(shown)
    if t.other_processes_j > 0:
        line += (
            f"; besides, {OTHER_PROCESSES} on the host spent {energy(t.other_processes_j)} "
            f"(not the run's; {HOST_METERS} read {energy(t.host_energy_j)})"
        )
    return line


def hottest_heading(report: Report) -> str:
    """The heading of the hottest nodes: what each figure is, and what its share is of."""
    total = energy(report.totals.nodes_full_cost_j)
    return (
        f"Hottest nodes ({FULL_COST}: {OWN_ENERGY} + {BASELINE} share; shares of the "
        f"{NODES_FULL_COST}, {total}):"
    )


def interfaces_heading(report: Report) -> str:
    total = energy(report.totals.nodes_full_cost_j)
    return f"By interface ({FULL_COST}; shares of the {NODES_FULL_COST}, {total}):"


def mostly_baseline(row: Mapping[Any, Any]) -> str:
    """For a node whose full cost is mostly its baseline share (a short step of a small run:
    start-up, not work), a few words saying so with its own energy; else nothing."""
    own, baseline = float(row.get("own_energy_j", 0.0)), float(row.get("baseline_share_j", 0.0))
    if baseline > own and row.get("status") != "cached":
        return f"mostly {BASELINE}: {OWN_ENERGY} {energy(own)}"
    return ""


def count_line(report: Report) -> str:
    """How many nodes the run had, by the one rule, and how many of them ran or were reused."""
    t = report.totals
    statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(t.nodes_by_status.items()))
    words = node_count(t.nodes, t.mapnodes, report.split_names)
    return f"{words[0].upper()}{words[1:]}: {statuses or 'none'}"


def status_lines(report: Report) -> list[str]:
    """The run's status, and what is missing from it, one line each."""
    t = report.totals
    if t.run_status == "complete":
        head = "Run complete"
    else:
        status, text = t.run_status, t.run_status_text
        head = (
            f"Run {status.upper()}{text[len(status) :]}: the figures cover only what was "
            "recorded, not the whole run"
        )
    return [head + "".join(f"; {note}" for note in t.run_notes)]


#: what a meter fault did, in the sentence that names it
FAULT_ACTIONS = {
    "dropped": "dropped",
    "left out": "misread (the reading left out)",
    "kept": "glitched (the readings kept, judged on the host's timeline)",
}


def fault_lines(report: Report) -> list[str]:
    """One line per meter dropped during the run, and the energy modelled in its place."""
    t = report.totals
    lines = []
    for fault in t.meter_faults:
        when = time.strftime("%H:%M:%S", time.localtime(fault["t"])) if fault["t"] else "?"
        what = FAULT_ACTIONS.get(fault.get("action", "dropped"), FAULT_ACTIONS["dropped"])
        lines.append(
            f"Meter fault: {fault['meter']} on {fault['host']} {what} at {when} in "
            f"{fault['records']} record(s): {fault['reason']}"
        )
    lines += glitch_lines(report)
    modelled = t.modelled_after_fault_j
    if modelled > 0:
        share = percent(modelled / t.energy_j) if t.energy_j > 0 else "-"
        lines.append(
            f"{energy(modelled)} ({share} of the run's energy) modelled where no meter could be "
            "read or its readings could not be used"
        )
    return lines


def glitch_lines(report: Report) -> list[str]:
    """One line per kind of counter glitch of each domain (a jump, a reset, a freeze, no
    reading): when first, for how long in all, and the energy modelled in its place."""
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for glitch in report.totals.counter_glitches:
        key = (glitch["host"], glitch["domain"], glitch["what"])
        grouped.setdefault(key, []).append(glitch)
    lines = []
    for (host, domain, what), found in grouped.items():
        when = time.strftime("%H:%M:%S", time.localtime(found[0]["start"]))
        span_s = sum(g["end"] - g["start"] for g in found)
        times = f" ({len(found)} times)" if len(found) > 1 else ""
        lines.append(
            f"Counter glitch: {domain} on {host} {what} at {when}{times}: "
            f"{span_s:.3g} s modelled ({energy(sum(g['modelled_j'] for g in found))})"
        )
    return lines


def header_lines(report: Report) -> list[str]:
    t, grid = report.totals, report.grid
    where = "no region set: WORLD average" if t.region_is_default else grid.region
    lines = [
        *status_lines(report),
        *fault_lines(report),
        # energy is what the meters saw; PUE (the building's overhead) scales only the CO2e
        count_line(report),
        f"Run energy {energy(t.energy_j)} (before PUE), {emissions(t.emissions_g)} "
        f"[{where}, {grid.intensity_g_per_kwh:g} gCO2e/kWh, PUE {report.pue:g}]; "
        f"{report.how_obtained()}",
        reconciliation_line(report),
    ]
    if report.nothing_ran:
        lines.append(reuse_line(report))
    if "model" in t.methods:
        lines.append(
            "Note: 'model' numbers are estimates from utilisation and rated power, "
            "not measurements (nipype-carbon doctor says why)."
        )
    return lines


def advice_lines(report: Report) -> list[str]:
    """The advice, or a line saying the data point at nothing, then the run on other grids."""
    advice = [a.message for a in advise(report)] or ["(nothing the data points at)"]
    grids = other_grids(report)
    elsewhere = ", ".join(
        f"{r['region']} {emissions(r['emissions_g'])}" for r in grids.to_dict("records")
    )
    return [*advice, f"Same run elsewhere: {elsewhere}"]
