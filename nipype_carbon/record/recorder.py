"""One metered run, in the process that drives the workflow: session, spool, scheduler.

Both engine adapters use it. :meth:`RunRecorder.start` creates a fresh session
file in the carbon directory (the spool beside it) and starts metering the
driving process's own CPU; records are drained into the session as nodes finish
(a node run in this process, in its main thread, hands its record over directly);
:meth:`RunRecorder.finish` gathers the last ones, adds the scheduler's record
(``orchestration``), points cached nodes at the earlier session that spent their
energy and appends an ``end`` event; the adapter then logs the summary.
Nothing here raises into the workflow once the run has started.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nipype_carbon.files.trust import shared_folder_warning
from nipype_carbon.measure.calibration import load_calibrations
from nipype_carbon.measure.host import host_name
from nipype_carbon.measure.nodemeter import NodeMeter
from nipype_carbon.measure.proctree import ProcessClock
from nipype_carbon.record.held import hold_lines
from nipype_carbon.record.noderun import RunContext, meters_for
from nipype_carbon.record.reader import earlier_runs
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.runs import new_session_path, session_files
from nipype_carbon.record.scheduler import scheduler_record
from nipype_carbon.record.session import EXPECTED_EVENT, SOURCES_EVENT, Session
from nipype_carbon.record.settings import (
    RUN_VARIABLE,
    CarbonSettings,
    SettingsError,
    check_carbon_dir,
)
from nipype_carbon.record.spool import drain, receive_here, should_replace

#: readings taken in the baseline window before the first node starts
BASELINE_SAMPLES = 5
#: the most of the driver's command line a session keeps: items, characters per item
ARGV_ITEMS, ARGV_ITEM_CHARS = 64, 256


class RunRecorder:
    """The session of one run, written by the process that submits the workflow.

    Parameters
    ----------
    settings : CarbonSettings
    carbon_dir : path
        Where the session file and its spool go.
    metadata : dict
        Kept in the session header (``engine``, ``workflow``, ...).
    batch : bool
        Tasks run on batch nodes: the scheduler keeps its CPU time, not its host's power.
    scheduler : str
        What drives the run, recorded as the scheduler record's interface.
    logger : logging.Logger
        Where the engine's users look (``nipype.workflow``, ``pydra.carbon``).
    """

    def __init__(
        self,
        settings: CarbonSettings,
        carbon_dir: str | Path,
        metadata: dict[str, Any],
        batch: bool = False,
        scheduler: str = "",
        logger: logging.Logger | None = None,
    ) -> None:
        self.logger = logger or logging.getLogger("nipype_carbon")
        self.settings = settings
        self.carbon_dir = Path(carbon_dir).resolve()
        self.metadata = dict(metadata)
        if os.environ.get(RUN_VARIABLE):  # under `nipype-carbon run`: which invocation
            self.metadata.setdefault("launched_by", os.environ[RUN_VARIABLE])
        self.batch = batch
        self.scheduler = scheduler
        self.path = new_session_path(self.carbon_dir)
        self.spool_dir = self.path.with_suffix(".spool")
        here = meters_for(settings)
        self.context = RunContext(
            str(self.spool_dir), settings.meters(), host_name(), here.kinds(), os.getpid()
        )
        self.session: Session | None = None
        self.previous: list[Path] = []
        self._meter: NodeMeter | None = None
        self._finished = False
        self._handlers: dict[int, Any] = {}
        self._pid = 0  # the process whose signals end this session

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (with a workflow that refers to it): what hooks need, no live meter."""
        return {**self.__dict__, "session": None, "_meter": None, "_handlers": {}}

    def start(self) -> Session:
        """Create the session and start metering the submitting process.

        Raises
        ------
        SettingsError
            When the carbon directory cannot hold the session (before any node runs).
        """
        check_carbon_dir(self.carbon_dir)
        try:
            self.carbon_dir.mkdir(parents=True, exist_ok=True)
            self.previous = session_files(self.carbon_dir)
            self.session = self._create_session()
        except OSError as err:
            raise SettingsError(
                f"carbon_dir {self.carbon_dir} cannot hold the session ({err.strerror or err}): "
                "give a writable carbon_dir with free space"
            ) from None
        warning = shared_folder_warning(self.carbon_dir)
        if warning:
            self.logger.warning("nipype-carbon: %s", warning)
        self._catch_signals()
        receive_here(self.spool_dir, self._receive)
        try:
            self._meter = NodeMeter(
                meters_for(self.settings),
                self.settings.sample_interval_s,
                process_clock=ProcessClock,
            )
            self._meter.start()
            self._baseline_window(self._meter)
        except Exception as err:
            self._meter = None
            self.logger.warning("nipype-carbon: scheduler not metered: %s", err)
        self.logger.info("nipype-carbon: session %s", self.path)
        return self.session

    def _baseline_window(self, meter: NodeMeter) -> None:
        """Readings of the host before any node runs, where a counter is measured.

        With them the host's power is seen at the load it had without this run,
        so attribution can tell baseline from busy power even when other
        processes load the host once the run has started. The model's baseline
        is known exactly: no window then.
        """
        window_s = self.settings.baseline_window_s
        if window_s <= 0 or not meters_for(self.settings).kinds():
            return
        for _ in range(BASELINE_SAMPLES):
            time.sleep(window_s / BASELINE_SAMPLES)
            meter.sample()

    def _create_session(self) -> Session:
        """The run's own session file, taken with an exclusive create (never shared)."""
        metadata = {
            **self.metadata,
            "carbon_dir": str(self.carbon_dir),
            "start": time.time(),
            # who drives the run (a study tells a run still going from one that was cut
            # short) and its command line (a BIDS App's --participant-label names subjects)
            "driver": {"host": host_name(), "pid": os.getpid()},
            "argv": [str(a)[:ARGV_ITEM_CHARS] for a in sys.argv[:ARGV_ITEMS]],
            # idle CPU power measured on quiet hosts by `nipype-carbon doctor --calibrate`
            "calibrations": load_calibrations(),
        }
        for _ in range(1000):
            try:
                return Session.create(
                    self.path, metadata=metadata, settings=self.settings.to_dict(), exclusive=True
                )
            except FileExistsError:
                self.path = new_session_path(self.carbon_dir)
                self.spool_dir = self.path.with_suffix(".spool")
                self.context = dataclasses.replace(self.context, spool_dir=str(self.spool_dir))
        raise FileExistsError(f"no free session file name in {self.carbon_dir}")

    def _receive(self, record: NodeRecord) -> bool:
        """A record finished in this process, straight into the session (not through the
        spool); whether the session holds it on disk."""
        if self.session is None or self._finished:
            return False
        if not should_replace(self.session.nodes.get(record.name), record):
            return True  # as a drain would: a cached re-run never hides the run that worked
        # on a full disk the record waits in the spool (or is named lost), as any other
        return self.session.add_node_if_written(record)

    def drain(self, final: bool = False) -> None:
        """Move finished records from the spool into the session (never raises)."""
        if self.session is None:
            return
        try:
            drain(self.spool_dir, self.session, final=final)
        except Exception as err:
            self.logger.warning("nipype-carbon: records not gathered: %s", err)

    def finish(self, failed: BaseException | None = None, signal_name: str | None = None) -> None:
        """Gather the last records, add the scheduler's record and the end event (once).

        The end event's status is ``ok``, ``failed``, or ``interrupted`` (a signal,
        or Ctrl-C); lines a full disk held back are retried here.
        """
        if self.session is None or self._finished:
            return
        self._finished = True
        receive_here(self.spool_dir, None)
        self._restore_signals()
        if isinstance(failed, KeyboardInterrupt) and signal_name is None:
            signal_name = "SIGINT"
        status = "interrupted" if signal_name else "failed" if failed else "ok"
        try:
            # after a signal workers may still run, and batch jobs may outlive the driver
            # (graph_wait=False): their provisional records are judged later, at report time
            self.drain(final=signal_name is None and not self.batch)
            self._record_scheduler()
            self._link_previous_runs()
            end: dict[str, Any] = {"status": status, "error": repr(failed) if failed else None}
            if signal_name:
                end["signal"] = signal_name
            self.session.add_event("end", **end)
            if not self.session.flush():
                self._hold_unwritten()
            with contextlib.suppress(OSError):  # left in place when records are still due
                self.spool_dir.rmdir()
        except Exception as err:
            self.logger.warning("nipype-carbon: session not completed: %s", err, exc_info=True)
        finally:
            if self._meter is not None:
                with contextlib.suppress(Exception):
                    self._meter.stop()  # a no-op when already stopped

    def expect(self, names: list[str]) -> None:
        """Name the nodes the run will have, so a report can name any left without a record."""
        if self.session is not None:
            self.session.add_event(EXPECTED_EVENT, nodes=sorted(names))

    def _hold_unwritten(self) -> None:
        """Lines the session file still cannot take at the end go to the run's held folder."""
        assert self.session is not None
        count = len(self.session.unwritten)
        try:
            where = hold_lines(self.spool_dir, self.session.unwritten)
        except OSError as err:
            self.logger.warning(
                "nipype-carbon: %d line(s) could not be written to %s, nor kept in a folder of "
                "yours (%s): free space there; what is left in %s is gathered by "
                "`nipype-carbon collect %s`",
                count,
                self.path,
                err,
                self.spool_dir,
                self.carbon_dir,
            )
            return
        self.session.unwritten.clear()
        self.session.held_elsewhere = (count, str(where.parent))
        self.logger.warning(
            "nipype-carbon: %d line(s) could not be written to %s: kept in %s (reports read "
            "them there); once there is room, `nipype-carbon collect %s` writes them",
            count,
            self.path,
            where.parent,
            self.carbon_dir,
        )

    # -- signals -------------------------------------------------------------
    def _catch_signals(self) -> None:
        """SIGTERM and SIGINT end the session (``interrupted``), then act as before."""
        if threading.current_thread() is not threading.main_thread():
            return  # handlers can only be set from the main thread
        self._pid = os.getpid()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(signum) in (signal.SIG_IGN, None):
                    continue  # ignored, or handled outside Python: leave it so
                self._handlers[signum] = signal.signal(signum, self._on_signal)

    def _restore_signals(self) -> None:
        handlers, self._handlers = self._handlers, {}
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in handlers.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                if signal.getsignal(signum) == self._on_signal:
                    signal.signal(signum, previous)

    def _on_signal(self, signum: int, frame: Any) -> None:
        previous = self._handlers.get(signum, signal.SIG_DFL)
        name = signal.Signals(signum).name
        if os.getpid() == self._pid:  # not in a forked worker
            self.logger.warning("nipype-carbon: %s received: the session ends as interrupted", name)
            self.finish(signal_name=name)  # restores the previous handlers
        else:
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _record_scheduler(self) -> None:
        meter, self._meter = self._meter, None
        if meter is None or self.session is None:
            return
        measurement = meter.stop()
        if measurement is None:
            return
        record = scheduler_record(
            f"{self.metadata.get('workflow', 'run')}.(scheduler)",
            measurement,
            self.session.nodes.values(),
            interface=self.scheduler,
            extra={"batch": self.batch},
        )
        if self.batch:
            # the submit host's power is not this run's: keep the CPU, not the meter series
            record.measurement = None
            record.extra["cpu_s"] = measurement.cpu_s
        self.session.add_node(record)

    def _link_previous_runs(self) -> None:
        """Point cached records at the earlier session that holds their energy."""
        assert self.session is not None
        wanted = {r.name for r in self.session.nodes.values() if r.status == "cached"}
        found: dict[str, str] = {}
        for path, earlier in earlier_runs(reversed(self.previous)):
            if not wanted:
                break
            for name in list(wanted):
                record = earlier.nodes.get(name)
                if record is not None and record.status == "ran":
                    found[name] = path.name
                    wanted.discard(name)
        if found:
            self.session.add_event(SOURCES_EVENT, sessions=found)
