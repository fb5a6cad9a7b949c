"""Tables for ``benchmarks/trackers/compare.py``: pure functions of the runs' results.

A result is one run's dict (``tracker_run.py`` plus the driver's additions): ``tool``,
``case`` (``rapl``: the emulator at /sys/class/powercap; ``model``: no powercap),
``wall_s``, ``tree_cpu_s``, ``energy_j`` (the tool's total without any PUE of its own),
``cpu_j`` (the CPU part, where the tool reports one), ``truth_j`` (the emulator's counter
over the tool's window), ``method`` (the tool's own words), or ``error``.

>>> runs = [
...     {"tool": "MultiProc", "case": "rapl", "wall_s": 10.0, "tree_cpu_s": 8.0},
...     {"tool": "codecarbon-machine", "case": "rapl", "wall_s": 11.0, "tree_cpu_s": 9.0,
...      "energy_j": 300.0, "cpu_j": 210.0, "truth_j": 200.0, "method": "CPU(Intel Rapl)"},
... ]
>>> row = summarise(runs, "codecarbon-machine", "rapl")
>>> row["overhead_cpu_s"], round(row["error"], 6), row["runs"]
(1.0, 0.05, '1/1')
"""

from __future__ import annotations

import statistics
from typing import Any

from nipype_carbon.analyse.carbon import emissions_g
from nipype_carbon.reference.grids import resolve_intensity

#: one intensity and PUE for every tool's energy (each tool's own CO2e uses its own)
COMMON_INTENSITY_G_PER_KWH = 300.0
COMMON_PUE = 1.0
REFERENCE = "MultiProc"

#: per tool: its venv, what it meters and at what granularity, its sampling
TOOL_INFO: dict[str, dict[str, Any]] = {
    "MultiProc": {
        "venv": None, "label": "plain MultiProc (no tracker)", "scope": "-",
        "granularity": "-",
    },
    "nipype-carbon": {
        "venv": None, "label": "nipype-carbon (CarbonMultiProc)",
        "scope": "host; split to nodes", "granularity": "per node (+ child processes)",
    },
    "codecarbon-machine": {
        "venv": "codecarbon", "label": "CodeCarbon 3.3.2 offline, machine",
        "scope": "machine", "granularity": "run (15-s samples)",
    },
    "codecarbon-process": {
        "venv": "codecarbon", "label": "CodeCarbon 3.3.2 offline, process",
        "scope": "process tree", "granularity": "run (15-s samples)",
    },
    "carbontracker": {
        "venv": "carbontracker", "label": "Carbontracker 2.4.7",
        "scope": "machine (CPU only)", "granularity": "run (one epoch)",
    },
    "eco2ai": {
        "venv": "eco2ai", "label": "eco2ai 0.3.12", "scope": "main process",
        "granularity": "run (10-s samples)",
    },
    "eco2ai-all": {
        "venv": "eco2ai", "label": 'eco2ai 0.3.12, cpu_processes="all"',
        "scope": "all processes", "granularity": "run (10-s samples)",
    },
    "experiment-impact-tracker": {
        "venv": "experiment-impact-tracker", "label": "experiment-impact-tracker 0.1.8",
        "scope": "process tree", "granularity": "run",
    },
}  # fmt: skip


def _ok(results: list[dict[str, Any]], tool: str, case: str) -> list[dict[str, Any]]:
    return [r for r in results if r["tool"] == tool and r["case"] == case and "error" not in r]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def read_j(run: dict[str, Any]) -> float | None:
    """What the tool says the CPU used (its RAPL-read part where it has one)."""
    return run.get("cpu_j", run.get("energy_j"))


def summarise(results: list[dict[str, Any]], tool: str, case: str) -> dict[str, Any]:
    """Medians over a tool's successful runs in one case, its error against the truth, and
    why it failed where every run failed."""
    runs = [r for r in results if r["tool"] == tool and r["case"] == case]
    ok = _ok(results, tool, case)
    reference = _median([r["tree_cpu_s"] for r in _ok(results, REFERENCE, case)])
    errors = [
        read_j(r) / r["truth_j"] - 1.0  # type: ignore[operator]
        for r in ok
        if r.get("truth_j") and read_j(r) is not None
    ]
    energy = _median([r["energy_j"] for r in ok if "energy_j" in r])
    cpu_s = _median([r["tree_cpu_s"] for r in ok])
    return {
        "tool": tool,
        "runs": f"{len(ok)}/{len(runs)}",
        "wall_s": _median([r["wall_s"] for r in ok]),
        "overhead_cpu_s": None
        if tool == REFERENCE or cpu_s is None or reference is None
        else cpu_s - reference,
        "energy_j": energy,
        "read_j": _median([v for r in ok if (v := read_j(r)) is not None]) if energy else None,
        "truth_j": _median([r["truth_j"] for r in ok if "truth_j" in r]),
        "error": _median(errors),
        "worst_error": max(errors, key=abs) if errors else None,
        "co2e_g": None
        if energy is None
        else emissions_g(energy, resolve_intensity(None, COMMON_INTENSITY_G_PER_KWH), COMMON_PUE),
        "method": "; ".join(sorted({r.get("method", "") for r in ok} - {""})) or "-",
        "failure": "" if ok else "; ".join(sorted({failure(r) for r in runs})),
    }


