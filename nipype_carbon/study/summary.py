"""A run, summed up once for a study: its figures and its steps, in energy (not yet priced).

:func:`summarise` attributes a session the way ``nipype-carbon report`` does (the same
:func:`~nipype_carbon.report.model.build_report`, with the run's own settings) and keeps
what a study needs: the run energy and its parts, status, hosts, method, and one row per
step of the run (MapNode children folded into their MapNode), with the subject each
node's name shows. Energy is kept in joules with the grid and PUE the run recorded, so a
study prices it then (``--region``/``--pue`` re-express it). A summary is plain data
(JSON-able), so :mod:`nipype_carbon.study.cache` can keep it and worker processes can
return it.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from nipype_carbon.analyse.reconcile import GB  # what mem_gb is counted in
from nipype_carbon.record.reader import load_session
from nipype_carbon.record.runs import SessionError
from nipype_carbon.report.model import build_report
from nipype_carbon.study.subjects import node_subject, step_name, subjects_in_argv

#: bumped whenever a summary's fields change: older cached summaries are made again
SUMMARY_VERSION = 1
#: node statuses whose energy bought nothing the run kept
FAILED_STATUSES = ("failed", "killed", "lost")
#: the order a step's status is told in when its nodes differ: the worst first
_STATUS_ORDER = ("failed", "killed", "lost", "ran", "cached", "skipped")
#: the columns of a summary's steps, in order
STEP_FIELDS = (
    "subject",
    "step",
    "interface",
    "status",
    "nodes",
    "energy_j",
    "failed_j",
    "cpu_s",
    "node_s",
    "reserved_core_s",
    "spare_core_s",
    "spare_mem_gb_s",
    "rightsize_j",
    "peak_rss_b",
    "method",
)


class NotASession(SessionError):
    """A file in a study's tree that is not a session that can be read (the reason)."""


def summarise(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The summary of the session at ``path`` (see the module); :class:`NotASession` with
    the reason when it cannot be read."""
    path = Path(path)
    try:
        session = load_session(path)
        report = build_report(session)
    except (SessionError, OSError, ValueError) as err:
        raise NotASession(str(err).split("\n")[0]) from err
    totals = report.totals
    metadata = session.metadata
    settings = session.settings
    hosts = {
        name: {"cpu_model": h.cpu_model or "unknown CPU", "logical_cpus": h.logical_cpus}
        for name, h in report.hosts.items()
    }
    driver: dict[str, Any] = metadata.get("driver") or {}
    argv: list[Any] = metadata.get("argv") or []
    driver = driver if isinstance(driver, dict) else {}
    argv = argv if isinstance(argv, list) else []
    return {
        "version": SUMMARY_VERSION,
        "path": str(path),
        "created": float(metadata.get("start") or report.created or 0.0),
        "tool_version": report.tool_version,
        "engine": report.engine,
        "workflow": report.workflow,
        "status": totals.run_status,
        "status_text": totals.run_status_text,
        "ended": session.end_event is not None,
        "problems": session.problems(),
        "damaged_lines": len(session.damaged) + len(session.flagged),
        "driver": {"host": str(driver.get("host", "")), "pid": int(driver.get("pid") or 0)},
        "subject_setting": settings.get("subject") if isinstance(settings, dict) else None,
        "argv_subjects": subjects_in_argv([str(a) for a in argv]),
        "region": settings.get("region"),
        "intensity_g_per_kwh": settings.get("intensity_g_per_kwh"),
        "pue": float(report.pue),
        "energy_j": totals.energy_j,
        "nodes_full_cost_j": totals.nodes_full_cost_j,
        "engine_overhead_j": totals.engine_overhead_j,
        "not_charged_j": totals.not_charged_j,
        "avoided_j": totals.energy_avoided_by_caching_j,
        "cpu_s": totals.cpu_s,
        "wall_time_s": totals.wall_time_s,
        "nodes": totals.nodes,
        "method": report.how_obtained(),
        "hosts": hosts,
        "steps": _steps(report.nodes, session),
    }


def _number(value: Any, default: float) -> float:
    """``value`` as a float; ``default`` for a missing one (None, NaN, not a number)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _rank(status: str) -> int:
    return _STATUS_ORDER.index(status) if status in _STATUS_ORDER else len(_STATUS_ORDER)


def _steps(nodes: Any, session: Any) -> dict[str, list[Any]]:
    """The run's steps as columns (see :data:`STEP_FIELDS`): its nodes of work grouped by
    subject and step, a MapNode's children under their MapNode.

    Right-sizing: a node that reserved ``n_procs`` cores but kept fewer busy (its CPU time
    over its duration, at least one core) left ``spare_core_s`` unused; one that reserved
    ``mem_gb`` above its peak memory left ``spare_mem_gb_s``. ``rightsize_j`` is what those
    spare reservations were charged: the node's baseline share times its spare fraction of
    cores, plus its memory share times its spare fraction of memory (a model: it is what
    would go to other work had the node asked for what it used).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    work = nodes[nodes["kind"] == "node"]
    records = session.nodes
    for row in work.itertuples(index=False):
        parent = getattr(row, "mapnode_parent", "") or ""
        name = str(parent or row.node)
        subject = node_subject(name) or ""
        key = (subject, step_name(name))
        status = str(row.status)
        energy = float(row.energy_j)
        n_procs = max(_number(getattr(row, "n_procs", 1), 1.0), 1.0)
        step = rows.setdefault(
            key,
            {
                "subject": subject,
                "step": key[1],
                "interface": str(row.interface),
                "status": status,
                "nodes": 0,
                "energy_j": 0.0,
                "failed_j": 0.0,
                "cpu_s": 0.0,
                "node_s": 0.0,
                "reserved_core_s": 0.0,
                "spare_core_s": 0.0,
                "spare_mem_gb_s": 0.0,
                "rightsize_j": 0.0,
                "peak_rss_b": 0.0,
                "method": set(),
            },
        )
        step["nodes"] += 1
        step["energy_j"] += energy
        step["failed_j"] += energy if status in FAILED_STATUSES else 0.0
        cpu_s = max(_number(row.cpu_s, 0.0), 0.0)
        step["cpu_s"] += cpu_s
        peak_b = max(_number(getattr(row, "peak_rss_b", 0), 0.0), 0.0)
        step["peak_rss_b"] = max(step["peak_rss_b"], peak_b)
        if status != "cached":
            duration = max(_number(row.duration_s, 0.0), 0.0)
            step["node_s"] += duration
            step["reserved_core_s"] += duration * n_procs
            step["method"].add(str(row.method))
            if duration > 0:
                needed = min(n_procs, max(1.0, math.ceil(cpu_s / duration)))
                spare_cores = n_procs - needed
                record = records.get(str(row.node))
                mem_gb = _number(record.extra.get("mem_gb") if record else None, 0.0)
                spare_gb = max(0.0, mem_gb - peak_b / GB) if mem_gb > 0 else 0.0
                step["spare_core_s"] += spare_cores * duration
                step["spare_mem_gb_s"] += spare_gb * duration
                step["rightsize_j"] += _number(row.baseline_share_j, 0.0) * spare_cores / n_procs
                if spare_gb > 0:
                    step["rightsize_j"] += _number(row.memory_share_j, 0.0) * spare_gb / mem_gb
        if _rank(status) < _rank(step["status"]):
            step["status"] = status
    columns: dict[str, list[Any]] = {f: [] for f in STEP_FIELDS}
    for step in rows.values():
        step["method"] = "+".join(sorted(step["method"] - {"none"})) or "none"
        for f in STEP_FIELDS:
            columns[f].append(step[f])
    return columns
