"""Compare carbon trackers on one real pipeline against a known truth (issue 11).

The upsampled DWI example (``examples/dwi_pipeline``) runs under plain MultiProc
(2 processes), CarbonMultiProc, and each peer wrapped around ``wf.run`` as its
documentation says: CodeCarbon (offline; machine and process modes), Carbontracker,
eco2ai (the main process, and ``cpu_processes="all"``) and experiment-impact-tracker,
each peer in its own venv (``benchmarks/trackers/venvs.py``).

**Truth.** Every run sees the same powercap emulator (``LoadFollowingPowercap``: 12 W
idle plus 9 J per busy CPU-second of the whole host, parsed from /proc/stat) at
``/sys/class/powercap`` in a private mount namespace (``unshare --mount --net``: a tmpfs
over ``/sys/class``, the emulated tree bind-mounted; no network, so "offline" is
literal). The truth for a run is the emulator's counter over the tool's window; for a
nipype-carbon node, 9 J x its CPU seconds (``testkit/scenario.py``, as in
``benchmarks/accuracy/validity.py``). Then the **model-only** case: the same, with no powercap.

Runs alternate across tools, ``--repeats`` times. Needs root (the mount namespace).

    python -m benchmarks.trackers.compare --repeats 3 [--write-docs] [--quick] [--tools ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

from benchmarks.trackers.docs import comparison_doc  # noqa: E402
from benchmarks.trackers.table import (  # noqa: E402
    COMMON_INTENSITY_G_PER_KWH,
    COMMON_PUE,
    TOOL_INFO,
    idle_table,
    measured_table,
    model_table,
    node_error_table,
)
from benchmarks.trackers.venvs import DEFAULT_VENV_DIR, PEER_ENVS, ensure_env  # noqa: E402
from testkit.powercap import LoadFollowingPowercap  # noqa: E402
from testkit.scenario import IDLE_W, J_PER_CPU_S  # noqa: E402

#: the runner, as a module of this package (found through PYTHONPATH, in each venv)
RUNNER = "benchmarks.trackers.run"
PROJECT_PYTHON = sys.executable
#: tmpfs over /sys/class, the emulated tree (if any) bind-mounted as powercap, then the tool
NAMESPACE_SCRIPT = (
    "mount -t tmpfs tmpfs /sys/class && mkdir /sys/class/powercap && "
    'if [ -n "$1" ]; then mount --bind "$1" /sys/class/powercap; fi && shift && exec "$@"'
)
RUN_TIMEOUT_S = 1800


def kernel_layout(tree: Path) -> None:
    """Add the control-type directory the kernel has beside the zones
    (``intel-rapl/intel-rapl:0`` and ``intel-rapl/subsystem`` -> the powercap class), which
    CodeCarbon requires; the zone itself stays the emulator's one counter."""
    control = tree / "intel-rapl"
    control.mkdir()
    (control / "subsystem").symlink_to("..")
    (control / "intel-rapl:0").symlink_to("../intel-rapl:0")
    (control / "enabled").write_text("1\n")


def python_for(tool: str, venv_dir: Path, log: Path) -> str:
    env = TOOL_INFO[tool]["venv"]
    if env is None:
        return PROJECT_PYTHON
    return str(ensure_env(PEER_ENVS[env], venv_dir, log))


