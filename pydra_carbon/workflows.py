"""What only the submitting process knows about a workflow: its graph, splits and cache hits.

After each workflow job the carbon worker adds to the session:

* the edges of the workflow's execution graph, between ``workflow.node`` names;
* for each split node, a parent record (no measurement; the session format's
  MapNode convention, ``extra["mapnode"]``) whose children are the records of
  its states (``workflow.node[i]``, with ``extra["mapnode_parent"]``);
* a cached record for each job Pydra did not hand to the worker because a job
  with the same checksum ran in this run already;
* a ``pydra_workflow`` event with the workflow's checksum.

A workflow whose result Pydra finds cached is not expanded at all: none of its
tasks is even looked at. Its tasks are then recorded as ``cached`` from the
session (this one or an earlier one in the carbon directory) where the
workflow with the same checksum ran, found by its ``pydra_workflow`` event;
without one, the workflow gets a single cached record.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydra.utils.general import is_workflow

from nipype_carbon.measure.host import host_name
from nipype_carbon.record.reader import earlier_runs
from nipype_carbon.record.records import NodeRecord, NodeStatus
from nipype_carbon.record.session import Session
from pydra_carbon.metered import interface_name, job_name, join, task_extra

WORKFLOW_EVENT = "pydra_workflow"
#: record facts that describe one execution, not the task: not copied to cached records
EXECUTION_FACTS = ("meter_wall_s", "meter_errors", "batch_system", "batch_job_id", "found_by")


def has_result(job: Any) -> bool:
    """Whether the job has a stored result that is not an error."""
    try:
        result = job.result()
    except Exception:
        return False
    return result is not None and not result.errored


def workflow_expanded(session: Session, job: Any, path: str, previous: list[Path]) -> None:
    """Record the graph, split parents and deduplicated jobs of a workflow that ran."""
    graph = job.return_values["exec_graph"]
    nodes = list(graph.nodes)
    session.add_edges((join(path, a), join(path, b)) for a, b in graph.edges_names)
    for node in nodes:
        _record_skipped_jobs(session, node, path, previous)
    add_split_parents(session, [join(path, node.name) for node in nodes], path)
    names = [str(node.name) for node in nodes]
    session.add_event(WORKFLOW_EVENT, path=path, checksum=str(job.checksum), nodes=names)


def _record_skipped_jobs(session: Session, node: Any, path: str, previous: list[Path]) -> None:
    """Jobs Pydra found done without running them: their checksum ran earlier in this run."""
    try:
        jobs = list(node.tasks)
    except RuntimeError:  # never started: blocked by a failed upstream node
        return
    for job in jobs:
        name = job_name(path, job)
        if name in session.nodes or name in _expanded(session) or not has_result(job):
            continue
        if is_workflow(job.task):
            workflow_cached(session, job, name, previous)
            continue
        now = time.time()
        record = NodeRecord(
            name, "cached", now, now, host_name(), interface=interface_name(job.task), workflow=path
        )
        record.extra = {**task_extra(job.task), "pydra_node": job.name, "found_by": "checksum"}
        if job.state_index is not None:
            parent = join(path, job.name)
            record.extra.update(state_index=job.state_index, mapnode_parent=parent)
        session.add_node(record)


def _expanded(session: Session) -> set[str]:
    return {str(e.get("path")) for e in session.events if e.get("kind") == WORKFLOW_EVENT}


def add_split_parents(session: Session, parents: Iterable[str], workflow: str) -> None:
    """One record per split node, summing up the status of its states."""
    children: dict[str, list[NodeRecord]] = {}
    for record in session.nodes.values():
        parent = record.extra.get("mapnode_parent")
        if parent:
            children.setdefault(parent, []).append(record)
    for parent in parents:
        states = children.get(parent)
        if not states or parent in session.nodes:
            continue
        statuses = {r.status for r in states}
        # the first that applies: a failed or killed state marks the parent, then work done
        order: tuple[NodeStatus, ...] = ("failed", "killed", "ran", "lost", "skipped", "cached")
        status: NodeStatus = next((s for s in order if s in statuses), "cached")
        first = states[0]
        start, end = min(r.start for r in states), max(r.end for r in states)
        record = NodeRecord(
            parent, status, start, end, host_name(), interface=first.interface, workflow=workflow
        )
        record.extra = {
            "mapnode": True,
            "states": len(states),
            "task_type": first.extra.get("task_type", ""),
            "pydra_node": first.extra.get("pydra_node", parent),
        }
        session.add_node(record)


def workflow_cached(session: Session, job: Any, path: str, previous: list[Path]) -> None:
    """Record the tasks of a workflow Pydra found cached, from the session that ran it."""
    checksum = str(job.checksum)
    for source, earlier in _sessions(session, previous):
        event = next(
            (
                e
                for e in reversed(earlier.events)
                if e.get("kind") == WORKFLOW_EVENT and e.get("checksum") == checksum
            ),
            None,
        )
        if event is None:
            continue
        _copy_as_cached(session, earlier, str(event["path"]), path, source)
        nodes = event.get("nodes", [])
        session.add_event(WORKFLOW_EVENT, path=path, checksum=checksum, nodes=nodes, cached=True)
        return
    now = time.time()
    name = path or type(job.task).__name__
    record = NodeRecord(
        name, "cached", now, now, host_name(), interface=interface_name(job.task), workflow=path
    )
    record.extra = {"kind": "workflow", "task_type": "workflow", "found_by": "workflow cache"}
    session.add_node(record)


def _sessions(current: Session, previous: list[Path]) -> Iterable[tuple[str, Session]]:
    """This session, then the earlier ones, newest first."""
    yield (current.path.name if current.path else ""), current
    for path, earlier in earlier_runs(reversed(previous)):
        yield path.name, earlier


def rebase(name: str, old: str, new: str) -> str | None:
    """``name`` inside workflow path ``old``, moved under ``new``; None when not inside."""
    if old and not name.startswith(old + "."):
        return None
    inner = name[len(old) + 1 :] if old else name
    return join(new, inner)


def _copy_as_cached(session: Session, earlier: Session, old: str, new: str, source: str) -> None:
    now = time.time()
    for record in list(earlier.nodes.values()):
        name = rebase(record.name, old, new)
        if name is None or record.is_engine or name in session.nodes:
            continue
        extra = {k: v for k, v in record.extra.items() if k not in EXECUTION_FACTS}
        if "mapnode_parent" in extra:
            extra["mapnode_parent"] = rebase(str(extra["mapnode_parent"]), old, new)
        extra.update(found_by="workflow cache", cached_from=source)
        workflow = new if record.workflow == old else (rebase(record.workflow, old, new) or new)
        copy = NodeRecord(
            name, "cached", now, now, host_name(), interface=record.interface, workflow=workflow
        )
        copy.extra = extra
        session.add_node(copy)
    edges = [(rebase(a, old, new), rebase(b, old, new)) for a, b in earlier.edges]
    inside = [(a, b) for a, b in edges if a is not None and b is not None]
    if inside:
        session.add_edges(inside)
