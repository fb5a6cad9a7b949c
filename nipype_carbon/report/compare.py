"""Comparisons: runs of alternative pipelines, or alternative branches within one run.

Runs are matched node by node by name without the top workflow's name (so
``wf_mrtrix.denoise`` meets ``wf_dipy.denoise``), and interface by interface.
Within one run, *alternatives* name the steps a user weighs, e.g.
``denoise=denoise_mrtrix,denoise_dipy``: each alternative is the set of nodes
whose name contains that token (MapNode children included; ``a+b`` joins the
nodes of two tokens), and the verdict names the cheaper one per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nipype_carbon.report.model import Report
from nipype_carbon.report.units import emissions, energy, percent


def _local(name: str) -> str:
    return name.split(".", 1)[1] if "." in name else name


def runs_frame(reports: dict[str, Report]) -> pd.DataFrame:
    """Totals per run: energy, emissions, CPU, wall time, nodes."""
    rows = [
        {
            "run": label,
            "energy_j": r.totals.energy_j,
            "emissions_g": r.totals.emissions_g,
            "attributed_energy_j": r.totals.attributed_energy_j,
            "cpu_s": r.totals.cpu_s,
            "wall_time_s": r.totals.wall_time_s,
            "nodes": r.totals.nodes,
            "status": r.totals.run_status,
        }
        for label, r in reports.items()
    ]
    return pd.DataFrame(rows)


def nodes_frame(reports: dict[str, Report]) -> pd.DataFrame:
    """Energy per node (matched by name without the workflow) in each run."""
    columns = {
        label: r.nodes[r.nodes["kind"] != "mapnode"]
        .assign(match=lambda f: f["node"].map(_local))
        .groupby("match")["energy_j"]
        .sum()
        for label, r in reports.items()
    }
    frame = pd.DataFrame(columns)
    frame.index.name = "node"
    return frame.sort_values(next(iter(columns)), ascending=False, na_position="last")


def interfaces_frame(reports: dict[str, Report]) -> pd.DataFrame:
    """Energy per interface type in each run."""
    frame = pd.DataFrame(
        {label: r.interfaces().set_index("interface")["energy_j"] for label, r in reports.items()}
    )
    frame.index.name = "interface"
    return frame.sort_values(next(iter(reports)), ascending=False, na_position="last")


def differences(reports: dict[str, Report]) -> list[str]:
    """A note per way the runs differ that bears on the comparison: grid, PUE, host, method.

    Energy depends on the machine and on how it was obtained; CO2e also on the grid and PUE.
    Given before any verdict, so that no verdict hides them.

    Examples
    --------
    >>> differences({})
    []
    """
    facts = {
        "grid": (
            lambda r: f"{r.grid.region} {r.grid.intensity_g_per_kwh:g} gCO2e/kWh",
            "CO2e is not comparable; give --region or --intensity to price every run alike",
        ),
        "PUE": (
            lambda r: f"{r.pue:g}",
            "CO2e is not comparable (energy is, being before PUE); give --pue",
        ),
        "host": (
            lambda r: ", ".join(r.totals.hosts) or "no host",
            "energy depends on the machine: compare runs of one machine for a verdict on the "
            "pipelines",
        ),
        "method": (
            lambda r: ", ".join(r.totals.methods) or "none",
            "measured and modelled energy differ in kind: compare like with like",
        ),
    }
    notes = []
    for what, (describe, why) in facts.items():
        seen = {label: describe(r) for label, r in reports.items()}
        if len(set(seen.values())) > 1:
            each = "; ".join(f"{label}: {value}" for label, value in seen.items())
            notes.append(f"Note: the runs differ in {what} ({each}): {why}.")
    for label, r in reports.items():
        if r.nothing_ran:
            notes.append(
                f"Note: nothing ran in {label} (every node was reused from the cache): its energy "
                "is the scheduler's alone, not the pipeline's."
            )
    return notes


def incomplete(reports: dict[str, Report]) -> list[str]:
    """One line per run that did not complete (interrupted or failed)."""
    return [
        f"{label}: run {r.totals.run_status_text}"
        for label, r in reports.items()
        if r.totals.run_status != "complete"
    ]


def verdict(reports: dict[str, Report], allow_incomplete: bool = False) -> str:
    """One line: which run used the least energy, and by how much.

    Only complete runs are weighed, unless ``allow_incomplete``: an interrupted
    or failed run used less energy because it did less work.
    """
    if not allow_incomplete:
        left_out = [k for k, r in reports.items() if r.totals.run_status != "complete"]
        reports = {k: r for k, r in reports.items() if k not in left_out}
        if len(reports) < 2:
            return (
                f"No verdict: {', '.join(left_out)} did not complete, and an incomplete run "
                "used less energy only because it did less work (--allow-incomplete to weigh "
                "it anyway)."
            )
    totals = {label: r.totals.energy_j for label, r in reports.items()}
    best = min(totals, key=lambda k: totals[k])
    worst = max(totals, key=lambda k: totals[k])
    if best == worst or totals[worst] <= 0:
        return "The runs used the same energy."
    saving = 1 - totals[best] / totals[worst]
    r = reports[best]
    return (
        f"{best} used the least energy: {energy(totals[best])} against {energy(totals[worst])} "
        f"for {worst} ({percent(saving)} less; {emissions(r.totals.emissions_g)} on "
        f"{r.grid.region})."
    )


@dataclass
class Step:
    """A step a user weighs, and its alternative branches' energies."""

    step: str
    energy_j: dict[str, float]

    @property
    def cheapest(self) -> str:
        return min(self.energy_j, key=lambda k: self.energy_j[k])

    def verdict(self) -> str:
        ranked = sorted(self.energy_j.items(), key=lambda kv: kv[1])
        (best, e_best), (worst, e_worst) = ranked[0], ranked[-1]
        if e_worst <= 0:
            return f"{self.step}: no energy recorded for {', '.join(self.energy_j)}"
        return (
            f"{self.step}: {best} is cheaper ({energy(e_best)} against {energy(e_worst)} for "
            f"{worst}, {percent(1 - e_best / e_worst)} less)"
        )