def failure(run: dict[str, Any]) -> str:
    """Why a run gave no figure: the error, and the first error the tool itself logged."""
    logged = [line for line in run.get("log_errors") or [] if not line.startswith("TRACKER-")]
    return run.get("error", "") + (f" (its log: {logged[0][:160]})" if logged else "")


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def measured_table(results: list[dict[str, Any]], case: str = "rapl") -> str:
    """The side-by-side table (markdown) of every tool in ``case``."""
    head = (
        "| tool | runs ok | wall s | tool's CPU s | energy J | CPU J it reports | truth J "
        "| error (worst) | CO2e g | scope | granularity | method (its own words) |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    tools = [t for t in TOOL_INFO if any(r["tool"] == t and r["case"] == case for r in results)]
    for tool in tools:
        row, info = summarise(results, tool, case), TOOL_INFO[tool]
        if row["failure"]:
            lines.append(
                f"| {info['label']} | {row['runs']} | | | | | | | | {info['scope']} "
                f"| {info['granularity']} | **failed**: {row['failure']} |"
            )
            continue
        error = "-"
        if row["error"] is not None:
            error = f"{row['error']:+.1%} ({row['worst_error']:+.1%})"
        lines.append(
            f"| {info['label']} | {row['runs']} | {_fmt(row['wall_s'], '.1f')} "
            f"| {_fmt(row['overhead_cpu_s'], '+.1f')} | {_fmt(row['energy_j'], ',.0f')} "
            f"| {_fmt(row['read_j'], ',.0f')} | {_fmt(row['truth_j'], ',.0f')} | {error} "
            f"| {_fmt(row['co2e_g'], '.3f')} | {info['scope']} | {info['granularity']} "
            f"| {row['method']} |"
        )
    return "\n".join(lines)


def model_table(results: list[dict[str, Any]]) -> str:
    """The model-only case: the same columns, no truth (nothing was there to read)."""
    return measured_table(results, "model")


def node_label(name: str) -> str:
    """A node's name without its workflows; a MapNode child keeps its parent's name."""
    parts = name.split(".")
    return ".".join(parts[-2:]) if parts[-1].startswith("_") and len(parts) > 1 else parts[-1]


def node_error_table(results: list[dict[str, Any]]) -> str:
    """nipype-carbon per node: error of each node's CPU energy against 9 J x its CPU-s,
    with the baseline as the run found it and as calibrated (``cpu_baseline_w``)."""
    found: dict[tuple[str, str], list[float]] = {}
    for run in _ok(results, "nipype-carbon", "rapl"):
        for variant, errors in run.get("node_errors", {}).items():
            for node, error in errors.items():
                found.setdefault((variant, node_label(node)), []).append(error)
    lines = ["| baseline | node | runs | median error | worst error |", "|---|---|---|---|---|"]
    for (variant, node), errors in sorted(found.items()):
        worst = max(errors, key=abs)
        lines.append(
            f"| {variant} | {node} | {len(errors)} | {statistics.median(errors):+.1%} "
            f"| {worst:+.1%} |"
        )
    return "\n".join(lines)


def idle_table(results: list[dict[str, Any]]) -> str:
    """Each peer's own CPU around a sleep (no workflow): its start, its sampling over the
    window and its stop, less the harness's (plain MultiProc, which starts no tracker)."""
    base = _median([r["tree_cpu_s"] for r in _ok(results, REFERENCE, "idle")]) or 0.0
    lines = [
        "| tool | window s | its own CPU s (start + window + stop) |",
        "|---|---|---|",
    ]
    for tool in TOOL_INFO:
        runs = [r for r in results if r["tool"] == tool and r["case"] == "idle"]
        if not runs or tool == REFERENCE:
            continue
        ok = _ok(results, tool, "idle")
        if not ok:
            why = "; ".join(sorted({failure(r) for r in runs}))
            lines.append(f"| {TOOL_INFO[tool]['label']} | | **failed**: {why} |")
            continue
        window = _median([r["window_s"] for r in ok]) or 0.0
        cpu = (_median([r["tree_cpu_s"] for r in ok]) or 0.0) - base
        lines.append(f"| {TOOL_INFO[tool]['label']} | {window:.0f} | {cpu:.2f} |")
    lines.append(f"| (harness alone: plain MultiProc, no tracker) | | {base:.2f} |")
    return "\n".join(lines)
