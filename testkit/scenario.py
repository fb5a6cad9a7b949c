"""The emulated-truth scenario shared by the validation tests and benchmarks/accuracy/validity.py.

A powercap emulator whose package counter follows the host's load (known idle
power, known joules per busy CPU-second of the whole host), workflows with
known CPU costs under the Nipype and Pydra adapters, and other processes that
load both CPUs from a chosen moment. The truth for a node's CPU energy is
``J_PER_CPU_S`` x its CPU seconds; for the baseline, ``IDLE_W``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from testkit.powercap import LoadFollowingProcess, host_busy_cpu_s

IDLE_W, J_PER_CPU_S = 12.0, 9.0
#: other processes start this long after the run has begun (after the baseline window)
LOAD_AFTER_S = 1.5
#: the most the host may be busy before the run for its baseline to be measurable
QUIET = 0.25
SAMPLE_INTERVAL_S = 0.25


def burn_thread(seconds):  # type: ignore[no-untyped-def]
    """Spin until this thread has used ``seconds`` of CPU (other threads of the process
    are not the node's when it runs inside the driving process)."""
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


def nap(seconds):  # type: ignore[no-untyped-def]
    import time

    time.sleep(seconds)
    return seconds


def host_utilisation(seconds: float = 1.0) -> float:
    """Busy share of all CPUs over ``seconds``, from /proc/stat (read here, not by the code)."""
    before = host_busy_cpu_s()
    time.sleep(seconds)
    return (host_busy_cpu_s() - before) / (seconds * (os.cpu_count() or 1))


@contextmanager
def other_processes(after_s: float | None, count: int = 2) -> Iterator[None]:
    """``count`` CPU-bound processes started ``after_s`` into the block (None: none)."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        started.extend(
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)
        )

    timer = threading.Timer(after_s or 0.0, start)
    if after_s is not None:
        timer.start()
    try:
        yield
    finally:
        timer.cancel()
        for process in started:
            process.kill()
            process.wait()


def nipype_workflow(base_dir: Path) -> Any:
    """burn (2.0 CPU-s), cli (a child burns 1.0 CPU-s), nap (2 s asleep, in the driver)."""
    import nipype.pipeline.engine as pe
    from nipype.interfaces.utility import Function

    from tests.plugin import workflows

    wf = workflows.fast(pe.Workflow("truth", base_dir=str(base_dir)))
    napper = pe.Node(Function(["seconds"], ["out"], nap), name="nap", run_without_submitting=True)
    napper.inputs.seconds = 2.0
    burner = pe.Node(Function(["seconds"], ["out"], burn_thread), name="burn")
    burner.inputs.seconds = 2.0
    wf.add_nodes([burner, workflows.cli_node("cli", 1.0), napper])
    return wf


def run_nipype(tmp: Path, plugin: str, load_after_s: float | None, **settings: Any) -> Path:
    """Run the workflow under the emulator; return its carbon directory."""
    import nipype_carbon  # noqa: F401 - registers the Carbon plugins

    args = {
        "powercap_root": str(tmp / "powercap"),
        "sample_interval_s": SAMPLE_INTERVAL_S,
        **settings,
    }
    if plugin == "CarbonMultiProc":
        args["n_procs"] = 2
    powercap = LoadFollowingProcess(tmp / "powercap", IDLE_W, J_PER_CPU_S)
    with powercap, other_processes(load_after_s):
        nipype_workflow(tmp).run(plugin=plugin, plugin_args=args)
    return tmp / "truth" / "carbon"


def run_pydra(tmp: Path, load_after_s: float | None, **settings: Any) -> Path:
    """Burn 2.0 CPU-s in a task and 1.0 in a command-line child, under the cf worker."""
    from pydra.compose import workflow
    from pydra.engine.submitter import Submitter

    from tests.pydra import Burn, BurnInChild, child_code

    @workflow.define
    def Truth(seconds: float = 2.0) -> float:
        burn = workflow.add(Burn(seconds=seconds), name="burn")
        workflow.add(BurnInChild(code=child_code(1.0)), name="cli")
        return burn.out

    powercap = LoadFollowingProcess(tmp / "powercap", IDLE_W, J_PER_CPU_S)
    carbon = tmp / "carbon"
    with (
        powercap,
        other_processes(load_after_s),
        Submitter(
            worker="carbon",
            base="cf",
            n_procs=2,
            cache_root=tmp / "cache",
            carbon_dir=carbon,
            powercap_root=str(tmp / "powercap"),
            sample_interval_s=SAMPLE_INTERVAL_S,
            **settings,
        ) as sub,
    ):
        sub(Truth())
    return carbon


def errors(carbon_dir: Path, **settings: Any) -> dict[str, float]:
    """Relative error of each metered node's CPU energy, and of the baseline.

    ``settings`` override the run's recorded ones at attribution (e.g. ``cpu_baseline_w``:
    what the same run reports had it been given that calibration).
    """
    from nipype_carbon import load_session
    from nipype_carbon.analyse.attribution import attribute_energy
    from nipype_carbon.record.runs import session_files

    session = load_session(session_files(carbon_dir)[-1])
    session.settings.update(settings)
    result = attribute_energy(session)
    found = {}
    for name, node in result.nodes.items():
        record = session.nodes[name]
        if record.extra.get("kind") == "orchestration" or node.cpu_s < 0.5:
            continue
        truth_j = J_PER_CPU_S * node.cpu_s
        found[name] = node.energy_cpu_j / truth_j - 1.0
    host = next(iter(result.hosts.values()))
    for domain, watts in host.baseline_power_w.items():
        if domain.startswith("rapl:"):
            found[f"baseline ({host.baseline_method[domain].split(':')[0]})"] = watts / IDLE_W - 1
    return found
