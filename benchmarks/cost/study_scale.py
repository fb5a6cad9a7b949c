"""How long ``nipype-carbon study`` takes, first and second call; prints seconds and peak memory.

The sessions are synthetic and built through the public API (``Session``,
``NodeRecord.from_measurement``, :class:`testkit.sessions.SyntheticHost`), each shaped
like an fMRIPrep subject: ~600 records (560 steps in six sub-workflows of
``fmriprep_wf.single_subject_<label>_wf``, eight of them MapNodes of five children), some
reserving 4 or 8 cores and ``mem_gb``, three failed and a dozen cached (zero-length), run
on one host of 16 cores by a FIFO scheduler that honours ``n_procs``, so that a run lasts
about 6 h of wall time; a scheduler record (kind "orchestration") spans the run, and the
run ends with an ``end`` event. Every run is another subject, so the study aligns its
steps across runs by name.

1. **First pass** (the costly part: :func:`~nipype_carbon.study.summary.summarise`
   attributes every raw sample with the report's model): ``--full-runs`` sessions at full
   size, every node sampled each second (a node of 1 h holds 3,600 samples), each summed
   up in a fresh process that prints its seconds and peak resident memory.
2. **Second call** over ``--runs`` runs: ``nipype-carbon study`` in a fresh process (the
   console page) with ``XDG_CACHE_HOME`` pointing at a store filled by a first
   :func:`~nipype_carbon.study.build.build_study` call; its wall time (interpreter start
   and imports included) and peak RSS (``ru_maxrss`` of that one child, by ``wait4``),
   and the in-process ``build_study`` time.
3. **Memory against runs**: the same second call at each of ``--levels`` runs.

Two thousand full 6-h sessions would take about 60 GB and hours to write and sum up,
so the runs of 2 and 3 are sessions of the same shape (the same ~600 nodes, steps,
statuses and times) with ``--light-samples`` samples a node. A second call reads only
the stored summaries (each run's totals and its steps), never a sample, so its cost
depends on the number of runs and steps, not on how many samples the sessions hold; the
first pass over them (also printed) is therefore far cheaper than that of part 1.

Targets (issue 20): a second call over 2,000 runs within 5 s (on a 2-core machine) and
1 GB; its memory not growing with the number of runs.

Usage::

    python -m benchmarks.cost.study_scale [--runs 2000] [--full-runs 3]
        [--levels 500 1000 2000] [--keep DIR] [--profile]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import heapq
import io
import json
import os
import pstats
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cost.report_scale import busy_function
from nipype_carbon.files.safe import private_dir
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from testkit.sessions import SyntheticHost

T0 = 1.8e9
GIB = 1024**3
CORES = 16
RUN_S = 6 * 3600.0
#: where the benchmark's temporary data go (removed at the end, unless --keep)
TMP_ROOT = Path("/tmp/study_bench")
#: (sub-workflow, steps, median seconds of a step)
WORKFLOWS = [
    ("anat_preproc_wf", 140, 90.0),
    ("surface_recon_wf", 20, 900.0),
    ("func_preproc_task_rest_run_1_wf", 100, 60.0),
    ("func_preproc_task_rest_run_2_wf", 100, 60.0),
    ("func_preproc_task_nback_run_1_wf", 100, 60.0),
    ("func_preproc_task_nback_run_2_wf", 100, 60.0),
]
INTERFACES = [
    "nipype.interfaces.ants.registration.Registration",
    "nipype.interfaces.ants.resampling.ApplyTransforms",
    "nipype.interfaces.fsl.preprocess.MCFLIRT",
    "nipype.interfaces.fsl.maths.ApplyMask",
    "nipype.interfaces.afni.preprocess.Volreg",
    "nipype.interfaces.freesurfer.preprocess.ReconAll",
    "nipype.interfaces.utility.wrappers.Function",
    "niworkflows.interfaces.bids.DerivativesDataSink",
]
MAPNODES, CHILDREN = 8, 5
FAILED, CACHED = 3, 12


def synthetic_host(name: str) -> SyntheticHost:
    """A host of 16 cores: a RAPL-like package counter, modelled memory."""
    return SyntheticHost(
        name, idle_w=60.0, j_per_cpu_s=8.0, dram_w=20.0, wrap_j=262143.0, t0=T0,
        cpu_domain="rapl:package-0", dram_domain="model:dram", memory_b=64 * GIB,
        logical_cpus=CORES, cpu_model="Synth", baseline_w=60.0,
    )  # fmt: skip


@functools.cache
def shape() -> list[dict[str, Any]]:
    """The steps every run has, in order (seed 0): name, interface, median seconds,
    reservation, MapNode children, the step it waits for."""
    rng = np.random.default_rng(0)
    steps: list[dict[str, Any]] = []
    firsts: dict[str, int] = {}
    for workflow, count, median in WORKFLOWS:
        firsts[workflow] = len(steps)
        for k in range(count):
            procs = int(rng.choice([1, 4, 8], p=[0.85, 0.10, 0.05]))
            mem_gb = float(rng.uniform(1.0, 8.0)) if procs > 1 or rng.random() < 0.3 else 0.0
            if k:
                after = len(steps) - 1 - int(rng.integers(0, min(k, 6)))
            elif workflow == "anat_preproc_wf":
                after = -1
            else:  # the functional and surface workflows wait for the brain mask
                after = firsts["anat_preproc_wf"] + 20
            steps.append(
                {
                    "name": f"{workflow}.step_{k:03d}",
                    "interface": INTERFACES[int(rng.integers(len(INTERFACES)))],
                    "median_s": median * float(rng.lognormal(0.0, 1.0)),
                    "n_procs": procs,
                    "mem_gb": mem_gb,
                    "children": 0,
                    "after": after,
                }
            )
    for i in rng.choice(len(steps), MAPNODES, replace=False):
        steps[int(i)]["children"] = CHILDREN
        steps[int(i)]["n_procs"] = 1
    return steps


def plan(run: int) -> list[dict[str, Any]]:
    """The run's tasks (MapNode containers after their children), times scaled so the run
    lasts about 6 h: FIFO on 16 cores, each task holding its ``n_procs``."""
    rng = np.random.default_rng(1000 + run)
    steps = shape()
    label = f"{run + 1:04d}"
    pace = float(rng.lognormal(0.0, 0.15))  # this subject is slower or quicker than most
    singles = [i for i, s in enumerate(steps) if not s["children"]]
    failed = set(rng.choice(singles, FAILED, replace=False).tolist())
    cached = set(rng.choice(sorted(set(singles) - failed), CACHED, replace=False).tolist())
    start = T0 + run * 600.0
    dependents: dict[int, list[int]] = {}
    for i, s in enumerate(steps):
        dependents.setdefault(s["after"], []).append(i)
    tasks: list[dict[str, Any]] = []
    ends: dict[int, float] = {}
    left: dict[int, int] = {}
    running: list[tuple[float, int]] = []  # (end, cores) of tasks started
    free, last_start = CORES, start
    ready = [(start, i, -1) for i in dependents[-1]]
    heapq.heapify(ready)
    while ready:
        at, i, part = heapq.heappop(ready)
        step = steps[i]
        name = f"fmriprep_wf.single_subject_{label}_wf.{step['name']}"
        if part == -1 and step["children"]:  # a MapNode: its children become ready
            left[i] = step["children"]
            for k in range(step["children"]):
                heapq.heappush(ready, (at, i, k))
            continue
        procs = step["n_procs"]
        t = max(at, last_start)
        while free < procs or (running and running[0][0] <= t):
            end, cores = heapq.heappop(running)
            t, free = max(t, end), free + cores
        status = "cached" if i in cached else "failed" if i in failed else "ran"
        duration = (
            0.0 if status == "cached" else step["median_s"] * pace * float(rng.lognormal(0, 0.3))
        )
        end = t + duration
        if duration > 0:
            heapq.heappush(running, (end, procs))
            free -= procs
        last_start = t
        limit = float(procs) * (1.0 if procs == 1 else 0.95)
        task = {
            "name": name if part == -1 else f"{name}._{step['name'].rsplit('.', 1)[1]}{part}",
            "interface": step["interface"], "status": status, "start": t, "end": end,
            "n_procs": procs, "mem_gb": step["mem_gb"], "parent": name if part >= 0 else "",
            "rate": float(rng.uniform(0.3 * procs if procs == 1 else 0.25 * procs, limit)),
            "rss_b": GIB * (step["mem_gb"] * float(rng.uniform(0.3, 0.9))
                            or float(rng.uniform(0.2, 2.0))),
            "container": False,
        }  # fmt: skip
        tasks.append(task)
        ends[i] = max(ends.get(i, end), end)
        if part >= 0:
            left[i] -= 1
            if left[i]:
                continue
            children = [t for t in tasks if t["parent"] == name]
            tasks.append(
                {**children[0], "name": name, "parent": "", "container": True,
                 "start": min(c["start"] for c in children), "end": ends[i]}
            )  # fmt: skip
        for j in dependents.get(i, []):
            heapq.heappush(ready, (ends[i], j, -1))
    scale = RUN_S * pace / (max(t["end"] for t in tasks) - start)
    for task in tasks:
        task["start"] = start + (task["start"] - start) * scale
        task["end"] = start + (task["end"] - start) * scale
    return tasks


def build_run(run: int, samples: int | None = None) -> Session:
    """A run of :func:`plan`: every node sampled each second (``samples`` None), or
    ``samples`` times over its duration."""
    tasks = plan(run)
    host = synthetic_host(f"node{run % 20:02d}")
    work = [t for t in tasks if not t["container"] and t["status"] != "cached"]
    busy = busy_function(work)
    t0 = min(t["start"] for t in work)
    session = Session(metadata={"start": t0, "workflow": "fmriprep_wf", "engine": "nipype"})
    session.add_host(host.record())
    for task in tasks:
        extra: dict[str, Any] = {"n_procs": task["n_procs"]}
        if task["mem_gb"]:
            extra["mem_gb"] = task["mem_gb"]
        workflow = task["name"].rsplit(".", 1)[0]
        if task["container"]:
            record = NodeRecord(task["name"], "ran", task["start"], task["end"], host.name)
            extra["mapnode"] = True
        elif task["status"] == "cached":
            record = NodeRecord(task["name"], "cached", task["start"], task["start"], host.name)
            extra["found_by"] = "scheduler"
        else:
            m = _measurement(task, host, busy, samples)
            record = NodeRecord.from_measurement(task["name"], m, status=task["status"])
            if task["status"] == "failed":
                record.error = "CalledProcessError: returned non-zero exit status 1"
        if task["parent"]:
            extra["mapnode_parent"] = task["parent"]
            workflow = ""
        record.interface, record.workflow, record.extra = task["interface"], workflow, extra
        session.add_node(record)
    end = max(t["end"] for t in tasks) + 2.0
    sched = {"start": t0 - 2.0, "end": end, "rate": 0.05, "n_procs": 1, "rss_b": 3e8}
    record = NodeRecord.from_measurement(
        "fmriprep_wf.(scheduler)", _measurement(sched, host, busy, samples)
    )
    record.interface = "nipype.pipeline.plugins.multiproc.MultiProcPlugin"
    record.extra = {"kind": "orchestration"}
    session.add_node(record)
    names = {t["name"] for t in tasks}
    session.add_edges(_edges(run, names))
    session.add_event("end", status="ok", error=None)
    return session


def _measurement(task: dict[str, Any], host: SyntheticHost, busy: Any, samples: int | None) -> Any:
    duration = task["end"] - task["start"]
    if samples is None:  # one a second
        t = task["start"] + np.arange(max(int(duration) + 1, 2), dtype=float)
        interval = 1.0
    else:
        t = np.linspace(task["start"], task["end"], samples)
        interval = max(duration / (samples - 1), 1.0)
    cpu = task["rate"] * (t - task["start"])
    return host.measurement(t, cpu, busy(t), rss_b=task["rss_b"], sample_interval_s=interval)


def _edges(run: int, names: set[str]) -> list[tuple[str, str]]:
    steps = shape()
    prefix = f"fmriprep_wf.single_subject_{run + 1:04d}_wf."
    return [
        (prefix + steps[s["after"]]["name"], prefix + s["name"])
        for s in steps
        if s["after"] >= 0 and prefix + s["name"] in names
    ]


def write_run(job: tuple[int, str, int | None]) -> float:
    """Write run ``job[0]`` at ``job[1]`` (unless there already); its size in MB."""
    run, path, samples = job
    target = Path(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        build_run(run, samples).save(target)
    return target.stat().st_size / 1e6


def write_runs(jobs: Sequence[tuple[int, str, int | None]], workers: int) -> list[float]:
    if workers <= 1 or len(jobs) <= 1:
        return [write_run(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(
            pool.map(write_run, jobs, chunksize=max(1, min(16, len(jobs) // (4 * workers))))
        )


#: runs a command and prints its wall seconds, peak RSS and exit status as JSON. A small
#: process of its own, so that the command's ``ru_maxrss`` is its own: Linux carries the
#: RSS of the process that forked over into the child's maximum (exec keeps the old
#: image's high-water mark), and this benchmark's own process grows large
LAUNCHER = (
    "import json, os, subprocess, sys, time\n"
    "start = time.perf_counter()\n"
    "with open(sys.argv[1], 'w') as out:\n"
    "    proc = subprocess.Popen(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT)\n"
    "    _, status, usage = os.wait4(proc.pid, 0)\n"
    "print(json.dumps({'wall_s': time.perf_counter() - start, 'rc': "
    "os.waitstatus_to_exitcode(status), 'peak_mb': usage.ru_maxrss / 1024}))\n"
)


def child(args: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str]:
    """Run ``args`` in a fresh process (started by :data:`LAUNCHER`): wall seconds, its
    peak RSS (MB), exit status, output."""
    with tempfile.NamedTemporaryFile("r", dir=TMP_ROOT, suffix=".out") as out:
        launched = subprocess.run(
            [sys.executable, "-c", LAUNCHER, out.name, *args],
            env=env, cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        f = json.loads(launched.stdout)
        return f["wall_s"], f["peak_mb"], f["rc"], out.read()


ROOT = Path(__file__).resolve().parents[2]
HERE = __spec__.name if __spec__ else "benchmarks.cost.study_scale"


def first_pass_full(folder: Path, runs: int) -> list[float]:
    """Write ``runs`` full-size sessions; sum each up in a fresh process; its seconds."""
    paths = [folder / f"run-{i:04d}.jsonl" for i in range(runs)]
    start = time.perf_counter()
    sizes = write_runs([(i, str(p), None) for i, p in enumerate(paths)], workers=2)
    print(f"  wrote {runs} full session(s) in {time.perf_counter() - start:.0f} s (2 processes)")
    seconds = []
    for path, size in zip(paths, sizes, strict=True):
        _, peak, rc, out = child([sys.executable, "-m", HERE, "--summarise", str(path)])
        if rc:
            raise RuntimeError(f"summarise {path} failed:\n{out}")
        f = json.loads(out.strip().splitlines()[-1])
        seconds.append(f["summarise_s"])
        print(
            f"  {path.name}: {size:6.1f} MB, {f['nodes']} nodes, {f['samples']:,} samples, "
            f"wall {f['wall_h']:.2f} h: summarise {f['summarise_s']:6.2f} s, "
            f"peak RSS {peak:5.0f} MB",
            flush=True,
        )
    return seconds


def summarise_one(path: str) -> None:
    """``summarise`` in this process; print its seconds and the session's shape."""
    from nipype_carbon.record.reader import load_session
    from nipype_carbon.study.summary import summarise

    start = time.perf_counter()
    summary = summarise(path)
    seconds = time.perf_counter() - start
    session = load_session(path)
    samples = sum(
        len((r.measurement or {}).get("samples", {}).get("t", [])) for r in session.nodes.values()
    )
    print(
        json.dumps(
            {
                "summarise_s": seconds,
                "nodes": len(session.nodes),
                "samples": samples,
                "wall_h": summary["wall_time_s"] / 3600,
                "steps": len(summary["steps"]["step"]),
            }
        )
    )


