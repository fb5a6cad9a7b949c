"""CarbonPlugin: any nipype execution plugin, with an energy meter on every node.

``wf.run(plugin="CarbonMultiProc", plugin_args={...})`` builds the base plugin
(``MultiProc``) with the same ``plugin_args`` less the carbon settings, attaches
a metered ``run`` to every node of the execution graph, and lets the base
plugin do what it always does. Records come back through the run's spool and
are written to the session as nodes finish.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from nipype.pipeline import plugins as nipype_plugins
from nipype.pipeline.engine import MapNode
from nipype.pipeline.plugins.base import GraphPluginBase, PluginBase, SGELikeBatchManagerBase

from nipype_carbon.measure.host import host_name
from nipype_carbon.plugin.metered import attach, detach, interface_name, record_name
from nipype_carbon.record.recorder import RunRecorder
from nipype_carbon.record.records import NodeRecord, NodeStatus
from nipype_carbon.record.session import Session
from nipype_carbon.record.settings import CarbonSettings
from nipype_carbon.report.summary import log_run_summary

logger = logging.getLogger("nipype.workflow")  # where nipype users already look

#: plugin_args keys of the Carbon plugin itself (besides the carbon settings)
WAIT_KEYS = ("graph_wait", "graph_wait_timeout_s")


def base_plugin_class(base: str | type | PluginBase) -> type:
    """The nipype plugin class for a name (``MultiProc``), a class, or an instance.

    An instance need not derive from nipype's ``PluginBase``: apps such as fMRIPrep
    run their own copy of ``MultiProcPlugin``; what counts is its ``run(graph,
    config, updatehash=...)``.
    """
    if isinstance(base, str):
        name = base[: -len("Plugin")] if base.endswith("Plugin") else base
        found = getattr(nipype_plugins, f"{name}Plugin", None)
        if found is None or name.startswith("Carbon"):
            known = sorted(n[:-6] for n in dir(nipype_plugins) if n.endswith("Plugin"))
            raise ValueError(f"unknown nipype plugin {base!r}; known: {', '.join(known)}")
        return found
    cls = base if isinstance(base, type) else type(base)
    if not callable(getattr(cls, "run", None)) or issubclass(cls, CarbonPlugin):
        raise TypeError(f"not a nipype plugin to wrap (it needs a run method): {base!r}")
    return cls


def _is_carbon_callback(callback: Any) -> bool:
    return isinstance(getattr(callback, "__self__", None), CarbonPlugin)


class CarbonPlugin:
    """Wrap a nipype plugin so every node is metered.

    Parameters
    ----------
    base : str, plugin class or plugin instance
        The plugin that runs the nodes (``"MultiProc"``, ``"SLURM"``, your own class).
    plugin_args : dict
        The base plugin's arguments, plus carbon settings (``region``, ``pue``,
        ``intensity_g_per_kwh``, ``carbon_dir``, ``sample_interval_s``, ...;
        see :class:`~nipype_carbon.record.settings.CarbonSettings`), plus for graph
        plugins ``graph_wait`` (default True: wait for the jobs' records) and
        ``graph_wait_timeout_s``.

    Raises
    ------
    SettingsError
        At construction, before any node runs, for a setting that cannot be used.
    """

    def __init__(
        self, base: str | type | PluginBase = "MultiProc", plugin_args: dict | None = None
    ):
        self.plugin_args = dict(plugin_args or {})
        self.settings, rest = CarbonSettings.split(self.plugin_args)
        self.wait = {k: rest.pop(k) for k in WAIT_KEYS if k in rest}
        self._user_callback = rest.get("status_callback")
        base_cls = base_plugin_class(base)
        self.batch = issubclass(base_cls, (SGELikeBatchManagerBase, GraphPluginBase))
        self.graph = issubclass(base_cls, GraphPluginBase)
        instance = not isinstance(base, str | type)
        if not self.graph:
            rest["status_callback"] = self._on_status
        self.base: Any = base if instance else base_cls(plugin_args=rest)
        if instance and not self.graph:
            # an app's own plugin object (nipype's class, a subclass or a copy of it):
            # its callback, if any, still runs after ours
            plugin: Any = self.base
            theirs = getattr(plugin, "_status_callback", None)
            if theirs is not None and not _is_carbon_callback(theirs):
                self._user_callback = theirs
            plugin._status_callback = self._on_status
        self.recorder: RunRecorder | None = None
        self.carbon_dir: Path | None = None
        self._graph: Any = None
        self._started: set[str] = set()

    # -- the run ------------------------------------------------------------
    @property
    def session(self) -> Session | None:
        return self.recorder.session if self.recorder is not None else None

    def run(self, graph: Any, config: dict, updatehash: bool = False) -> Any:
        """Run ``graph`` with the base plugin, metering every node."""
        self._prepare(graph)
        failed: BaseException | None = None
        try:
            return self.base.run(graph, config, updatehash=updatehash)
        except BaseException as err:
            failed = err
            raise
        finally:
            self._finish(graph, failed)

    def _prepare(self, graph: Any) -> None:
        self._graph, self._started = graph, set()
        nodes = list(graph.nodes())
        workflow = _workflow_name(nodes)
        self.carbon_dir = Path(self.settings.carbon_dir or _default_carbon_dir(nodes, workflow))
        self.recorder = RunRecorder(
            self.settings,
            self.carbon_dir,
            {"engine": "nipype", "workflow": workflow, "plugin": type(self.base).__name__},
            batch=self.batch,
            scheduler=f"{type(self.base).__module__}.{type(self.base).__name__}",
            logger=logger,
        )
        session = self.recorder.start()
        session.add_edges((record_name(u), record_name(v)) for u, v in graph.edges())
        for node in nodes:
            attach(node, self.recorder.context)
        self.recorder.expect([record_name(node) for node in nodes])

    def _on_status(self, node: Any, status: str) -> None:
        try:
            if status == "start":
                self._started.add(record_name(node))
            if status in ("end", "exception") and self.session is not None:
                self.recorder.drain()  # type: ignore[union-attr]
                name = record_name(node)
                if status == "end" and name not in self.session.nodes:
                    self._record_without_run(name, node)
        except Exception as err:  # metering never fails the workflow
            logger.warning("nipype-carbon: status of %s not recorded: %s", node, err)
        if self._user_callback is not None:
            self._user_callback(node, status)

    def _record_without_run(self, name: str, node: Any) -> None:
        """A node that ended without a record of its own: skipped, lost or cached.

        Skipped: it never started and a node before it failed (Linear goes on to
        the end of its list). Lost: it started where its record should have come
        back by now (not a batch job) but none came. Cached: the scheduler found
        its result without running it (local hash check).
        """
        status: NodeStatus
        extra: dict[str, Any]
        if name not in self._started and self._after_failure(node):
            status, extra = "skipped", {"skipped_by": "scheduler"}
        elif name in self._started and not self.batch:
            status, extra = "lost", {"found_by": "scheduler"}
        else:
            status, extra = "cached", {"found_by": "scheduler"}
        if isinstance(node, MapNode):  # found whole in the cache: say what it is
            extra["mapnode"] = True
        now = time.time()
        assert self.session is not None
        self.session.add_node(
            NodeRecord(
                name=name,
                status=status,
                start=now,
                end=now,
                host=host_name(),
                interface=interface_name(node),
                workflow=node._hierarchy or "",
                extra=extra,
                error="record lost: the node ran but its record never arrived"
                if status == "lost"
                else None,
            )
        )

    def _after_failure(self, node: Any) -> bool:
        """Whether a node comes after a node that failed in this run."""
        if self._graph is None or self.session is None or node not in self._graph:
            return False
        failed = {n for n, r in self.session.nodes.items() if r.status in ("failed", "killed")}
        if not failed:  # the common case, a rerun of cached nodes: no graph walk
            return False
        return any(record_name(a) in failed for a in _reachable(self._graph, node, upstream=True))

    def _finish(self, graph: Any, failed: BaseException | None) -> None:
        try:
            if self.graph and self.wait.get("graph_wait", True):
                self._wait_for_graph(graph)
            if self.recorder is not None:
                self.recorder.finish(failed)
                log_run_summary(self.recorder.session, logger)
        except Exception as err:
            logger.warning("nipype-carbon: session not completed: %s", err, exc_info=True)
        finally:
            for node in graph.nodes():
                detach(node)

    def _wait_for_graph(self, graph: Any) -> None:
        """Graph plugins return at submission: wait for every job's record (or a timeout)."""
        assert self.recorder is not None and self.session is not None
        timeout = float(self.wait.get("graph_wait_timeout_s", 24 * 3600))
        expected = {record_name(n): n for n in graph.nodes()}
        deadline = time.time() + timeout
        missing: set[str] = set(expected)
        while time.time() < deadline:
            self.recorder.drain()
            nodes = self.session.nodes
            failed = [
                expected[n] for n, r in nodes.items() if r.status == "failed" and n in expected
            ]
            blocked = {record_name(d) for f in failed for d in _reachable(graph, f, upstream=False)}
            missing = set(expected) - set(nodes) - blocked
            if not missing:
                return
            time.sleep(1.0)
        logger.warning(
            "nipype-carbon: gave up waiting for %d job(s); run `nipype-carbon collect %s` later",
            len(missing),
            self.carbon_dir,
        )


def _reachable(graph: Any, node: Any, upstream: bool) -> set[Any]:
    """The nodes before (``upstream``) or after ``node`` in nipype's execution graph.

    A walk over the graph's own ``predecessors``/``successors``: the plugin side
    imports no graph library of its own (it runs beside the nodes, also inside
    containers that have only nipype).
    """
    step = graph.predecessors if upstream else graph.successors
    seen: set[Any] = set()
    todo = list(step(node))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(step(current))
    return seen


def _workflow_name(nodes: list[Any]) -> str:
    for node in nodes:
        if node._hierarchy:
            return str(node._hierarchy.split(".")[0])
    return "workflow"


def _default_carbon_dir(nodes: list[Any], workflow: str) -> Path:
    base = next((n.base_dir for n in nodes if getattr(n, "base_dir", None)), None)
    return Path(base or os.getcwd()) / workflow / "carbon"
