"""Carbon hooks: Pydra ``TaskHooks`` that meter the tasks a user chooses.

Pydra calls a job's hooks where the job runs: ``pre_run`` before it looks
for a cached result, ``pre_run_task`` and ``post_run_task`` around the task
itself (``post_run_task`` also when the task fails), ``post_run`` after a
successful run. A :class:`TaskMeter` starts a node meter in ``pre_run_task``
and spools the record in ``post_run_task``; in ``pre_run`` it notes a cache
hit (a stored result that Pydra will return without running the task), which
a real run replaces. The task's own hooks still run, outside the meter.

Jobs the carbon worker meters already (:func:`pydra_carbon.metered.is_metered`)
are not metered twice: their hooks only pass the calls on.

Examples
--------
>>> from nipype_carbon.record.noderun import RunContext
>>> hooks = TaskMeter(RunContext("/tmp/spool"), name="dwi.denoise").task_hooks()
>>> type(hooks).__name__
'TaskHooks'
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from pydra.engine.hooks import TaskHooks

from nipype_carbon.record.noderun import NodeRun, RunContext
from pydra_carbon.metered import interface_name, is_metered, job_name, task_extra

logger = logging.getLogger("pydra.carbon.hooks")

#: where a job keeps the meter its hooks started, between pre_run_task and post_run_task
RUN_ATTRIBUTE = "_pydra_carbon_run"


class TaskMeter:
    """The hook functions of a metered task; picklable, so they travel with the job.

    Parameters
    ----------
    context : RunContext
        The run's spool and settings.
    name : str, optional
        Record name; default the job's node name, with ``[i]`` for each state of a split.
    then : TaskHooks, optional
        The task's own hooks, called as before.
    """

    def __init__(self, context: RunContext, name: str | None = None, then: Any = None) -> None:
        self.context = context
        self.name = name
        self.then = then if then is not None else TaskHooks()

    def task_hooks(self) -> TaskHooks:
        """A Pydra ``TaskHooks`` calling this meter's methods."""
        return TaskHooks(
            pre_run=self.pre_run,
            pre_run_task=self.pre_run_task,
            post_run_task=self.post_run_task,
            post_run=self.post_run,
        )

    def record_name(self, job: Any) -> str:
        if self.name is None:
            return job_name("", job)
        return self.name if job.state_index is None else f"{self.name}[{job.state_index}]"

    def _node_run(self, job: Any, metered: bool) -> NodeRun:
        extra = {**task_extra(job.task), "pydra_node": job.name, "metered_by": "hooks"}
        if job.state_index is not None:
            extra["state_index"] = job.state_index
        return NodeRun(
            self.context,
            self.record_name(job),
            interface=interface_name(job.task),
            extra=extra,
            metered=metered,
        )

    # -- the hooks ----------------------------------------------------------
    def pre_run(self, job: Any) -> None:
        self.then.pre_run(job)
        if is_metered(job):
            return
        try:
            result = job.result()
            if result is not None and not result.errored:
                with self._node_run(job, metered=False) as run:
                    run.status = "cached"  # replaced by the real record if the task runs
        except Exception as err:  # metering never fails the task
            logger.debug("pydra-carbon: cache check of %s skipped: %s", job.name, err)

    def pre_run_task(self, job: Any) -> None:
        self.then.pre_run_task(job)
        if is_metered(job):
            return
        try:
            run = self._node_run(job, metered=True)
            run.__enter__()
            job.__dict__[RUN_ATTRIBUTE] = run
        except Exception as err:
            logger.warning("pydra-carbon: %s not metered: %s", job.name, err)

    def post_run_task(self, job: Any, result: Any) -> None:
        run = job.__dict__.pop(RUN_ATTRIBUTE, None)
        if run is not None:
            try:
                self._stop(run, result)
            except Exception as err:
                logger.warning("pydra-carbon: record of %s not written: %s", job.name, err)
        self.then.post_run_task(job, result)

    def post_run(self, job: Any, result: Any) -> None:
        self.then.post_run(job, result)

    @staticmethod
    def _stop(run: NodeRun, result: Any) -> None:
        if not getattr(result, "errored", False):
            run.__exit__(None, None, None)
            return
        # pydra calls post_run_task from a ``finally`` while the task's exception propagates
        exc_type, exc, tb = sys.exc_info()
        if exc is None:
            run.status = "failed"
        run.__exit__(exc_type, exc, tb)
