"""Small nipype workflows with known CPU costs, for the plugin tests."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import nipype.pipeline.engine as pe
from nipype.interfaces.base import CommandLine
from nipype.interfaces.utility import Function, IdentityInterface


def burn(seconds):  # type: ignore[no-untyped-def]
    """Spin until this thread has used ``seconds`` of CPU.

    The thread's own CPU (not the process's, which includes the meter's sampler thread): the
    node's recorded CPU, its process tree's less the sampler's, is then at least ``seconds``
    by construction.
    """
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


def burn_then_fail(seconds):  # type: ignore[no-untyped-def]
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    raise RuntimeError("this node fails on purpose")


def add(a, b):  # type: ignore[no-untyped-def]
    return a + b


def total(values):  # type: ignore[no-untyped-def]
    return sum(values)


def fast(wf: pe.Workflow) -> pe.Workflow:
    """Poll often (nipype's 2 s default dominates small workflows); crash files in base_dir."""
    wf.config["execution"]["poll_sleep_duration"] = 0.05
    wf.config["execution"]["crashdump_dir"] = wf.base_dir
    return wf


def burn_node(name: str, seconds: float) -> pe.Node:
    node = pe.Node(Function(["seconds"], ["out"], burn), name=name)
    node.inputs.seconds = seconds
    return node


class SelfTimedCommandLine(CommandLine):
    """A CommandLine that writes the CPU its run cost, as the kernel counts it, to
    ``interface_cpu_s.txt``: the worker process's own CPU (all its threads: nipype polls the
    child's output while it runs, so this grows with the child's wall time) plus the reaped
    child's, over ``_run_interface``. A truth for the node's CPU that the meter does not
    compute."""

    def _run_interface(self, runtime, correct_return_codes=(0,)):  # type: ignore[no-untyped-def]
        def cpu_s() -> float:
            own = resource.getrusage(resource.RUSAGE_SELF)
            reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime

        start = cpu_s()
        runtime = super()._run_interface(runtime, correct_return_codes)
        Path(runtime.cwd, "interface_cpu_s.txt").write_text(str(cpu_s() - start))
        return runtime


def cli_node(name: str, seconds: float) -> pe.Node:
    """A command-line node whose child process burns ``seconds`` of CPU."""
    return pe.Node(
        SelfTimedCommandLine(command=sys.executable, args=f'-c "{_one_line(seconds)}"'), name=name
    )


def _one_line(seconds: float) -> str:
    """Burn ``seconds`` of CPU, then write this process's whole CPU time to child_cpu_s.txt."""
    return (
        "import resource, time; t = time.process_time(); "
        f"exec('while time.process_time() - t < {seconds}: pass'); "
        "u = resource.getrusage(resource.RUSAGE_SELF); "
        "open('child_cpu_s.txt', 'w').write(str(u.ru_utime + u.ru_stime))"
    )


def child_cpu_s(node_dir: Path) -> float:
    """What the command-line child said its own CPU time was (start-up included)."""
    return float((node_dir / "child_cpu_s.txt").read_text())


def interface_cpu_s(node_dir: Path) -> float:
    """CPU of the worker and the child over the command line's run (``SelfTimedCommandLine``)."""
    return float((node_dir / "interface_cpu_s.txt").read_text())


def known_costs(base_dir: Path) -> pe.Workflow:
    """burn_a 1.0 s -> after 0.4 s; burn_b 0.5 s; cli child 0.8 s."""
    wf = fast(pe.Workflow("known", base_dir=str(base_dir)))
    a, b = burn_node("burn_a", 1.0), burn_node("burn_b", 0.5)
    after = pe.Node(Function(["seconds"], ["out"], burn), name="after")
    wf.connect(a, ("out", _scaled), after, "seconds")
    wf.add_nodes([b, cli_node("cli", 0.8)])
    return wf


def _scaled(seconds):  # type: ignore[no-untyped-def]
    return seconds * 0.4


def expansions(base_dir: Path) -> pe.Workflow:
    """Iterables, a MapNode and a JoinNode: every expansion gets a record."""
    wf = fast(pe.Workflow("expand", base_dir=str(base_dir)))
    source = pe.Node(IdentityInterface(["x"]), name="source")
    source.iterables = ("x", [1, 2])
    plus = pe.Node(Function(["a", "b"], ["out"], add), name="plus")
    plus.inputs.b = 10
    mapped = pe.MapNode(Function(["seconds"], ["out"], burn), iterfield=["seconds"], name="mapped")
    mapped.inputs.seconds = [0.05, 0.1, 0.15]
    join = pe.JoinNode(
        Function(["values"], ["out"], total), joinsource="source", joinfield=["values"], name="join"
    )
    wf.connect([(source, plus, [("x", "a")]), (plus, join, [("out", "values")])])
    wf.add_nodes([mapped])
    return wf


def failing(base_dir: Path) -> pe.Workflow:
    wf = fast(pe.Workflow("failing", base_dir=str(base_dir)))
    bad = pe.Node(Function(["seconds"], ["out"], burn_then_fail), name="bad")
    bad.inputs.seconds = 0.3
    later = pe.Node(Function(["seconds"], ["out"], burn), name="later")
    wf.connect(bad, "out", later, "seconds")
    wf.add_nodes([burn_node("fine", 0.1)])
    return wf