#: light runs a folder holds (a level of runs is whole folders, then single files)
CHUNK = 100


def light_runs(folder: Path, runs: int, samples: int) -> list[Path]:
    """Write ``runs`` light sessions in folders of :data:`CHUNK`; their paths, in order."""
    paths = [folder / f"g{i // CHUNK:03d}" / f"run-{i:04d}.jsonl" for i in range(runs)]
    wanted, folders = set(paths), {p.parent for p in paths}
    for stray in sorted(folder.glob("*/*.jsonl")) if folder.exists() else []:
        if stray not in wanted and stray.parent in folders:
            print(f"  removing {stray}: not a run of this layout")
            stray.unlink()
    start = time.perf_counter()
    sizes = write_runs([(i, str(p), samples) for i, p in enumerate(paths)], workers=2)
    print(
        f"  {runs:,} light sessions ({samples} samples a node): {sum(sizes) / 1e3:.2f} GB, "
        f"{np.mean(sizes):.2f} MB each, ready in {time.perf_counter() - start:.0f} s (2 processes)",
        flush=True,
    )
    return paths


def level_paths(paths: Sequence[Path], level: int) -> list[Path]:
    """The first ``level`` runs as study arguments: their whole folders, then single files."""
    whole = level // CHUNK
    return sorted({p.parent for p in paths[: whole * CHUNK]}) + list(paths[whole * CHUNK : level])


