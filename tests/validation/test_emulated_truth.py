"""Attribution against a truth the code does not compute: a powercap emulator.

The emulated package counter follows the host's real load (known idle power
plus known joules per busy CPU-second of the whole host, parsed from
/proc/stat by the emulator itself), so a node's true CPU energy is
``j_per_cpu_s`` x its CPU seconds and the true baseline is ``idle_w``. Two
other processes start keeping both CPUs busy after the run has begun: busy
energy must still go to the nodes that caused it, not become "idle".
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest
from nipype.interfaces.utility import Function

from nipype_carbon import attribute_energy, load_session
from nipype_carbon.record.session import session_files
from tests.fakes.powercap import LoadFollowingPowercap, host_busy_cpu_s
from tests.plugin import workflows

IDLE_W, J_PER_CPU_S = 12.0, 9.0
LOAD_AFTER_S = 1.5
TOLERANCE = 0.10
#: the most the host may be busy before the run for its baseline to be measurable
QUIET = 0.25


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


@contextmanager
def other_processes(after_s: float, count: int = 2) -> Iterator[None]:
    """``count`` CPU-bound processes started ``after_s`` into the block, stopped at its end."""
    started: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        started.extend(
            subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)
        )

    timer = threading.Timer(after_s, start)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        for process in started:
            process.kill()
            process.wait()


def truth_workflow(base_dir: Path, in_process_nap: bool) -> pe.Workflow:
    """burn (2.0 CPU-s in the worker), cli (a child burns 1.0 CPU-s), nap (sleeps 2 s)."""
    wf = workflows.fast(pe.Workflow("truth", base_dir=str(base_dir)))
    napper = pe.Node(
        Function(["seconds"], ["out"], nap),
        name="nap",
        run_without_submitting=in_process_nap,
    )
    napper.inputs.seconds = 2.0
    burner = pe.Node(Function(["seconds"], ["out"], burn_thread), name="burn")
    burner.inputs.seconds = 2.0
    wf.add_nodes([burner, workflows.cli_node("cli", 1.0), napper])
    return wf


def check_truth(carbon_dir: Path, cli_dir: Path) -> None:
    session = load_session(session_files(carbon_dir)[-1])
    result = attribute_energy(session)
    for name in ("truth.burn", "truth.cli"):
        node = result.nodes[name]
        truth_j = J_PER_CPU_S * node.cpu_s
        assert node.energy_cpu_j == pytest.approx(truth_j, rel=TOLERANCE), name
    assert result.nodes["truth.burn"].cpu_s >= 2.0
    assert result.nodes["truth.cli"].cpu_s >= workflows.child_cpu_s(cli_dir)
    assert result.nodes["truth.nap"].cpu_s < 0.2
    host = next(iter(result.hosts.values()))
    assert host.baseline_power_w["rapl:package-0"] == pytest.approx(IDLE_W, rel=TOLERANCE)


def host_utilisation(seconds: float = 1.0) -> float:
    """Busy share of all CPUs over ``seconds``, from /proc/stat (read here, not by the code)."""
    import os
    import time

    before = host_busy_cpu_s()
    time.sleep(seconds)
    return (host_busy_cpu_s() - before) / (seconds * (os.cpu_count() or 1))


def run_truth(tmp_path: Path, plugin: str, **settings: object) -> None:
    wf = truth_workflow(tmp_path, in_process_nap=True)
    args = {"powercap_root": str(tmp_path / "powercap"), "sample_interval_s": 0.25, **settings}
    if plugin == "CarbonMultiProc":
        args["n_procs"] = 2
    powercap = LoadFollowingPowercap(tmp_path / "powercap", IDLE_W, J_PER_CPU_S)
    with powercap, other_processes(LOAD_AFTER_S):
        wf.run(plugin=plugin, plugin_args=args)


PLUGINS = ["CarbonMultiProc", "CarbonLinear"]


@pytest.mark.parametrize("plugin", PLUGINS)
def test_nodes_get_their_true_cpu_energy_when_the_host_gets_busy(
    tmp_path: Path, plugin: str
) -> None:
    """Quiet before the run, loaded from half a second in: the baseline is measured."""
    if host_utilisation() > QUIET:
        pytest.skip(
            "the host is busy before the run: no reading can tell its baseline from busy "
            "power (the calibrated case below covers a host busy throughout)"
        )
    run_truth(tmp_path, plugin)
    check_truth(tmp_path / "truth" / "carbon", tmp_path / "truth" / "cli")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_calibrated_baseline_splits_a_host_busy_throughout(tmp_path: Path, plugin: str) -> None:
    """Other processes may load the host before and during the run: with the baseline
    measured on a quiet host (``cpu_baseline_w``), nodes still get their true energy."""
    run_truth(tmp_path, plugin, cpu_baseline_w=IDLE_W)
    check_truth(tmp_path / "truth" / "carbon", tmp_path / "truth" / "cli")
