"""CarbonWorker: any Pydra 1.0 worker, with an energy meter on every task it runs.

``Submitter(worker="carbon", base="cf", n_procs=4, region="GB")`` builds the
base worker (``cf``) from the keywords that are not carbon settings and lets it
do what it always does. Every leaf job it is handed carries a metered ``run``
(:mod:`pydra_carbon.metered`), so the task is measured where it runs; each
top-level submission gets a session (:mod:`pydra_carbon.recorder`); workflow
jobs, which Pydra runs in the submitting process, add the graph
(:mod:`pydra_carbon.workflows`).

A plain subclass of Pydra's ``Worker``, not an ``attrs`` class: the worker is
pickled with every job (the job keeps its submitter) and an ``attrs`` subclass
breaks the ``cf`` worker's pickling.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydra.engine  # noqa: F401 - pydra.workers.base cannot be the first pydra import
from pydra.utils.general import is_workflow
from pydra.workers.base import Worker

from nipype_carbon.record.recorder import RunRecorder
from nipype_carbon.record.settings import CarbonSettings, SettingsError
from nipype_carbon.report.summary import log_run_summary
from pydra_carbon import workflows
from pydra_carbon.metered import attach, implicit_split, interface_name, job_name

logger = logging.getLogger("pydra.carbon")  # where Pydra users already look

#: the path of the workflow whose jobs are being handed out, in this asyncio task or call
_WORKFLOW: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pydra_carbon_workflow", default=None
)
#: base workers whose tasks run on other hosts
BATCH_WORKERS = ("slurm", "sge", "pbs", "lsf", "oar", "psij")


def base_worker(base: str | type | Any, kwargs: dict[str, Any]) -> Any:
    """The worker that runs the tasks: a name (``"cf"``), a Worker class or instance."""
    if isinstance(base, Worker):
        if kwargs:
            raise TypeError(f"base is a worker object: {sorted(kwargs)} cannot be applied")
        return base
    cls = Worker.plugin(base) if isinstance(base, str) else base
    if not (isinstance(cls, type) and issubclass(cls, Worker)) or cls.plugin_name() == "carbon":  # type: ignore[attr-defined]
        raise ValueError(f"base must name or be a pydra worker other than carbon, not {base!r}")
    return cls(**kwargs)


class _PluginName:
    """``plugin_name()``: ``carbon`` on the class, the base worker's name on an instance.

    The submitter asks its worker's name to choose defaults (raise errors and
    clean stale locks under ``debug``); a carbon worker keeps its base's.
    """

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return lambda: "carbon"
        return lambda: obj.base.plugin_name()


class CarbonWorker(Worker):
    """Wrap a Pydra worker so every task it runs is metered.

    Parameters
    ----------
    base : str, Worker class or Worker
        The worker that runs the tasks (``"debug"``, ``"cf"``, ``"slurm"``, ``"dask"``
        with ``pydra-workers-dask`` installed, ...).
    **kwargs
        Carbon settings (``region``, ``pue``, ``intensity_g_per_kwh``, ``carbon_dir``,
        ``sample_interval_s``, ...; see :class:`~nipype_carbon.record.settings.CarbonSettings`),
        then the base worker's own arguments (``n_procs``, ``sbatch_args``, ...).

    Raises
    ------
    SettingsError
        At construction, before any task runs, for a setting that cannot be used.

    Examples
    --------
    ::

        from pydra.engine.submitter import Submitter
        with Submitter(worker="carbon", base="cf", n_procs=2, region="GB") as sub:
            result = sub(my_workflow)
    """

    _plugin_name = "carbon"
    plugin_name = _PluginName()

    def __init__(self, base: str | type | Any = "cf", **kwargs: Any) -> None:
        self.settings, rest = CarbonSettings.split(kwargs)
        self.base = base_worker(base, rest)
        self.recorder: RunRecorder | None = None
        self._active = False  # a top-level submission is under way
        self._loop: Any = None

    # -- what pydra asks of a worker ------------------------------------------
    @property
    def loop(self) -> Any:
        return self._loop

    @loop.setter
    def loop(self, value: Any) -> None:
        self._loop = value
        self.base.loop = value

    @property
    def is_async(self) -> bool:
        return bool(self.base.is_async)

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "base": self.base}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self.base = state["base"]
        self.recorder = None
        self._active = False
        self._loop = None

    def close(self) -> None:
        self.base.close()

    def run(self, job: Any, rerun: bool = False) -> Any:
        """Run a job with the base worker; a coroutine when the base is asynchronous."""
        if self.is_async:
            return self._run_async(job, rerun)
        with self._top_level(job):
            if is_workflow(job.task):  # the debug worker runs workflows through run()
                with self._workflow(job):
                    return self.base.run(job, rerun=rerun)
            self._prepare(job)
            try:
                return self.base.run(job, rerun=rerun)
            finally:
                self._drain()

    async def submit(self, job: Any, rerun: bool = False) -> Any:
        """Run a job of an asynchronous base: workflows here, tasks with the base."""
        with self._top_level(job):
            if not job.is_async:
                return await self._run_async(job, rerun)
            with self._workflow(job):
                return await job.run_async(rerun=rerun)

    async def _run_async(self, job: Any, rerun: bool) -> Any:
        with self._top_level(job):
            self._prepare(job)
            try:
                return await self.base.run(job, rerun=rerun)
            finally:
                self._drain()

    # -- metering --------------------------------------------------------------
    def _prepare(self, job: Any) -> None:
        """Give a leaf job its metered run (where it runs, the record is spooled)."""
        try:
            # the checksum travels with the pickled job: a lone top-level task under
            # cf otherwise gets a different one in the worker and its result is lost
            job.checksum  # noqa: B018
            if self.recorder is not None and self.recorder.session is not None:
                workflow = _WORKFLOW.get()
                top = type(job.task).__name__ if workflow is None else None
                attach(job, self.recorder.context, workflow or "", top)
        except Exception as err:  # metering never fails the workflow
            logger.warning("pydra-carbon: job %s not metered: %s", job.name, err)

    def _drain(self) -> None:
        if self.recorder is not None:
            self.recorder.drain()

    @contextlib.contextmanager
    def _top_level(self, job: Any) -> Iterator[None]:
        """Open a session around a top-level submission; nested calls pass through."""
        if self._active:
            yield
            return
        self.recorder = self._open(job)  # an unusable carbon_dir raises here: nothing ran
        self._active = True
        failed: BaseException | None = None
        try:
            yield
        except BaseException as err:
            failed = err
            raise
        finally:
            recorder, self.recorder, self._active = self.recorder, None, False
            if recorder is not None:
                recorder.finish(failed)
                log_run_summary(recorder.session, logger)

    def _open(self, job: Any) -> RunRecorder | None:
        name = type(implicit_split(job.task) or job.task).__name__
        carbon_dir = self.settings.carbon_dir or Path(job.cache_root) / "carbon" / name
        base = self.base.plugin_name()
        metadata = {
            "engine": "pydra",
            "workflow": name,
            "worker": "carbon",
            "base": base,
            "cache_root": str(job.cache_root),
            "task": interface_name(job.task),
        }
        try:
            recorder = RunRecorder(
                self.settings,
                carbon_dir,
                metadata,
                batch=base in BATCH_WORKERS,
                scheduler=f"{type(self.base).__module__}.{type(self.base).__name__}",
                logger=logger,
            )
            recorder.start()
        except SettingsError:
            raise
        except Exception as err:
            logger.warning("pydra-carbon: run not metered, no session: %s", err)
            return None
        return recorder

    @contextlib.contextmanager
    def _workflow(self, job: Any) -> Iterator[None]:
        """Name the jobs handed out while a workflow job runs; record its graph after."""
        parent = _WORKFLOW.get()
        if parent is not None:
            path = job_name(parent, job)
        else:  # the top: named after its class, or unnamed around a split task
            path = "" if implicit_split(job.task) is not None else type(job.task).__name__
        token = _WORKFLOW.set(path)
        try:
            yield
        finally:
            _WORKFLOW.reset(token)
            self._after_workflow(job, path)

    def _after_workflow(self, job: Any, path: str) -> None:
        recorder = self.recorder
        if recorder is None or recorder.session is None:
            return
        try:
            recorder.drain()
            values = job.return_values if isinstance(job.return_values, dict) else {}
            if "exec_graph" in values:
                workflows.workflow_expanded(recorder.session, job, path, recorder.previous)
            elif workflows.has_result(job):
                workflows.workflow_cached(recorder.session, job, path, recorder.previous)
        except Exception as err:
            logger.warning("pydra-carbon: workflow %s not recorded: %s", path, err)