def second_call(paths: Sequence[Path], store: Path) -> None:
    """``build_study`` on a filled store in this process; print its figures as JSON."""
    from nipype_carbon.study.build import build_study

    study = build_study(paths, store_path=store)
    print(
        json.dumps(
            {
                **study.timings,
                "runs": study.totals["runs"],
                "steps": len(study.steps),
                "subjects": study.totals["subjects"],
            }
        )
    )


def second_call_cli(folders: Sequence[Path], cache: Path, store: Path) -> tuple[float, float, str]:
    """``nipype-carbon study FOLDER...`` in a fresh process on a filled store: seconds,
    peak MB, the console page's first line."""
    before = _stored_runs(store)
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(ROOT)}
    args = [sys.executable, "-m", "nipype_carbon", "study", *map(str, folders)]
    wall, peak, rc, out = child(args, env)
    if rc:
        raise RuntimeError(f"study failed ({rc}):\n{out[-2000:]}")
    if _stored_runs(store) != before:
        print("  warning: the store changed: this call summed runs up again")
    return wall, peak, next((line for line in out.splitlines() if line.strip()), "")


def _stored_runs(store: Path) -> tuple[int, int]:
    """How many runs the store holds, and its last run id (a run summed up again gets a new one)."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        count, last = db.execute("SELECT COUNT(*), MAX(run_id) FROM runs").fetchone()
    return int(count), int(last or 0)


def profile_study(folders: Sequence[Path], store: Path, top: int = 25) -> None:
    """Where a second ``build_study`` spends its time, by function (cumulative)."""
    from nipype_carbon.study.build import build_study

    profiler = cProfile.Profile()
    profiler.runcall(build_study, folders, store_path=store)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
    stats.print_stats(top)
    out.write("\n-- nipype_carbon/study only, by own time --\n")
    stats.sort_stats("tottime").print_stats("nipype_carbon/study", 15)
    print(out.getvalue())


def run(args: argparse.Namespace) -> list[str]:
    from nipype_carbon.study.build import build_study

    over: list[str] = []
    TMP_ROOT.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=TMP_ROOT))
    kept = Path(args.keep) if args.keep else work / "sessions"
    try:
        if args.full_runs:
            print("1. first pass, full-size sessions (1-s samples), one fresh process each:")
            seconds = first_pass_full(kept / "full", args.full_runs)
            print(
                f"  first pass: {np.mean(seconds):.2f} s a run (mean of {len(seconds)})\n",
                flush=True,
            )
        levels = sorted({min(n, args.runs) for n in args.levels} | {args.runs})
        print(f"2. second call over {args.runs:,} runs (light sessions, same shape):")
        paths = light_runs(kept / f"light-s{args.light_samples}", args.runs, args.light_samples)
        everything = level_paths(paths, args.runs)
        cache = private_dir(work / "cache")
        store = private_dir(cache / "nipype-carbon") / "study.sqlite"
        start = time.perf_counter()
        first = build_study(everything, store_path=store, workers=2)
        fill_s = time.perf_counter() - start
        t = first.timings
        print(
            f"  first call (build_study, 2 worker processes, fresh store): {fill_s:.1f} s, "
            f"{int(t['summed_up_now']):,} runs summed up, first pass {t['first_pass_s']:.1f} s = "
            f"{t['first_pass_s'] / max(t['summed_up_now'], 1) * 1e3:.0f} ms a light run "
            f"(2 processes); store {store.stat().st_size / 1e6:.0f} MB",
            flush=True,
        )
        if first.totals["runs"] != args.runs:
            raise RuntimeError(f"the study found {first.totals['runs']} runs, not {args.runs}")
        del first
        here = [sys.executable, "-m", HERE]
        for _ in range(args.repeat):
            wall, peak, rc, out = child([*here, "--second-call", str(store), *map(str, everything)])
            if rc:
                raise RuntimeError(f"second call failed:\n{out[-2000:]}")
            f = json.loads(out.strip().splitlines()[-1])
            print(
                f"  second call, build_study in a fresh process: {f['total_s']:.2f} s "
                f"(finding and looking up the runs {f['first_pass_s']:.2f} s), "
                f"{f['runs']:,} runs, {f['steps']} steps, {int(f['summed_up_now'])} summed up "
                f"again; process {wall:.2f} s, peak RSS {peak:.0f} MB",
                flush=True,
            )
        print(
            "  (a second call reads only the stored summaries, never a sample: its cost"
            " follows runs and steps, not sample count)\n"
        )
        print("3. second call, `nipype-carbon study` in a fresh process, by number of runs:")
        print(f"  {'runs':>6} {'wall':>9} {'peak RSS':>10}   (each call)   first line")
        for level in levels:
            chosen = level_paths(paths, level)
            results = [second_call_cli(chosen, cache, store) for _ in range(args.repeat)]
            wall = min(r[0] for r in results)
            peak = max(r[1] for r in results)
            walls = ", ".join(f"{r[0]:.2f}" for r in results)
            print(
                f"  {level:>6,} {wall:>7.2f} s {peak:>7.0f} MB   (walls {walls})"
                f"   {results[0][2][:70]}",
                flush=True,
            )
            if level == args.runs and wall > 5.0:
                over.append(f"second call {wall:.1f} s > 5 s")
            if peak > 1024:
                over.append(f"{level} runs: peak {peak:.0f} MB > 1 GB")
        if over or args.profile:
            print(f"\nprofile of a second build_study over {args.runs:,} runs:")
            profile_study(everything, store)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return over


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=2000, help="runs of the second call")
    p.add_argument("--full-runs", type=int, default=3, help="full-size sessions summed up")
    p.add_argument("--levels", type=int, nargs="+", default=[500, 1000, 2000])
    p.add_argument("--light-samples", type=int, default=3, help="samples a node, light runs")
    p.add_argument("--repeat", type=int, default=2, help="fresh-process calls per level")
    p.add_argument("--keep", metavar="DIR", help="keep the sessions in DIR (reused if there)")
    p.add_argument("--profile", action="store_true", help="profile the second build_study")
    p.add_argument("--summarise", help=argparse.SUPPRESS)
    p.add_argument("--second-call", nargs="+", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.summarise:
        summarise_one(args.summarise)
        return 0
    if args.second_call:
        second_call([Path(p) for p in args.second_call[1:]], Path(args.second_call[0]))
        return 0
    start = time.perf_counter()
    over = run(args)
    print("targets met" if not over else f"over target: {'; '.join(over)}")
    print(f"benchmark took {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
