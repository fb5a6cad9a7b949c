"""Metering one node where it runs, for any engine adapter.

:class:`NodeRun` wraps a node's execution in a :class:`NodeMeter` and writes
its record to the run's spool. It never raises into the node: a metering
failure is logged and marked in the record. Meters are opened once per
process (a worker runs many nodes) and re-opened after a fork.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any

from nipype_carbon.measure.host import host_name
from nipype_carbon.measure.measurement import Measurement
from nipype_carbon.measure.meters.factory import MeterSelection, select_meters
from nipype_carbon.measure.nodemeter import NodeMeter
from nipype_carbon.measure.proctree import ProcessTreeClock
from nipype_carbon.record.records import NodeRecord, NodeStatus
from nipype_carbon.record.settings import CarbonSettings, MeterSettings
from nipype_carbon.record.spool import hand_over, write_provisional, write_record

logger = logging.getLogger("nipype_carbon.record.noderun")

_selections: dict[tuple[int, MeterSettings, tuple[str, ...]], MeterSelection] = {}
_lock = threading.Lock()
#: every measuring meter, in the order they are tried
MEASURING = ("rapl", "pyrapl", "nvml")


def meters_for(
    settings: MeterSettings | CarbonSettings, use: tuple[str, ...] | None = None
) -> MeterSelection:
    """The meters this process uses for ``settings``, opened once per process.

    ``use`` limits the measuring meters tried (the model always fills the gaps):
    a worker on the scheduler's host tries only what the scheduler found.
    """
    if isinstance(settings, CarbonSettings):
        settings = settings.meters()
    key = (os.getpid(), settings, MEASURING if use is None else tuple(use))
    found = _selections.get(key)  # the common case: no lock, no new dict
    if found is not None:
        return found
    use = key[2]
    with _lock:
        if key not in _selections:
            _selections[key] = select_meters(
                use=use,
                powercap_root=settings.powercap_root,
                cpu_tdp_w=settings.cpu_tdp_w,
                memory_w_per_gb=settings.memory_w_per_gb,
                cpu_idle_fraction=settings.cpu_idle_fraction,
                declared_gpus=list(settings.gpus),
            )
        return _selections[key]


@dataclass(frozen=True)
class RunContext:
    """What a metered node needs to know about its run; small and picklable.

    ``host`` and ``meter_kinds`` say what the scheduler's host offered: a node
    running on that host tries only those meters; elsewhere it probes its own.
    """

    spool_dir: str
    meters: MeterSettings = field(default_factory=MeterSettings)
    host: str = ""
    meter_kinds: tuple[str, ...] | None = None
    #: the process that drives the workflow: a node run there shares it with the engine
    driver_pid: int | None = None

    def in_driver(self) -> bool:
        """Whether this node runs inside the driving process (and host)."""
        return self.driver_pid == os.getpid() and self.host == host_name()

    def selection(self) -> MeterSelection:
        use = self.meter_kinds if self.host and self.host == host_name() else None
        return meters_for(self.meters, use)


#: environment variables that name the batch job a node runs in
BATCH_JOB_VARIABLES = {
    "SLURM_JOB_ID": "slurm",
    "PBS_JOBID": "pbs",
    "JOB_ID": "sge",
    "LSB_JOBID": "lsf",
}


def batch_job() -> dict[str, str]:
    """The batch system and job id this process runs in, if any."""
    for variable, system in BATCH_JOB_VARIABLES.items():
        if os.environ.get(variable):
            return {"batch_system": system, "batch_job_id": os.environ[variable]}
    return {}


#: how many metered nodes this thread is running (nested: a MapNode's children under Linear)
_running = threading.local()


def inside_node() -> bool:
    """Whether this thread is running a metered node: a workflow run from inside it is part
    of that node's work and energy, not a run of its own (``nipype-carbon run`` leaves it be)."""
    return getattr(_running, "depth", 0) > 0


