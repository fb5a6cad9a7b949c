"""Pydra tasks and workflows with known CPU costs, shared by the Pydra adapter tests.

Module-level, so the ``cf`` worker's processes and SLURM jobs can import them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydra.compose import python, shell, workflow

from tests.workloads import BURN_SNIPPET

#: the most CPU a worker may spend on its own for one task (hashing, pickling results; more
#: for the first task of a fresh worker process)
WORKER_OVERHEAD_S = 0.4


def costs_about(cpu_s: float, cost_s: float) -> bool:
    """A task's recorded CPU: its known cost, plus at most the worker's own share.

    The known cost is a lower bound by construction: ``burn_for`` counts its own thread's CPU
    and the child of ``BurnInChild`` its own process's, both part of the task's process tree,
    and the meter subtracts only its sampler thread's CPU.
    """
    return cost_s <= cpu_s <= cost_s + WORKER_OVERHEAD_S


def burn_for(seconds: float) -> None:
    """Spin until this thread has used ``seconds`` of CPU (not the process's, which includes
    the meter's sampler thread)."""
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass


@python.define
def Burn(seconds: float) -> float:
    """Burn ``seconds`` of CPU in the worker's own process."""
    burn_for(seconds)
    return seconds


@python.define
def BurnThenFail(seconds: float) -> float:
    """Burn ``seconds`` of CPU, then fail."""
    burn_for(seconds)
    raise RuntimeError("this task fails on purpose")


@python.define
def Add(a: float, b: float) -> float:
    return a + b


@shell.define
class BurnInChild(shell.Task["BurnInChild.Outputs"]):
    """A command-line tool (a child process) that burns CPU."""

    executable = sys.executable
    code: str = shell.arg(argstr="-c", help="the program to run")

    class Outputs(shell.Outputs):
        pass


def child_code(seconds: float) -> str:
    """A program for ``BurnInChild`` that burns ``seconds`` of CPU."""
    return BURN_SNIPPET.format(s=seconds)


@python.define
def TouchFile(path: str) -> str:
    Path(path).touch()
    return path


@workflow.define
def KnownCosts(a: float = 1.0, child: float = 0.5, states: list[float] | None = None) -> float:
    """burn_a (a s) -> after; cli (child s, in a child process); burn_s split over ``states``."""
    burn_a = workflow.add(Burn(seconds=a), name="burn_a")
    workflow.add(BurnInChild(code=child_code(child)), name="cli")
    workflow.add(Burn().split(seconds=states or [0.2, 0.3]), name="burn_s")
    after = workflow.add(Add(a=burn_a.out, b=0.0), name="after")
    return after.out


@workflow.define
def FailsHalfway(seconds: float = 0.3) -> float:
    """ok (0.2 s) in parallel with fail (burns ``seconds``, then raises) -> never_runs."""
    workflow.add(Burn(seconds=0.2), name="ok")
    fail = workflow.add(BurnThenFail(seconds=seconds), name="fail")
    never = workflow.add(Add(a=fail.out, b=1.0), name="never_runs")
    return never.out


@workflow.define
def Inner(seconds: float) -> float:
    burn = workflow.add(Burn(seconds=seconds), name="burn")
    return burn.out


@workflow.define
def Outer(seconds: float = 0.1) -> float:
    """A nested workflow, once plain and once split over two inputs."""
    inner = workflow.add(Inner(seconds=seconds), name="inner")
    workflow.add(Inner().split(seconds=[0.1, 0.2]), name="inner_split")
    return inner.out
