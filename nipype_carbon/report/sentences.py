"""The sentences several formats share: status, faults and glitches, energy, reuse,
where the energy went, projection, advice.

The console, Markdown, HTML, the graph's title and the end-of-run summary say the same
things in the same words; each sentence is made here once, from the report model, as
plain text (each format then makes it safe for its reader: :mod:`~nipype_carbon.report.escape`).
"""

from __future__ import annotations

import time
from typing import Any

from nipype_carbon.report.hotspots import advise, other_grids
from nipype_carbon.report.model import Report
from nipype_carbon.report.units import emissions, energy, percent


def reuse_line(report: Report) -> str:
    """What a run in which nothing ran did: how many nodes it reused, and what that avoided."""
    reused = int((report.nodes["status"] == "cached").sum())
    avoided = report.totals.energy_avoided_by_caching_j
    what = (
        f"energy avoided {energy(avoided)}, what an earlier run spent on them"
        if avoided > 0
        else "energy avoided unknown: the earlier run's session is not in this carbon directory"
    )
    return (
        f"Nothing ran: {reused:,} node(s) reused ({what}); the scheduler spent "
        f"{energy(report.scheduler_energy_j())} checking the cache."
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


def reconciliation_line(report: Report) -> str:
    """Where the run's energy went, each part with its share of the run's energy."""
    parts = report.reconciliation.parts() if report.reconciliation else {}
    total = report.totals.energy_j
    shown = [
        f"{name} {energy(value)} ({percent(value / total) if total > 0 else '-'})"
        for name, value in parts.items()
        if value > 0 or name == "nodes"
    ]
    line = "Where it went (shares of the run's energy): " + ", ".join(shown)
    other = report.totals.other_processes_j
    if other > 0:
        line += (
            f"; besides, other processes on the host spent {energy(other)} "
            f"(not the run's; the host's meters read {energy(report.totals.host_energy_j)})"
        )
    return line


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
        f"Energy {energy(t.energy_j)} (before PUE), {emissions(t.emissions_g)} "
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
