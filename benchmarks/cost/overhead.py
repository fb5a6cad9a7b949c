"""Overhead of metering: the same workflow under a base plugin and its Carbon variant.

Runs ``--pairs`` alternated pairs (base, carbon, base, carbon, ...) of a workflow
of ``--nodes`` independent nodes, each spending ``--node-cpu-s`` of CPU, plus a
command-line node; every run starts from an empty working directory so nothing
is cached. Prints the median wall-time ratio and the metering cost per node:
the meter's own latency around each node (start + stop, from the session) and
its sampler thread's CPU.

Also prints the cost per node: the median over pairs of (Carbon wall - base wall) / nodes,
everything the Carbon plugin adds (meter, spool, session, end summary). With
``--node-cpu-s 0`` and many nodes it is all cost (issue 9: at most 5 ms per node at 1,000
nodes under CarbonLinear). ``--startup`` prints instead what the start-up hook costs each
Python process (issue 10).

With ``--example`` it measures instead the fixed cost of a metered run (issue 18): the
README example (upsampled DWI, MultiProc), alternated pairs, each run in a fresh interpreter.

Usage::

    python -m benchmarks.cost.overhead [--plugin MultiProc] [--pairs 5] [--nodes 24]
    python -m benchmarks.cost.overhead --plugin Linear --nodes 1000 --node-cpu-s 0 --pairs 5
    python -m benchmarks.cost.overhead --startup
    python -m benchmarks.cost.overhead --example --pairs 4

Targets (issue 3): wall-time ratio at most 1.02, metering cost at most 5 ms per node.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nipype.pipeline.engine as pe
from nipype.interfaces.utility import Function

import nipype_carbon  # noqa: F401 - registers the Carbon plugins
from nipype_carbon import load_session


def burn(seconds):  # type: ignore[no-untyped-def]
    import time

    start = time.process_time()
    while time.process_time() - start < seconds:
        pass
    return seconds


def build(base_dir: Path, nodes: int, node_cpu_s: float) -> pe.Workflow:
    wf = pe.Workflow("overhead", base_dir=str(base_dir))
    wf.config["execution"]["poll_sleep_duration"] = 0.05
    for i in range(nodes):
        node = pe.Node(Function(["seconds"], ["out"], burn), name=f"n{i:03d}")
        node.inputs.seconds = node_cpu_s
        wf.add_nodes([node])
    return wf


def _cpu_s() -> float:
    """CPU seconds of this process and its reaped children (MultiProc's workers)."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def one_run(plugin: str, args: argparse.Namespace) -> tuple[float, float, Path]:
    """Wall and CPU seconds of one run, and its working directory."""
    work = Path(tempfile.mkdtemp(prefix="overhead-", dir=args.work_dir))
    wf = build(work, args.nodes, args.node_cpu_s)
    cpu, start = _cpu_s(), time.perf_counter()
    wf.run(plugin=plugin, plugin_args={"n_procs": args.n_procs})
    return time.perf_counter() - start, _cpu_s() - cpu, work


def startup_cost(repeats: int) -> int:
    """What the start-up hook costs each Python process (issue 10): import time of
    ``nipype_carbon.startup`` in fresh interpreters, by ``-X importtime`` (modules the
    interpreter had loaded anyway cost nothing), plain and under ``nipype-carbon run``."""
    import os
    import subprocess

    repo = str(Path(__file__).resolve().parents[2])
    env = {k: v for k, v in os.environ.items() if not k.startswith("NIPYPE_CARBON_")}
    env["PYTHONPATH"] = repo
    for label, extra in (("plain (plugin names)", {}), ("under run", {"NIPYPE_CARBON_RUN": "1"})):
        costs, loaded = [], set()
        for _ in range(repeats):
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-c",
                 "import nipype_carbon.startup, sys; print(*sorted(sys.modules), sep='\\n')"],
                env={**env, **extra}, capture_output=True, text=True, check=True, cwd=repo,
            )  # fmt: skip
            for line in proc.stderr.splitlines():
                parts = [p.strip() for p in line.split("|")]
                if len(parts) == 3 and parts[2] == "nipype_carbon.startup":
                    costs.append(int(parts[1]) / 1e3)  # cumulative microseconds -> ms
            loaded = set(proc.stdout.split())
        heavy = sorted({m.split(".")[0] for m in loaded} & {"nipype", "pydra", "pandas", "numpy"})
        print(
            f"start-up hook, {label}: median {statistics.median(costs):.2f} ms "
            f"(min {min(costs):.2f}, max {max(costs):.2f}; {repeats} fresh interpreters); "
            f"heavy modules loaded: {', '.join(heavy) or 'none'}"
        )
    return 0


