"""How long each renderer takes on a 10,000-node session; prints seconds per step.

The session is synthetic and built through the public API (``Session``,
``NodeRecord``, ``HostRecord``, ``Measurement``): a cohort of subjects run on a
few hosts of eight slots each, each subject a chain of steps with two MapNodes,
edges between steps, a scheduler record, a RAPL-like CPU counter that follows
the hosts' busy CPU time, modelled memory power and, on the first host, a GPU.

Targets (issue 4): tables, hotspots and HTML within 5 s; the graph within 15 s.

With ``--concurrency 8 64 1000`` it measures instead how the report's memory grows
with how many nodes ran at once: for each level, a session of ``--session-mb`` (one
host, the nodes in waves of that many, each sampled every second for as long as the
session's size allows) is written by one process, and ``nipype-carbon report`` (the
console table, then the HTML page) runs on it in a fresh process, which prints its
seconds and peak resident memory (``ru_maxrss``).

Target (issue 9): a 120 MB session with 1,000 nodes at once within 1 GB and 60 s.

Usage::

    python -m benchmarks.cost.report_scale [--nodes 10000] [--hosts 4] [--profile]
    python -m benchmarks.cost.report_scale --concurrency 8 64 1000 [--session-mb 120]
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import io
import itertools
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from nipype_carbon.measure.measurement import Measurement
from nipype_carbon.record.reader import load_session
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from nipype_carbon.report import build_report
from nipype_carbon.report.model import Report, node_frame
from testkit.sessions import SyntheticHost

T0 = 1.8e9
MEMORY_B = 64 * 1024**3
SLOTS = 8
SAMPLE_S = 5.0
#: (step, interface, function, MapNode children)
STEPS = [
    ("skullstrip", "nipype.interfaces.fsl.preprocess.BET", "", 0),
    ("denoise", "nipype.interfaces.mrtrix3.preprocess.DWIDenoise", "", 0),
    ("motion", "nipype.interfaces.fsl.preprocess.MCFLIRT", "", 8),
    ("tensor", "nipype.interfaces.utility.wrappers.Function", "dipy_tensor_fa", 0),
    ("metrics", "nipype.interfaces.mrtrix3.utils.TensorMetrics", "", 4),
    ("summary", "nipype.interfaces.utility.wrappers.Function", "summarise", 0),
]


def synthetic_host(name: str, gpu: bool) -> SyntheticHost:
    """A host of eight slots: a RAPL-like package counter, modelled memory, maybe a GPU."""
    return SyntheticHost(
        name, idle_w=40.0, j_per_cpu_s=9.0, dram_w=24.0, wrap_j=262143.0, t0=T0,
        cpu_domain="rapl:package-0", dram_domain="model:dram",
        gpu_domain="nvml:gpu0" if gpu else None, memory_b=MEMORY_B, logical_cpus=SLOTS,
        cpu_model="Synth", baseline_w=40.0,
    )  # fmt: skip


def plan(n_nodes: int, n_hosts: int, seed: int) -> list[dict[str, Any]]:
    """Tasks (and MapNode containers) with host, start and end, in dependency order."""
    rng = np.random.default_rng(seed)
    slots = [(T0, h, s) for h in range(n_hosts) for s in range(SLOTS)]
    heapq.heapify(slots)
    tasks: list[dict[str, Any]] = []
    subject = 0
    while len(tasks) < n_nodes - 1:
        ready = T0
        for step, interface, function, children in STEPS:
            name = f"cohort.sub-{subject:05d}.{step}"
            parts = [f"{name}._{step}{i}" for i in range(children)] or [name]
            ends = []
            for part in parts:
                free, host, slot = heapq.heappop(slots)
                start = max(free, ready) + rng.uniform(0.05, 0.5)
                end = start + float(rng.lognormal(2.5, 0.8))
                heapq.heappush(slots, (end, host, slot))
                parent = name if children else ""
                tasks.append(_task(part, interface, function, host, start, end, parent, rng))
                ends.append(end)
            if children:
                first = min(t["start"] for t in tasks[-children:])
                tasks.append(_task(name, interface, function, 0, first, max(ends), "", rng))
                tasks[-1]["container"] = True
            ready = max(ends)
        subject += 1
    return tasks[: n_nodes - 1]


def _task(name: str, interface: str, function: str, host: int, start: float, end: float,
          parent: str, rng: np.random.Generator) -> dict[str, Any]:  # fmt: skip
    return {
        "name": name, "interface": interface, "function": function, "host": f"node{host:02d}",
        "start": start, "end": end, "parent": parent, "rate": float(rng.uniform(0.3, 1.0)),
        "container": False,
    }  # fmt: skip


def busy_function(tasks: list[dict[str, Any]]) -> Callable[[np.ndarray], np.ndarray]:
    """Cumulative busy CPU seconds of a host: piecewise linear, exact at every breakpoint."""
    times = np.array([t["start"] for t in tasks] + [t["end"] for t in tasks])
    rates = np.array([t["rate"] for t in tasks] + [-t["rate"] for t in tasks])
    order = np.argsort(times, kind="stable")
    times, slope = times[order], np.cumsum(rates[order])
    busy = np.concatenate([[0.0], np.cumsum(slope[:-1] * np.diff(times))])
    return lambda t: np.interp(t, times, busy)


def measurement(task: dict[str, Any], host: SyntheticHost, busy: Callable[..., np.ndarray]) -> Any:
    n = int(np.clip((task["end"] - task["start"]) / SAMPLE_S, 2, 60))
    t = np.linspace(task["start"], task["end"], n)
    cpu = task["rate"] * (t - task["start"])
    return host.measurement(t, cpu, busy(t), rss_b=5e8, sample_interval_s=SAMPLE_S, gpu_w=_gpu_w)


def _gpu_w(t: np.ndarray) -> np.ndarray:
    """A GPU drawing 35 W, and 95 W a third of the time."""
    return 35.0 + 60.0 * (np.sin((t - T0) / 300.0) > 0.5)


def build_large_session(n_nodes: int = 10_000, n_hosts: int = 4, seed: int = 0) -> Session:
    """A synthetic run of ``n_nodes`` records (scheduler included) on ``n_hosts`` hosts."""
    tasks = plan(n_nodes, n_hosts, seed)
    hosts = {f"node{h:02d}": synthetic_host(f"node{h:02d}", gpu=h == 0) for h in range(n_hosts)}
    session = Session(metadata={"workflow": "cohort", "engine": "synthetic"})
    for host in hosts.values():
        session.add_host(host.record())
    work = [t for t in tasks if not t["container"]]
    busy = {h: busy_function([t for t in work if t["host"] == h]) for h in hosts}
    for task in tasks:
        extra: dict[str, Any] = {"n_procs": 1, "function": task["function"]}
        if task["container"]:
            record = NodeRecord(task["name"], "ran", task["start"], task["end"], task["host"])
            extra["mapnode"] = True
        else:
            m = measurement(task, hosts[task["host"]], busy[task["host"]])
            record = NodeRecord.from_measurement(task["name"], m)
            extra["mapnode_parent"] = task["parent"]
        record.interface, record.extra = task["interface"], extra
        record.workflow = task["name"].rsplit(".", 1)[0] if not task["parent"] else ""
        session.add_node(record)
    session.add_node(scheduler(work, hosts["node00"], busy["node00"]))
    session.add_edges(_edges(tasks))
    return session


def scheduler(work: list[dict[str, Any]], host: SyntheticHost, busy: Any) -> NodeRecord:
    start, end = min(t["start"] for t in work) - 1.0, max(t["end"] for t in work) + 1.0
    task = _task(
        "cohort.(scheduler)", "MultiProcPlugin", "", 0, start, end, "", np.random.default_rng()
    )
    task["rate"] = 0.05
    record = NodeRecord.from_measurement(task["name"], measurement(task, host, busy))
    record.interface, record.extra = (
        "nipype.pipeline.plugins.multiproc.MultiProcPlugin",
        {"kind": "orchestration"},
    )
    return record


def _edges(tasks: list[dict[str, Any]]) -> list[tuple[str, str]]:
    tops = [t["name"] for t in tasks if not t["parent"]]
    return [(a, b) for a, b in itertools.pairwise(tops) if a.split(".")[1] == b.split(".")[1]]


def timed(label: str, fn: Callable[[], Any], results: dict[str, float]) -> Any:
    start = time.perf_counter()
    value = fn()
    results[label] = time.perf_counter() - start
    print(f"{label:<34} {results[label]:8.3f} s", flush=True)
    return value


def run(n_nodes: int, n_hosts: int) -> dict[str, float]:
    results: dict[str, float] = {}
    session = timed("synthetic session (setup)", lambda: build_large_session(n_nodes, n_hosts), {})
    print(f"  {len(session.nodes):,} nodes, {len(session.hosts)} hosts, {len(session.edges)} edges")
    with tempfile.TemporaryDirectory() as tmp:
        path = session.save(Path(tmp) / "session.jsonl")
        print(f"  session file {path.stat().st_size / 1e6:.1f} MB")
        timed("load_session", lambda: load_session(path), results)
    report: Report = timed("build_report", lambda: build_report(session, region="GB"), results)
    timed("node table (node_frame)", lambda: node_frame(report), results)
    timed("interface table", report.interfaces, results)
    _optional_steps(report, results)
    timed("CSV (nodes.to_csv)", lambda: report.nodes.to_csv(index=False), results)
    timed("JSON (totals + nodes)", lambda: _json(report), results)
    from nipype_carbon.report.power_timeline import timeline_svg

    svg = timed("timeline SVG", lambda: timeline_svg(report), results)
    print(f"  timeline {len(svg) / 1e3:.0f} kB")
    from nipype_carbon.report.html import render_html

    page = timed("HTML (render_html)", lambda: render_html(report), results)
    print(f"  html {len(page) / 1e6:.2f} MB")
    _graph(report, results)
    return results


def _json(report: Report) -> str:
    nodes = json.loads(report.nodes.to_json(orient="records"))
    return json.dumps({"totals": report.totals.to_dict(), "nodes": nodes})


def _optional_steps(report: Report, results: dict[str, float]) -> None:
    try:
        from nipype_carbon.report.hotspots import advise, top_nodes
    except ImportError as err:
        print(f"hotspots: not available ({err})")
        return
    timed("hotspots (top_nodes + advise)", lambda: (top_nodes(report, 20), advise(report)), results)


def _graph(report: Report, results: dict[str, float]) -> None:
    try:
        from nipype_carbon.report.graphviz import render_graph
    except ImportError as err:
        print(f"graph: not available ({err})")
        return
    try:
        svg = timed("graph SVG (render_graph)", lambda: render_graph(report, fmt="svg"), results)
        print(f"  graph {len(svg) / 1e3:.0f} kB")
    except Exception as err:  # graphviz missing or failing: say so, keep the other figures
        print(f"graph: failed ({type(err).__name__}: {err})")


def profile_build_report(n_nodes: int, n_hosts: int, top: int = 15) -> None:
    """Where build_report spends its time, by function (cumulative)."""
    session = build_large_session(n_nodes, n_hosts)
    profiler = cProfile.Profile()
    profiler.runcall(build_report, session, region="GB")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    print(out.getvalue())


#: bytes a one-second sample takes in a session file (t, CPU, memory, host CPU, two domains)
SAMPLE_BYTES = 106
#: nodes in a concurrency session, whatever the level (the level sets the waves)
CONCURRENT_NODES = 1000


def build_concurrent_session(
    concurrency: int, session_mb: float, sample_s: float = 1.0, seed: int = 0
) -> Session:
    """One host, ``CONCURRENT_NODES`` nodes in waves of ``concurrency``, sampled every
    ``sample_s`` (the default setting: 1 s).

    Every node of a wave starts within a second of the others and runs as long as the
    session's size allows (its samples fill ``session_mb`` together).
    """
    rng = np.random.default_rng(seed)
    n_nodes = max(CONCURRENT_NODES, concurrency)
    samples = max(int(session_mb * 1e6 / SAMPLE_BYTES / n_nodes), 2)
    host = synthetic_host("node00", gpu=False)
    tasks = []
    for i in range(n_nodes):
        wave = i // concurrency
        start = T0 + wave * (samples + 1.0) * sample_s + float(rng.uniform(0.0, 1.0))
        end = start + (samples - 1.0) * sample_s
        tasks.append(_task(f"wave.n{i:05d}", "Function", "burn", 0, start, end, "", rng))
    busy = busy_function(tasks)
    session = Session(metadata={"workflow": "wave", "engine": "synthetic"})
    session.add_host(host.record())
    for task in tasks:
        m = _samples(task, host, busy, samples, sample_s)
        record = NodeRecord.from_measurement(task["name"], m)
        record.interface, record.extra = task["interface"], {"n_procs": 1}
        session.add_node(record)
    session.add_node(scheduler(tasks, host, busy))
    return session


def _samples(
    task: dict[str, Any], host: SyntheticHost, busy: Any, n: int, sample_s: float
) -> Measurement:
    t = task["start"] + sample_s * np.arange(n, dtype=float)
    cpu = task["rate"] * (t - task["start"])
    return host.measurement(t, cpu, busy(t), rss_b=5e8, sample_interval_s=sample_s)


def concurrency_case(
    concurrency: int, session_mb: float, sample_s: float, folder: Path
) -> dict[str, float]:
    """Write the session in one process, report it in another; the report's figures."""
    path = folder / f"session-c{concurrency}.jsonl"
    here = ["-m", __spec__.name if __spec__ else "benchmarks.cost.report_scale"]
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, *here, "--write-session", str(path), "--concurrency", str(concurrency),
         "--session-mb", str(session_mb), "--sample-s", str(sample_s)], check=True, cwd=root,
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, *here, "--report-session", str(path)],
        check=True, capture_output=True, text=True, cwd=root,
    )  # fmt: skip
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    figures["session_mb"] = path.stat().st_size / 1e6
    path.unlink()
    return figures


