"""Metering chosen tasks only: a run recorder for tasks that carry carbon hooks.

:class:`CarbonRecorder` *is* the core's run recorder
(:class:`~nipype_carbon.record.recorder.RunRecorder`, shared with the Nipype
plugin: session, spool, scheduler record, end event), made from carbon
settings given as keywords, used as a context manager around a submission,
and able to hand out hooks for the tasks to meter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from nipype_carbon.record.recorder import RunRecorder
from nipype_carbon.record.settings import CarbonSettings
from nipype_carbon.report.summary import log_run_summary

logger = logging.getLogger("pydra.carbon")  # where Pydra users already look


class CarbonRecorder(RunRecorder):
    """A metered run for tasks that carry carbon hooks, with any Pydra worker.

    Parameters
    ----------
    carbon_dir : path, optional
        Where the session goes (default: the ``carbon_dir`` setting, else ``./carbon``).
    name : str
        The run's name in the session and the summary.
    **settings
        Carbon settings (``region``, ``pue``, ``intensity_g_per_kwh``, ...), validated here.

    Examples
    --------
    ::

        from pydra_carbon import CarbonRecorder
        carbon = CarbonRecorder("work/carbon", region="GB")
        workflow.add(Denoise(...), hooks=carbon.hooks("dwi.denoise"))  # in a workflow
        with carbon, Submitter(worker="cf", cache_root="work") as sub:
            sub(my_workflow)
    """

    def __init__(
        self, carbon_dir: str | Path | None = None, name: str = "pydra", **settings: Any
    ) -> None:
        carbon = CarbonSettings.from_mapping(settings)
        carbon.check_folders()  # a powercap_root that is not there, before any task runs
        super().__init__(
            carbon,
            carbon_dir or carbon.carbon_dir or Path.cwd() / "carbon",
            {"engine": "pydra", "workflow": name, "worker": "hooks"},
            scheduler="pydra_carbon.CarbonRecorder",
            logger=logger,
        )

    def hooks(self, name: str | None = None, then: Any = None) -> Any:
        """Pydra ``TaskHooks`` that meter the task they are attached to.

        ``name`` is the record name (default: the node's name, ``[i]`` per state);
        ``then`` are the task's own hooks, which still run.
        """
        from pydra_carbon.hooks import TaskMeter

        return TaskMeter(self.context, name, then).task_hooks()

    def __enter__(self) -> CarbonRecorder:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish(exc)
        log_run_summary(self.session, logger)