def run_one(
    tool: str, python: str, data: Path, work: Path, tree: Path | None, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One run in a private mount and network namespace; the runner's JSON, or why not."""
    env = {**os.environ, "NIPYPE_NO_ET": "1", "NO_ET": "1", "PYTHONPATH": str(ROOT)}
    env.pop("VIRTUAL_ENV", None)
    cmd = [
        "unshare", "--mount", "--net", "sh", "-c", NAMESPACE_SCRIPT, "sh", str(tree or ""),
        python, "-m", RUNNER, tool, "--data-dir", str(data), "--work-dir", str(work), *extra,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S, cwd=work.parent
        )
    except subprocess.TimeoutExpired:
        return {"tool": tool, "error": f"no result within {RUN_TIMEOUT_S} s"}
    (work.parent / f"{work.name}.log").write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("TRACKER-RESULT "):
            found = dict(json.loads(line.split(" ", 1)[1]))
            if "error" in found:  # what the tool itself logged as an error, for the table
                found["log_errors"] = [
                    line.strip()[:300]
                    for line in (done.stdout + done.stderr).splitlines()
                    if "ERROR" in line or "Error:" in line
                ][:3]
            return found
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
    return {"tool": tool, "error": f"runner exited {done.returncode}: {tail[0]}"}


def nipype_carbon_figures(carbon_dir: Path) -> dict[str, Any]:
    """nipype-carbon's own figures from its session, and its nodes' error against the truth."""
    from nipype_carbon.record.runs import session_files
    from nipype_carbon.report.model import build_report
    from testkit.scenario import errors

    sessions = session_files(carbon_dir / "dwi_carbon_example" / "carbon")
    report = build_report(sessions[-1])
    host = next(iter(report.result.hosts.values()))
    measured = host.measured_j
    carbon = sessions[-1].parent
    node_errors = {
        # as the run found its baseline (fitted, or the rated fallback on a busy host)
        "as found": errors(carbon),
        # as if run with cpu_baseline_w = the emulator's idle power (what `nipype-carbon
        # doctor --calibrate` measures on the quiet emulated host)
        f"calibrated {IDLE_W:g} W": errors(carbon, cpu_baseline_w=IDLE_W),
    }
    return {
        "energy_j": report.result.energy_j,
        "cpu_j": measured.get("cpu", 0.0),
        "ram_j": measured.get("dram", 0.0),
        "nodes_j": report.result.attributed_energy_j,
        "node_errors": node_errors,
        "method": report.how_obtained(),
        "baseline": {d: (w, host.baseline_method[d]) for d, w in host.baseline_power_w.items()},
    }


def run_case(
    case: str,
    tools: list[str],
    repeats: int,
    data: Path,
    scratch: Path,
    venv_dir: Path,
    results: list[dict[str, Any]],
    save: Callable[[], None],
    idle_s: float = 0.0,
) -> None:
    """``repeats`` rounds, each running every tool once, the order rotating per round; each
    run's result is appended to ``results`` and saved as it comes."""
    log = scratch / "venvs.log"
    for round_ in range(repeats):
        order = tools[round_ % len(tools) :] + tools[: round_ % len(tools)]
        for tool in order:
            work = scratch / f"{case}-{tool}-{round_}"
            shutil.rmtree(work, ignore_errors=True)  # a run of an earlier, interrupted attempt
            work.mkdir(parents=True)
            try:
                python = python_for(tool, venv_dir, log)
            except subprocess.CalledProcessError as err:
                results.append({"tool": tool, "case": case, "error": f"venv not made: {err}"})
                save()
                continue
            tree = scratch / f"powercap-{case}-{tool}-{round_}" if case != "model" else None
            extra = ("--idle-s", str(idle_s)) if case == "idle" else ()
            load_before = os.getloadavg()[0]
            print(
                f"[{time.strftime('%H:%M:%S')}] {case} round {round_ + 1}: {tool} "
                f"(load {load_before:.2f})",
                flush=True,
            )
            if tree is not None:
                with LoadFollowingPowercap(tree, IDLE_W, J_PER_CPU_S):
                    kernel_layout(tree)
                    found = run_one(tool, python, data, work, tree, extra)
            else:
                found = run_one(tool, python, data, work, None, extra)
            found["case"] = case
            found["load_1min_before"] = load_before
            if tool == "nipype-carbon" and "error" not in found and case != "idle":
                found.update(nipype_carbon_figures(Path(found["carbon_dir"])))
            results.append(found)
            save()
            shutil.rmtree(work / "work", ignore_errors=True)


def reproduce_command(args: argparse.Namespace) -> str:
    """The command that measures this again (without where this run kept its files)."""
    words = ["python -m benchmarks.trackers.compare"]
    if args.quick:
        words.append("--quick")
    else:
        words.append(f"--repeats {args.repeats}")
    if args.no_model:
        words.append("--no-model")
    elif args.model_repeats != 1:
        words.append(f"--model-repeats {args.model_repeats}")
    if args.idle_s != (5.0 if args.quick else 60.0):
        words.append(f"--idle-s {args.idle_s:g}")
    if args.tools != list(TOOL_INFO):
        words.append("--tools " + " ".join(args.tools))
    return " ".join([*words, "--write-docs"])


def machine() -> str:
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} logical CPUs ({cpu}), {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}; "
        f"load average {load:.2f} at start (the host is shared with other jobs)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model-repeats", type=int, default=1)
    p.add_argument("--tools", nargs="*", default=list(TOOL_INFO), choices=list(TOOL_INFO))
    p.add_argument("--quick", action="store_true", help="small (not upsampled) data, 1 repeat")
    p.add_argument("--no-model", action="store_true", help="skip the model-only case")
    p.add_argument(
        "--idle-s", type=float, default=None,
        help="each peer around a sleep this long: its own CPU (default 60, --quick 5; 0: skip)",
    )  # fmt: skip
    p.add_argument(
        "--idle-only", action="store_true",
        help="only the idle case, added to the results file given (--results)",
    )  # fmt: skip
    p.add_argument("--venv-dir", type=Path, default=DEFAULT_VENV_DIR)
    p.add_argument("--scratch", type=Path, help="keep runs here (default: a temporary dir)")
    p.add_argument("--results", type=Path, help="also write all results as JSON here")
    p.add_argument("--from-results", type=Path, help="render tables from a saved JSON")
    p.add_argument("--write-docs", action="store_true", help="rewrite docs/comparison.md")
    args = p.parse_args(argv)
    if args.idle_s is None:
        args.idle_s = 5.0 if args.quick else 60.0
    if args.idle_only and not args.results:
        p.error("--idle-only adds to the file given by --results")
    if not args.from_results and (os.geteuid() != 0 or shutil.which("unshare") is None):
        p.error("measuring needs root and unshare(1) (a private mount namespace per run)")
    saved = json.loads(args.from_results.read_text()) if args.from_results else measure(args)
    print()
    print(measured_table(saved["results"]))
    print()
    print(node_error_table(saved["results"]))
    print()
    print(model_table(saved["results"]))
    print()
    print(idle_table(saved["results"]))
    if args.write_docs:
        (ROOT / "docs" / "comparison.md").write_text(comparison_doc(saved))
        print("\nwrote docs/comparison.md")
    return 0


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from examples.dwi_pipeline.prepare_data import prepare

    started = time.time()
    scratch = Path(args.scratch or tempfile.mkdtemp(prefix="nipype-carbon-trackers-"))
    scratch.mkdir(parents=True, exist_ok=True)
    upsample = not args.quick
    repeats = 1 if args.quick else args.repeats
    data = scratch / "data"
    prepare(data, upsample=upsample)
    saved: dict[str, Any] = {
        "machine": machine(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "command": reproduce_command(args),
        "data": "upsampled (64x64x40x65 DWI)" if upsample else "small (10x10x10x65 DWI)",
        "repeats": repeats,
        "model_repeats": 0 if args.no_model else args.model_repeats,
        "truth": {"idle_w": IDLE_W, "j_per_cpu_s": J_PER_CPU_S},
        "common": {"intensity_g_per_kwh": COMMON_INTENSITY_G_PER_KWH, "pue": COMMON_PUE},
        "results": [],
        "complete": False,
    }
    if args.idle_only:  # add the idle case to an earlier run's results
        saved = json.loads(args.results.read_text())
        saved["results"] = [r for r in saved["results"] if r["case"] != "idle"]
        started -= saved.get("elapsed_s", 0.0)
        saved.setdefault("passes", [saved["command"]]).append(
            "python -m benchmarks.trackers.compare " + " ".join(sys.argv[1:])
        )
        saved["command"] = reproduce_command(args)

    def save() -> None:
        saved["elapsed_s"] = time.time() - started
        if args.results:
            args.results.write_text(json.dumps(saved, indent=1) + "\n")

    cases = [("rapl", repeats)] + ([] if args.no_model else [("model", args.model_repeats)])
    cases = [] if args.idle_only else cases
    for case, rounds in cases:
        run_case(case, args.tools, rounds, data, scratch, args.venv_dir, saved["results"], save)
    if args.idle_s:  # the peers' own CPU around a sleep (nipype-carbon meters nodes: none here)
        saved["idle_s"] = args.idle_s
        peers = [t for t in args.tools if t != "nipype-carbon"]
        run_case(
            "idle", peers, 1, data, scratch, args.venv_dir, saved["results"], save, args.idle_s
        )
    saved["complete"] = True
    save()
    if args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)
    return saved


if __name__ == "__main__":
    sys.exit(main())
