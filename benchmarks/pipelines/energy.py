"""Energy of the example pipelines per subject, per step and per alternative interface.

Runs the DWI example (``examples/dwi_pipeline``, upsampled unless ``--quick``) under
CarbonMultiProc (2 processes) ``--repeats`` times, each from an empty working directory,
and reports from the saved sessions with the project's own report model: each step's
energy per subject (its own, dynamic energy and its full cost with the baseline it
reserved), the alternative branches (``compare --alternatives``: MRtrix3 ``dwidenoise``
against dipy NLMeans, MRtrix3 against dipy tensor fits) and the cohort projection.
Figures are medians over the repeats; every table names the method (``rapl`` where the
host has RAPL, else ``model``) and the machine.

    python -m benchmarks.pipelines.energy --repeats 2 [--region GB] [--write-docs] [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

#: the example's alternative branches, as ``scripts/run-example.sh`` compares them
ALTERNATIVES = (
    "denoise=denoise_mrtrix,denoise_dipy",
    "tensor fit=tensor_mrtrix+metrics_mrtrix,tensor_dipy",
)
COHORTS = (1, 100, 1_000, 40_000)


def run_once(data: Path, base: Path, n_procs: int, region: str) -> Path:
    """One metered run of the example from an empty working directory; its session file."""
    import nipype_carbon  # noqa: F401 - registers CarbonMultiProc
    from examples.dwi_pipeline.run import configure, plugin_args_for
    from examples.dwi_pipeline.workflow import build_workflow
    from nipype_carbon.record.runs import session_files

    wf = build_workflow(data, base / "work", nthreads=1)
    args = plugin_args_for("CarbonMultiProc", n_procs, {"region": region})
    configure(wf, base, args)
    wf.run(plugin="CarbonMultiProc", plugin_args=args)
    return session_files(base / "work" / "dwi_carbon_example" / "carbon")[-1]


def step_rows(report: Any) -> dict[str, dict[str, Any]]:
    """Per step (a node, or a MapNode with its children summed): energy, CPU, interface."""
    nodes = report.nodes[report.nodes["kind"] == "node"]
    rows: dict[str, dict[str, Any]] = {}
    for _, node in nodes.iterrows():
        name = (node["mapnode_parent"] or node["node"]).split(".")[-1]
        row = rows.setdefault(
            name,
            {"interface": node["interface"].split(".")[-1], "dynamic_j": 0.0, "full_j": 0.0,
             "cpu_s": 0.0, "jobs": 0, "method": set()},
        )  # fmt: skip
        row["dynamic_j"] += node["own_energy_j"]
        row["full_j"] += node["energy_j"]
        row["cpu_s"] += node["cpu_s"]
        row["jobs"] += 1
        row["method"].add(node["method"])
    return rows


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Run the repeats; return per-run figures (plain data, no sessions kept)."""
    from examples.dwi_pipeline.prepare_data import prepare
    from nipype_carbon.report.compare import compare_branches
    from nipype_carbon.report.model import build_report
    from nipype_carbon.report.sentences import projection

    scratch = Path(tempfile.mkdtemp(prefix="nipype-carbon-pipelines-"))
    data = scratch / "data"
    prepare(data, upsample=not args.quick)
    runs = []
    try:
        for i in range(args.repeats):
            print(f"[{time.strftime('%H:%M:%S')}] run {i + 1}/{args.repeats}", flush=True)
            base = scratch / f"run-{i}"
            report = build_report(run_once(data, base, args.n_procs, args.region))
            branches = compare_branches(report, list(ALTERNATIVES))
            grid = report.grid
            runs.append(
                {
                    "steps": step_rows(report),
                    "alternatives": {s.step: s.energy_j for s in branches},
                    "verdicts": [s.verdict() for s in branches],
                    "energy_j": report.totals.energy_j,
                    "emissions_g": report.totals.emissions_g,
                    "wall_time_s": report.totals.wall_time_s,
                    "cpu_s": report.totals.cpu_s,
                    "method": report.how_obtained(),
                    "grid": f"{grid.region} ({grid.intensity_g_per_kwh:g} g/kWh, {grid.source})",
                    "pue": report.pue,
                    "projection": projection(report, COHORTS[-1]),
                    "intensity_g_per_kwh": report.grid.intensity_g_per_kwh,
                }
            )  # fmt: skip
            shutil.rmtree(base, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"runs": runs, "quick": args.quick, "n_procs": args.n_procs}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    with open("/proc/cpuinfo") as handle:
        names = [line.split(":", 1)[1].strip() for line in handle if "model name" in line]
    return (
        f"{os.cpu_count()} logical CPUs ({names[0] if names else 'unknown CPU'}), "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"{'RAPL' if Path('/sys/class/powercap').exists() else 'no RAPL'}; shared with other jobs "
        f"(load average {os.getloadavg()[0]:.2f} at the end)"
    )