def report_session(path: str) -> None:
    """``nipype-carbon report`` twice (console, HTML) in this process; print seconds, peak MB."""
    from contextlib import redirect_stdout

    from nipype_carbon.cli.report import main as report_main

    start = time.perf_counter()
    with redirect_stdout(io.StringIO()):
        report_main([path])
    console_s = time.perf_counter() - start
    html = path + ".html"
    with redirect_stdout(io.StringIO()):
        report_main([path, "-o", html])
    html_s = time.perf_counter() - start - console_s
    os.unlink(html)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"console_s": console_s, "html_s": html_s, "peak_mb": peak_mb}))


def run_concurrency(levels: list[int], session_mb: float, sample_s: float) -> list[str]:
    """Each level's figures; the levels over target (1 GB, 60 s) at 120 MB or less."""
    over = []
    print(f"{'at once':>8} {'session':>10} {'console':>9} {'HTML':>9} {'peak RSS':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            f = concurrency_case(level, session_mb, sample_s, Path(tmp))
            print(
                f"{level:>8,} {f['session_mb']:>7.1f} MB {f['console_s']:>7.2f} s "
                f"{f['html_s']:>7.2f} s {f['peak_mb']:>7.0f} MB",
                flush=True,
            )
            if f["peak_mb"] > 1024 or f["console_s"] > 60 or f["html_s"] > 60:
                over.append(f"{level} at once")
    return over


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nodes", type=int, default=10_000)
    p.add_argument("--hosts", type=int, default=4)
    p.add_argument("--profile", action="store_true", help="profile build_report")
    p.add_argument("--concurrency", type=int, nargs="+", help="nodes at once, e.g. 8 64 1000")
    p.add_argument("--session-mb", type=float, default=120.0)
    p.add_argument("--sample-s", type=float, default=1.0, help="the nodes' sample interval")
    p.add_argument("--write-session", help=argparse.SUPPRESS)
    p.add_argument("--report-session", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.write_session:
        session = build_concurrent_session(args.concurrency[0], args.session_mb, args.sample_s)
        session.save(args.write_session)
        return 0
    if args.report_session:
        report_session(args.report_session)
        return 0
    if args.concurrency:
        over = run_concurrency(args.concurrency, args.session_mb, args.sample_s)
        print("targets met" if not over else f"over target: {', '.join(over)}")
        return 0
    results = run(args.nodes, args.hosts)
    fast = ["node table (node_frame)", "interface table", "hotspots (top_nodes + advise)"]
    fast += ["HTML (render_html)", "timeline SVG"]
    slow = [k for k in fast if results.get(k, 0.0) > 5.0]
    if results.get("graph SVG (render_graph)", 0.0) > 15.0:
        slow.append("graph SVG (render_graph)")
    print("targets met" if not slow else f"over target: {', '.join(slow)}")
    if args.profile:
        profile_build_report(args.nodes, args.hosts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
