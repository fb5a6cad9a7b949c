"""Metering chosen tasks only: a run recorder for tasks that carry carbon hooks.

The run itself (session, spool, scheduler record, end event, summary) is the
core's :class:`~nipype_carbon.recorder.RunRecorder`, shared with the Nipype plugin.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import Any

from nipype_carbon.recorder import RunRecorder
from nipype_carbon.session import Session
from nipype_carbon.settings import CarbonSettings

logger = logging.getLogger("pydra.carbon")  # where Pydra users already look


class CarbonRecorder:
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
        self.settings = CarbonSettings.from_mapping(settings)
        where = carbon_dir or self.settings.carbon_dir or Path.cwd() / "carbon"
        self.recorder = RunRecorder(
            self.settings,
            where,
            {"engine": "pydra", "workflow": name, "worker": "hooks"},
            scheduler="pydra_carbon.CarbonRecorder",
            logger=logger,
        )

    @property
    def session(self) -> Session | None:
        return self.recorder.session

    def hooks(self, name: str | None = None, then: Any = None) -> Any:
        """Pydra ``TaskHooks`` that meter the task they are attached to.

        ``name`` is the record name (default: the node's name, ``[i]`` per state);
        ``then`` are the task's own hooks, which still run.
        """
        from pydra_carbon.hooks import TaskMeter

        return TaskMeter(self.recorder.context, name, then).task_hooks()

    def __enter__(self) -> CarbonRecorder:
        self.recorder.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.recorder.finish(exc)
