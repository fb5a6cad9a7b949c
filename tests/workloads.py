"""Known CPU costs, importable by spawned worker processes."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

from nipype_carbon.measure.meters import ModelMeter
from nipype_carbon.measure.nodemeter import NodeMeter

BURN_SNIPPET = (
    "import resource, time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"
    "u = resource.getrusage(resource.RUSAGE_SELF)\nprint(u.ru_utime + u.ru_stime)\n"
)


def burn_cpu_s(seconds: float) -> None:
    """Spin until this thread has used ``seconds`` of CPU (the thread's own, so that the
    meter's sampler thread, whose CPU is not the node's, does not shorten the burn)."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass


def burn_wall_s(seconds: float) -> None:
    """Spin in this process for ``seconds`` of wall time."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def burn_in_child(seconds: float) -> float:
    """Run a command-line child that burns ``seconds`` of CPU and exits; return the CPU
    time the child reported for itself (interpreter start-up included)."""
    run = subprocess.run(
        [sys.executable, "-c", BURN_SNIPPET.format(s=seconds)],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(run.stdout)


def measured(work: str, seconds: float, interval_s: float = 0.2) -> dict[str, Any]:
    """Run one workload under a NodeMeter with the model meter; return the measurement."""
    action = {"cpu": burn_cpu_s, "wall": burn_wall_s, "child": burn_in_child}[work]
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=interval_s) as meter:
        action(seconds)
    assert meter.measurement is not None
    return meter.measurement.to_dict()
