"""What travels with each Pydra job: a metered ``run`` that works wherever the job runs.

The carbon worker gives every leaf job (a python or shell task, one job per
state of a split task) a :class:`MeteredRun` as the instance attribute
``run``. Pydra's workers call ``job.run(rerun=...)`` in the submitting process
(``debug``), in a worker process after a cloudpickle round trip (``cf``), or
in a batch job after loading the pickled job (``slurm``); the attribute
travels with the job, so the measurement is taken where the task runs and its
record is spooled there.

A job is a cache hit when Pydra returns a stored result without running the
task: Pydra then never calls the ``pre_run_task`` hook, which an
:class:`ExecutionSpy` (wrapped around the job's own hooks, which still run)
watches for.
"""

from __future__ import annotations

import logging
from typing import Any

from nipype_carbon.record.noderun import NodeRun, RunContext

logger = logging.getLogger("pydra.carbon.jobs")

#: what pydra's task-definition decorators name the module of the classes they make
DYNAMIC_MODULE = "types"


def task_type(task: Any) -> str:
    """``python``, ``shell`` or ``workflow``: the pydra.compose flavour of a task."""
    try:
        return str(task._task_type())
    except Exception:
        return "unknown"


def interface_name(task: Any) -> str:
    """``module.Class`` of a task; for decorator-made classes, the function's module.

    ``python.define`` and ``shell.define`` build classes in the module ``types``;
    the wrapped function's module (python tasks) or ``pydra.compose.shell``
    (shell templates) says more.
    """
    cls = type(task)
    module = cls.__module__
    if module == DYNAMIC_MODULE:
        function = getattr(task, "function", None)
        module = getattr(function, "__module__", None) or f"pydra.compose.{task_type(task)}"
    return f"{module}.{cls.__qualname__}"


def task_extra(task: Any) -> dict[str, Any]:
    """Facts worth keeping about a task: its flavour and, for shell tasks, the executable."""
    extra: dict[str, Any] = {"task_type": task_type(task)}
    executable = getattr(task, "executable", None) if extra["task_type"] == "shell" else None
    if isinstance(executable, str):
        extra["executable"] = executable
    elif isinstance(executable, list | tuple):
        extra["executable"] = " ".join(str(part) for part in executable)
    return extra


def join(path: str, name: str) -> str:
    """``path.name``, or ``name`` at the top."""
    return f"{path}.{name}" if path else str(name)


def job_name(workflow: str, job: Any) -> str:
    """The record name of a job: ``workflow.node``, with ``[i]`` for a state of a split node."""
    name = join(workflow, job.name)
    return name if job.state_index is None else f"{name}[{job.state_index}]"


def implicit_split(task: Any) -> Any:
    """The user's task inside the workflow Pydra's submitter wraps a split task in, or None."""
    constructor = getattr(task, "constructor", None)
    if getattr(constructor, "__qualname__", "").startswith("Submitter.__call__"):
        return getattr(task, "defn", None)
    return None


class ExecutionSpy:
    """Hooks around a job's own hooks that note whether the task really ran.

    Every call is passed on to the wrapped hooks, so user hooks still run.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.executed = False

    def pre_run(self, job: Any) -> None:
        self.inner.pre_run(job)

    def pre_run_task(self, job: Any) -> None:
        self.executed = True
        self.inner.pre_run_task(job)

    def post_run_task(self, job: Any, result: Any) -> None:
        self.inner.post_run_task(job, result)

    def post_run(self, job: Any, result: Any) -> None:
        self.inner.post_run(job, result)

    def reset(self) -> None:
        self.inner.reset()


class MeteredRun:
    """A job's ``run`` with a meter around it; picklable with its job.

    Parameters
    ----------
    job : pydra.engine.job.Job
        The leaf job (not a workflow).
    context : RunContext
        Where records are spooled and with which settings.
    name : str
        The record name (see :func:`job_name`).
    workflow : str
        The path of the workflow the job belongs to.
    extra : dict
        Engine facts kept with the record.
    """

    def __init__(
        self,
        job: Any,
        context: RunContext,
        name: str,
        workflow: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.job = job
        self.context = context
        self.name = name
        self.workflow = workflow
        self.extra = dict(extra or {})

    def __call__(self, rerun: bool = False) -> Any:
        job = self.job
        unbound = type(job).run
        try:
            run = NodeRun(
                self.context,
                self.name,
                interface=interface_name(job.task),
                workflow=self.workflow,
                extra=self.extra,
            )
            spy = ExecutionSpy(job.hooks)
        except Exception as err:  # metering never fails the task
            logger.warning("pydra-carbon: %s not metered: %s", self.name, err)
            return unbound(job, rerun=rerun)
        job.hooks = spy
        try:
            with run:
                result = unbound(job, rerun=rerun)
                run.status = "ran" if spy.executed else "cached"
        finally:
            job.hooks = spy.inner
        return result


def attach(job: Any, context: RunContext, workflow: str, name: str | None = None) -> str:
    """Give a leaf job a metered run; return its record name (default :func:`job_name`)."""
    name = name or job_name(workflow, job)
    facts = {**task_extra(job.task), "pydra_node": job.name}
    if job.state_index is not None:
        parent = join(workflow, job.name)
        facts.update(
            state_index=job.state_index, mapnode_parent=parent, mapnode_index=job.state_index
        )
    job.__dict__["run"] = MeteredRun(job, context, name, workflow, facts)
    return name


def is_metered(job: Any) -> bool:
    """Whether the carbon worker already meters this job (hooks then only pass calls on)."""
    return isinstance(job.__dict__.get("run"), MeteredRun)