def steps_table(runs: list[dict[str, Any]]) -> str:
    names = list(runs[0]["steps"])
    lines = [
        "| step | interface | jobs | CPU s | own energy J | full cost J | method |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = []
    for name in names:
        found = [r["steps"][name] for r in runs if name in r["steps"]]
        rows.append(
            (
                median([f["full_j"] for f in found]),
                f"| {name} | {found[0]['interface']} | {found[0]['jobs']} "
                f"| {median([f['cpu_s'] for f in found]):.1f} "
                f"| {median([f['dynamic_j'] for f in found]):,.1f} "
                f"| {median([f['full_j'] for f in found]):,.1f} "
                f"| {'/'.join(sorted(set().union(*(f['method'] for f in found))))} |",
            )
        )
    return "\n".join(lines + [line for _, line in sorted(rows, reverse=True)])


def branch_cpu_s(steps: dict[str, dict[str, Any]], alternative: str) -> float:
    """CPU seconds of the steps an alternative names (``a+b``: both), as compare matches them."""
    tokens = alternative.split("+")
    return sum(row["cpu_s"] for name, row in steps.items() if any(t in name for t in tokens))


def alternatives_table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| step | alternative | CPU s per subject | full cost J per subject | runs |",
        "|---|---|---|---|---|",
    ]
    for step, found in runs[0]["alternatives"].items():
        for alternative in found:
            values = [r["alternatives"][step][alternative] for r in runs]
            cpu_s = median([branch_cpu_s(r["steps"], alternative) for r in runs])
            lines.append(
                f"| {step} | {alternative} | {cpu_s:.1f} | {median(values):,.1f} | {len(values)} |"
            )
    return "\n".join(lines)


def cohort_table(runs: list[dict[str, Any]]) -> str:
    energy_j = median([r["energy_j"] for r in runs])
    emissions_g = median([r["emissions_g"] for r in runs])
    lines = ["| subjects | energy kWh | CO2e kg |", "|---|---|---|"]
    for n in COHORTS:
        lines.append(f"| {n:,} | {energy_j * n / 3.6e6:#.3g} | {emissions_g * n / 1000:#.3g} |")
    return "\n".join(lines)


def document(saved: dict[str, Any]) -> str:
    from benchmarks.pipelines.docs import benchmarks_doc

    return benchmarks_doc(
        saved, steps_table, alternatives_table, cohort_table, median, ALTERNATIVES
    )


def reproduce_command(args: argparse.Namespace) -> str:
    """The command that measures this again (without where this run kept its files)."""
    words = [
        "python -m benchmarks.pipelines.energy",
        "--quick" if args.quick else f"--repeats {args.repeats}",
    ]
    if args.region != "GB":
        words.append(f"--region {args.region}")
    return " ".join([*words, "--write-docs"])


def main(argv: list[str] | None = None) -> int:
    import json

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--n-procs", type=int, default=2)
    p.add_argument("--region", default="GB")
    p.add_argument("--quick", action="store_true", help="small (not upsampled) data, 1 run")
    p.add_argument("--results", type=Path, help="also write the figures as JSON here")
    p.add_argument("--from-results", type=Path, help="render from a saved JSON")
    p.add_argument("--write-docs", action="store_true", help="rewrite docs/benchmarks.md")
    args = p.parse_args(argv)
    if args.quick:
        args.repeats = 1
    started = time.time()
    if args.from_results:
        saved = json.loads(args.from_results.read_text())
    else:
        saved = measure(args)
        saved.update(
            machine=machine(),
            date=time.strftime("%Y-%m-%d", time.gmtime()),
            command=reproduce_command(args),
            ran_as="python -m benchmarks.pipelines.energy " + " ".join(sys.argv[1:]),
            elapsed_s=time.time() - started,
        )
    if args.results:
        args.results.write_text(json.dumps(saved, indent=1, default=sorted) + "\n")
    text = document(saved)
    print(text)
    if args.write_docs:
        (ROOT / "docs" / "benchmarks.md").write_text(text)
        print("wrote docs/benchmarks.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