def example_run(plugin: str, data: Path, base: Path, n_procs: int) -> None:
    """One run of the README example in this (fresh) process; prints its wall seconds."""
    import logging

    from examples.dwi_pipeline.run import configure, plugin_args_for
    from examples.dwi_pipeline.workflow import build_workflow

    logging.getLogger("nipype.workflow").setLevel(logging.WARNING)
    wf = build_workflow(data, base / "work", nthreads=1)
    args = plugin_args_for(plugin, n_procs, {})
    configure(wf, base, args)
    start = time.perf_counter()
    wf.run(plugin=plugin, plugin_args=args)
    print(f"EXAMPLE-WALL {time.perf_counter() - start:.4f}")


def example_pairs(args: argparse.Namespace) -> int:
    """The fixed cost of a metered run (issue 18): the README example (upsampled DWI,
    MultiProc, ``--n-procs``) run by alternated pairs, each run in a fresh interpreter from
    an empty working directory; the wall time of ``Workflow.run`` and the CPU time of the
    whole process and its workers (``RUSAGE_CHILDREN`` of this one)."""
    import subprocess

    from examples.dwi_pipeline.prepare_data import prepare

    root = Path(__file__).resolve().parents[2]
    scratch = Path(tempfile.mkdtemp(prefix="overhead-example-", dir=args.work_dir))
    data = scratch / "data"
    prepare(data, upsample=True)
    walls: dict[str, list[float]] = {"MultiProc": [], "CarbonMultiProc": []}
    cpus: dict[str, list[float]] = {"MultiProc": [], "CarbonMultiProc": []}
    for pair in range(args.pairs):
        order = ["MultiProc", "CarbonMultiProc"]
        if pair % 2:
            order.reverse()
        for plugin in order:
            base = scratch / f"run-{pair}-{plugin}"
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.cost.overhead", "--example-run", plugin,
                 str(data), str(base), "--n-procs", str(args.n_procs)],
                cwd=root, capture_output=True, text=True, check=True,
            )  # fmt: skip
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            wall = float(done.stdout.split("EXAMPLE-WALL ")[1].split()[0])
            cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
            walls[plugin].append(wall)
            cpus[plugin].append(cpu)
            shutil.rmtree(base, ignore_errors=True)
        print(
            f"pair {pair + 1}: MultiProc {walls['MultiProc'][-1]:.2f} s "
            f"({cpus['MultiProc'][-1]:.2f} CPU-s), CarbonMultiProc "
            f"{walls['CarbonMultiProc'][-1]:.2f} s ({cpus['CarbonMultiProc'][-1]:.2f} CPU-s)",
            flush=True,
        )
    shutil.rmtree(scratch, ignore_errors=True)
    wall_ratios = [c / b for b, c in zip(walls["MultiProc"], walls["CarbonMultiProc"], strict=True)]
    cpu_ratios = [c / b for b, c in zip(cpus["MultiProc"], cpus["CarbonMultiProc"], strict=True)]
    extra = [c - b for b, c in zip(walls["MultiProc"], walls["CarbonMultiProc"], strict=True)]
    print(
        f"\nREADME example (upsampled), n_procs={args.n_procs}, {args.pairs} alternated pairs, "
        "each run in a fresh interpreter"
    )
    print(
        f"median Workflow.run wall time: MultiProc {statistics.median(walls['MultiProc']):.2f} s, "
        f"CarbonMultiProc {statistics.median(walls['CarbonMultiProc']):.2f} s"
    )
    print(
        f"median wall-time ratio Carbon/base: {statistics.median(wall_ratios):.4f} "
        f"(min {min(wall_ratios):.4f}, max {max(wall_ratios):.4f}); "
        f"median extra {statistics.median(extra):.2f} s"
    )
    print(
        f"median CPU-time ratio Carbon/base (the process and its workers): "
        f"{statistics.median(cpu_ratios):.4f} "
        f"(min {min(cpu_ratios):.4f}, max {max(cpu_ratios):.4f})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--startup", action="store_true", help="print the start-up hook's cost and stop"
    )
    parser.add_argument("--plugin", default="MultiProc")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--nodes", type=int, default=24)
    parser.add_argument("--node-cpu-s", type=float, default=0.5)
    parser.add_argument("--n-procs", type=int, default=2)
    parser.add_argument(
        "--work-dir",
        default=None,
        help="where the runs' working directories go (default: the system's temporary "
        "folder); /dev/shm takes the disk's noise out of the metering cost",
    )
    parser.add_argument(
        "--example",
        action="store_true",
        help="the fixed cost instead: the README example (upsampled) by alternated pairs",
    )
    parser.add_argument("--example-run", nargs=3, metavar=("PLUGIN", "DATA", "BASE"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args(argv)
    if args.example_run:
        plugin, data, base = args.example_run
        example_run(plugin, Path(data), Path(base), args.n_procs)
        return 0
    if args.example:
        return example_pairs(args)
    if args.startup:
        return startup_cost(max(3, args.pairs * 3))
    import logging

    logging.getLogger("nipype.workflow").setLevel(logging.WARNING)
    base_walls, carbon_walls, meter_wall, meter_cpu = [], [], [], []
    base_cpu, carbon_cpu = [], []
    for pair in range(args.pairs):
        order = [args.plugin, f"Carbon{args.plugin}"]
        if pair % 2:
            order.reverse()  # alternate who goes first
        for plugin in order:
            wall, cpu, work = one_run(plugin, args)
            if plugin.startswith("Carbon"):
                carbon_walls.append(wall)
                carbon_cpu.append(cpu)
                session = load_session(work / "overhead" / "carbon")
                for record in session.nodes.values():
                    if record.measurement and "meter_wall_s" in record.extra:
                        meter_wall.append(record.extra["meter_wall_s"])
                        meter_cpu.append(record.measurement["meter_cpu_s"])
            else:
                base_walls.append(wall)
                base_cpu.append(cpu)
            shutil.rmtree(work, ignore_errors=True)
        print(
            f"pair {pair + 1}: {args.plugin} {base_walls[-1]:.3f} s, "
            f"Carbon{args.plugin} {carbon_walls[-1]:.3f} s",
            flush=True,
        )
    ratios = [c / b for b, c in zip(base_walls, carbon_walls, strict=True)]
    per_node = [(c - b) / args.nodes for b, c in zip(base_walls, carbon_walls, strict=True)]
    cpu_per_node = [(c - b) / args.nodes for b, c in zip(base_cpu, carbon_cpu, strict=True)]
    print(
        f"\nworkflow: {args.nodes} nodes x {args.node_cpu_s} CPU-s, n_procs={args.n_procs}, "
        f"{args.pairs} alternated pairs"
    )
    print(
        f"median wall time: {args.plugin} {statistics.median(base_walls):.3f} s, "
        f"Carbon{args.plugin} {statistics.median(carbon_walls):.3f} s"
    )
    print(
        f"median wall-time ratio Carbon/base: {statistics.median(ratios):.4f} "
        f"(min {min(ratios):.4f}, max {max(ratios):.4f})"
    )
    print(
        f"cost per node (Carbon - base wall time, over {args.nodes} nodes): median "
        f"{1e3 * statistics.median(per_node):.2f} ms "
        f"(min {1e3 * min(per_node):.2f}, max {1e3 * max(per_node):.2f})"
    )
    print(
        f"CPU per node (Carbon - base CPU time, this process and its workers): median "
        f"{1e3 * statistics.median(cpu_per_node):.2f} ms "
        f"(min {1e3 * min(cpu_per_node):.2f}, max {1e3 * max(cpu_per_node):.2f})"
    )
    p95 = sorted(meter_wall)[int(0.95 * (len(meter_wall) - 1))]
    print(
        f"metering latency per node (start + stop): median "
        f"{1e3 * statistics.median(meter_wall):.2f} ms, p95 {1e3 * p95:.2f} ms"
    )
    print(f"sampler CPU per node: median {1e3 * statistics.median(meter_cpu):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