class NodeRun:
    """Measure one node and spool its record.

    Parameters
    ----------
    context : RunContext
    name : str
        The node's unique name in the run.
    interface, workflow : str
        What ran, and where in the workflow it sits.
    extra : dict
        Engine-specific facts kept with the record.

    Set :attr:`status` to ``"cached"`` when the engine found the result
    cached; an exception leaving the block marks the node ``failed``. A
    provisional record is spooled as the node starts (its start time), refreshed with
    what was measured so far while the node lasts (see ``NodeMeter``'s ``on_progress``)
    and removed once its final record is written, so a process killed mid-node leaves
    a ``killed`` record with what was measured up to its last refresh.
    """

    def __init__(
        self,
        context: RunContext,
        name: str,
        interface: str = "",
        workflow: str = "",
        extra: dict[str, Any] | None = None,
        metered: bool = True,
    ) -> None:
        self.context = context
        self.name = name
        self.interface = interface
        self.workflow = workflow
        self.extra = {**dict(extra or {}), **batch_job()}
        self.status: NodeStatus = "ran"
        self.metered = metered
        self._meter: NodeMeter | None = None
        self._notes: list[str] = []
        self._provisional: str | None = None

    def __enter__(self) -> NodeRun:
        _running.depth = getattr(_running, "depth", 0) + 1
        self._spool_provisional()
        entered = time.perf_counter()
        if self.metered:
            try:
                self._meter = NodeMeter(
                    self.context.selection(),
                    self.context.meters.sample_interval_s,
                    # in the driving process, the node is its thread and the children it starts
                    process_clock=partial(ProcessTreeClock, thread_scope=self.context.in_driver()),
                    on_progress=self._spool_progress,
                )
            except Exception as err:  # never fail the node
                self._note(f"meter not started: {type(err).__name__}: {err}")
            else:
                self._meter.start()
        self._start = time.time()
        self._enter_s = time.perf_counter() - entered
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _running.depth = max(0, getattr(_running, "depth", 1) - 1)
        error = None
        if exc is not None:
            self.status = "failed"
            error = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        try:
            written = self._spool(error)
        except Exception as err:
            logger.warning("nipype-carbon: record of %s not written: %s", self.name, err)
        else:
            # a record waiting in memory leaves the provisional one as its trace on disk
            if written and self._provisional is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self._provisional)

    def _spool_provisional(self) -> None:
        """A ``running`` record, so a process killed mid-node still leaves a trace."""
        record = NodeRecord(
            name=self.name,
            status="running",
            start=time.time(),
            end=time.time(),
            host=host_name(),
            interface=self.interface,
            workflow=self.workflow,
            extra=dict(self.extra),
        )
        try:
            written = write_provisional(self.context.spool_dir, record)
            self._provisional = str(written) if written is not None else None
        except Exception as err:
            logger.warning("nipype-carbon: %s: provisional record not written: %s", self.name, err)

    def _spool_progress(self, measurement: Measurement) -> None:
        """The provisional record again, with what was measured so far (from the sampler
        thread, now and then: a node killed later keeps it). The earlier one goes once
        this one is written."""
        record = NodeRecord.from_measurement(
            self.name,
            measurement,
            status="running",
            interface=self.interface,
            workflow=self.workflow,
            extra=dict(self.extra),
        )
        try:
            path = write_provisional(self.context.spool_dir, record)
        except Exception as err:
            logger.warning("nipype-carbon: %s: provisional record not updated: %s", self.name, err)
            return
        if path is None:
            return  # the earlier one stays
        earlier, self._provisional = self._provisional, str(path)
        if earlier is not None:
            with contextlib.suppress(OSError):
                os.unlink(earlier)

    def _spool(self, error: str | None) -> bool:
        """Write the node's final record; whether it reached a file (the spool, the held
        folder or the session)."""
        stopping = time.perf_counter()
        measurement = self._meter.stop() if self._meter is not None else None
        if self.metered:
            # the meter's own latency around the work: start, stop (the spool write is not timed)
            self.extra["meter_wall_s"] = self._enter_s + time.perf_counter() - stopping
        if measurement is not None:
            self._notes += measurement.errors
        if self.status == "cached":
            measurement = None  # no new energy: the work was done by an earlier run
        if self._notes:
            self.extra["meter_errors"] = self._notes
        if measurement is not None:
            record = NodeRecord.from_measurement(
                self.name,
                measurement,
                status=self.status,
                interface=self.interface,
                workflow=self.workflow,
                extra=self.extra,
                error=error,
            )
        else:
            record = NodeRecord(
                name=self.name,
                status=self.status,
                start=self._start,
                end=time.time(),
                host=host_name(),
                interface=self.interface,
                workflow=self.workflow,
                extra=self.extra,
                error=error,
            )
        if self.context.in_driver() and hand_over(self.context.spool_dir, record):
            return True  # in the session's own process: no spool file to write and read back
        return write_record(self.context.spool_dir, record) is not None

    def _note(self, message: str) -> None:
        logger.warning("nipype-carbon: %s: %s", self.name, message)
        self._notes.append(message)
