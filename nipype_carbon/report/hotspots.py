"""Hotspots and advice: which steps to change, drawn from the data where it supports it.

Advice is only given when the run's own numbers show the pattern:

- a node held more cores than it kept busy (right-size threads: energy of
  reserved but idle cores is still drawn; Lannelongue et al. 2021 count
  reserved cores in their model for this reason);
- baseline power dominates the run (low utilisation wastes energy: Barroso and
  Hölzle 2007, "The case for energy-proportional computing", IEEE Computer);
- caching avoided energy that an earlier run spent;
- failed nodes spent energy for nothing;
- the same run on cleaner and dirtier grids.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nipype_carbon.reference.grids import intensity_table
from nipype_carbon.report.model import NOT_WORK, Report
from nipype_carbon.report.units import energy, percent

#: grids shown for "what if it ran elsewhere", cleanest to dirtiest where shipped
GRID_EXAMPLES = ("CA-QC", "FR", "US-CA", "GB", "WORLD", "DE", "US-WV", "IN", "PL", "ZA")
UNDERUSED_CORES = 0.5  # busy fraction of the cores a node held, below which we say so
IDLE_DOMINATES = 0.5  # share of the run's energy that is baseline


@dataclass
class Advice:
    """One finding: what, how much energy is at stake, and why we say so."""

    kind: str
    message: str
    energy_j: float = 0.0
    source: str = ""


def top_nodes(report: Report, n: int = 10) -> pd.DataFrame:
    """The hottest nodes by emissions, with share and cumulative share of the nodes' energy.

    None when nothing ran (every node reused). MapNodes' children carry their work; the
    scheduler is engine overhead, never a node.
    """
    nodes = report.nodes[~report.nodes["kind"].isin(NOT_WORK)]
    if report.nothing_ran:
        nodes = nodes.iloc[0:0]
    ranked = nodes.sort_values("emissions_g", ascending=False, kind="stable")
    total = ranked["energy_j"].sum()
    ranked = ranked.assign(share=ranked["energy_j"] / total if total > 0 else 0.0)
    ranked = ranked.assign(cumulative_share=ranked["share"].cumsum())
    return ranked.head(n).reset_index(drop=True)


def other_grids(report: Report) -> pd.DataFrame:
    """The run's emissions on a few cleaner and dirtier grids (same energy and PUE)."""
    table = intensity_table()
    rows = []
    for code in GRID_EXAMPLES:
        grid = table.get(code)
        if grid is not None:
            grams = report.emissions_g(report.totals.energy_j, grid)
            rows.append(
                {
                    "region": code,
                    "name": grid.name,
                    "intensity_g_per_kwh": grid.intensity_g_per_kwh,
                    "emissions_g": grams,
                }
            )
    return pd.DataFrame(rows).sort_values("intensity_g_per_kwh").reset_index(drop=True)


def advise(report: Report) -> list[Advice]:
    """Every finding the data supports, largest energy at stake first."""
    found = _underused_cores(report) + _idle_share(report) + _failed(report) + _caching(report)
    return sorted(found, key=lambda a: a.energy_j, reverse=True)


def _underused_cores(report: Report) -> list[Advice]:
    found = []
    nodes = report.nodes[(report.nodes["n_procs"] > 1) & (report.nodes["duration_s"] > 0)]
    for row in nodes.to_dict("records"):
        cores = row["n_procs"]
        busy = row["cpu_s"] / (row["duration_s"] * cores)
        if busy < UNDERUSED_CORES:
            found.append(
                Advice(
                    "right-size threads",
                    f"{row['node']} held {cores} cores but kept {busy * cores:.1f} "
                    "busy on average: ask for fewer (n_procs) or let it use them (its threads "
                    "option)",
                    row["energy_j"],
                    "Lannelongue et al. 2021 (Green Algorithms): reserved cores draw power",
                )
            )
    return found


def _idle_share(report: Report) -> list[Advice]:
    idle_j = report.totals.unattributed_by_kind_j.get("idle", 0.0)
    total_j = report.totals.energy_j
    if total_j <= 0 or idle_j / total_j < IDLE_DOMINATES:
        return []
    return [
        Advice(
            "large idle share",
            f"{percent(idle_j / total_j)} of the run's energy ({energy(idle_j)}) is the machine's "
            "baseline power: run more work at once (raise n_procs, batch subjects) or on a machine "
            "sized to the job",
            idle_j,
            "Barroso and Hölzle 2007, The case for energy-proportional computing, IEEE Computer",
        )
    ]


def _failed(report: Report) -> list[Advice]:
    failed = report.nodes[report.nodes["status"] == "failed"]
    if failed.empty:
        return []
    lost = float(failed["energy_j"].sum())
    names = ", ".join(failed["node"].head(3))
    return [
        Advice(
            "failed nodes",
            f"{len(failed)} failed node(s) spent {energy(lost)} "
            f"({names}): check inputs before large runs",
            lost,
        )
    ]


def _caching(report: Report) -> list[Advice]:
    avoided = report.totals.energy_avoided_by_caching_j
    if avoided <= 0:
        return []
    cached = int((report.nodes["status"] == "cached").sum())
    return [
        Advice(
            "caching",
            f"caching avoided {energy(avoided)}: {cached} node(s) reused "
            "results an earlier run of this workflow had paid for",
            avoided,
        )
    ]