def parse_alternatives(spec: str) -> tuple[str, list[str]]:
    """``step=a,b`` (or ``a,b``) into the step's name and its alternatives."""
    step, sep, rest = spec.partition("=")
    names = [n.strip() for n in (rest if sep else step).split(",") if n.strip()]
    if len(names) < 2:
        raise ValueError(f"alternatives {spec!r}: give at least two, e.g. denoise=mrtrix,dipy")
    return (step.strip() if sep else "/".join(names)), names


def _did_you_mean(name: str, nodes: pd.DataFrame) -> str:
    """``: did you mean 'x'?`` for the node names closest to a mistyped one (their last
    parts, as a user writes them), or nothing when none is close."""
    import difflib

    wanted = [token for token in name.split("+") if token]
    known = sorted({str(n).rsplit(".", 1)[-1] for n in nodes["node"]})
    close = [c for token in wanted for c in difflib.get_close_matches(token, known, n=3)]
    if not close:
        return f"; the run's steps include {', '.join(known[:8])}" if known else ""
    return f": did you mean {' or '.join(repr(c) for c in dict.fromkeys(close))}?"


def compare_branches(report: Report, specs: list[str]) -> list[Step]:
    """Energy of each alternative branch within one run."""
    nodes = report.nodes[report.nodes["kind"] == "node"]
    steps = []
    for spec in specs:
        step, names = parse_alternatives(spec)
        found = {}
        for name in names:
            mask = pd.Series(False, index=nodes.index)
            for token in name.split("+"):  # an alternative may span several steps
                mask |= nodes["node"].str.contains(token, regex=False)
            if not mask.any():
                raise ValueError(
                    f"no node matches {name!r} (step {step}){_did_you_mean(name, nodes)}"
                )
            found[name] = float(nodes.loc[mask, "energy_j"].sum())
        steps.append(Step(step, found))
    return steps
