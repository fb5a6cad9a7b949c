"""What travels with each node: a metered ``run`` that works wherever the node runs.

The Carbon plugin attaches a :class:`MeteredRun` to every node of the
execution graph as an instance attribute ``run``. Nipype's plugins call
``node.run()`` in the scheduler's process (Linear), in a worker process
(MultiProc, after pickling the node), or in a batch job on another host (SGE,
PBS, SLURM, after pickling the node into the job's script); the attribute
travels with the node, so the measurement is taken where the node runs and
its record is spooled there.

A MapNode is not metered itself (its children are, each with its own record);
its ``_make_nodes`` is wrapped so every child it creates carries a metered run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from nipype.pipeline.engine import MapNode, Node

from nipype_carbon.record.noderun import NodeRun, RunContext

_DEF = re.compile(r"def\s+(\w+)\s*\(")


def interface_name(node: Node) -> str:
    """``module.Class`` of the node's interface."""
    cls = type(node.interface)
    return f"{cls.__module__}.{cls.__name__}"


def node_extra(node: Node) -> dict[str, Any]:
    """Facts worth keeping: the Python function of a Function node, threads asked for."""
    extra: dict[str, Any] = {"n_procs": getattr(node, "n_procs", 1)}
    mem_gb = getattr(node, "mem_gb", None)
    if isinstance(mem_gb, int | float) and mem_gb > 0:
        extra["mem_gb"] = float(mem_gb)  # what the node reserved, for its full cost
    source = getattr(getattr(node.interface, "inputs", None), "function_str", None)
    if isinstance(source, str):
        match = _DEF.search(source)
        if match:
            extra["function"] = match.group(1)
    parameterization = getattr(node, "parameterization", None)
    if parameterization:
        extra["parameterization"] = [str(p) for p in parameterization]
    return extra


class ExecutionSpy:
    """Wraps ``_run_interface`` to learn whether the node really executed or was cached."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.executed = False

    def __call__(self, execute: bool = True, updatehash: bool = False) -> Any:
        self.executed = self.executed or bool(execute)
        return type(self.node)._run_interface(self.node, execute=execute, updatehash=updatehash)


class MeteredRun:
    """A node's ``run`` with a meter around it; picklable with its node."""

    def __init__(
        self, node: Node, context: RunContext, name: str, extra: dict[str, Any] | None = None
    ) -> None:
        self.node = node
        self.context = context
        self.name = name
        self.extra = dict(extra or {})

    def __call__(self, updatehash: bool = False) -> Any:
        node = self.node
        mapnode = isinstance(node, MapNode)
        spy = ExecutionSpy(node)
        run = NodeRun(
            self.context,
            self.name,
            interface=interface_name(node),
            workflow=node._hierarchy or "",
            extra={**node_extra(node), **self.extra, **({"mapnode": True} if mapnode else {})},
            metered=not mapnode,  # its children are metered one by one
        )
        node.__dict__["_run_interface"] = spy
        try:
            with run:
                result = type(node).run(node, updatehash=updatehash)
                run.status = "ran" if spy.executed else "cached"
        finally:
            node.__dict__.pop("_run_interface", None)
        return result


class MakeNodes:
    """Wraps a MapNode's ``_make_nodes`` so each child carries a metered run."""

    def __init__(self, node: MapNode, context: RunContext, name: str) -> None:
        self.node = node
        self.context = context
        self.name = name

    def __call__(self, cwd: str | None = None) -> Iterator[tuple[int, Node]]:
        for index, child in type(self.node)._make_nodes(self.node, cwd):
            child_name = f"{self.name}.{child.name}"
            extra = {"mapnode_parent": self.name, "mapnode_index": index}
            child.__dict__["run"] = MeteredRun(child, self.context, child_name, extra)
            yield index, child


def attach(node: Node, context: RunContext) -> None:
    """Give a node (and a MapNode's future children) a metered run."""
    name = node.itername
    node.__dict__["run"] = MeteredRun(node, context, name)
    if isinstance(node, MapNode):
        node.__dict__["_make_nodes"] = MakeNodes(node, context, name)


def detach(node: Node) -> None:
    """Remove what :func:`attach` added."""
    for attribute in ("run", "_make_nodes", "_run_interface"):
        node.__dict__.pop(attribute, None)


def record_name(node: Node) -> str:
    """The name under which a node's record is kept."""
    run = node.__dict__.get("run")
    return run.name if isinstance(run, MeteredRun) else str(node.itername)
