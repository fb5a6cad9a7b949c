"""The session: the raw, versioned record of one metered run, in memory and written.

A session is a JSON Lines file (``session.jsonl``): a header line, then one
line per host, node, edge set or event, appended as nodes finish. Lines are
appended whole: a short write (a full disk) is cut back to the last complete
line, and what could not be written is kept and retried with the next append
(:meth:`Session.flush`). :meth:`Session.save` writes a whole session atomically
(temporary file, then rename). Nothing derived is stored: energy per node,
emissions and reports are computed from it at render time. Reading a session
back, with its spool, is :mod:`nipype_carbon.record.reader`'s.

A run's status (:attr:`Session.status`) follows from its ``end`` event:
``complete``, ``failed``, or ``interrupted`` (an end event saying so, or none).

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "session.jsonl")
>>> session = Session.create(path, metadata={"workflow": "demo"})
>>> session.add_node(NodeRecord(name="a", status="ran", start=0.0, end=1.0, host="h"))
>>> session.nodes["a"].status, session.status
('ran', 'interrupted')
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nipype_carbon._version import __version__
from nipype_carbon.files.safe import FileRefused, open_append
from nipype_carbon.measure.calibration import CPU_BASELINE_W_RANGE, usable_baseline_w
from nipype_carbon.record.records import STATUSES, HostRecord, NodeRecord
from nipype_carbon.record.runs import new_session_path
from nipype_carbon.record.settings import CarbonSettings

__all__ = ["EXPECTED_EVENT", "MOVED_EVENT", "RUN_STATUSES", "Session", "merge_hosts"]

logger = logging.getLogger("nipype_carbon.record.session")

FORMAT = "nipype-carbon-session"
SCHEMA_VERSION = 1
SESSION_FILE = "session.jsonl"
#: a run's status: it ended normally, ended with an error, or did not end
RUN_STATUSES = ("complete", "failed", "interrupted")
#: how often a session moves to a new file when others keep replacing its file
MAX_MOVES = 3
#: the event a session records when it moved to a new file
MOVED_EVENT = "session_moved"
#: the event naming the nodes a run will have (so those left without a record are named)
EXPECTED_EVENT = "expected_nodes"
#: the event naming, per cached node, the earlier session that spent its energy
SOURCES_EVENT = "cached_energy_sources"


class Session:
    """A run's raw record, in memory and (when it has a path) on disk."""

    def __init__(
        self,
        metadata: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.settings: dict[str, Any] = dict(settings or {})
        self.path = Path(path) if path is not None else None
        self.created = time.time()
        self.nodes: dict[str, NodeRecord] = {}
        self.hosts: dict[str, HostRecord] = {}
        self.edges: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []
        self.partial = False
        #: damaged lines skipped on load: (line number, why)
        self.damaged: list[tuple[int, str]] = []
        #: values left out of lines on load (the rest of the line kept): (line number, why)
        self.flagged: list[tuple[int, str]] = []
        #: lines merged on load from the run's held folder (the carbon directory was full)
        self.merged_from_held = 0
        #: lines this session could not write, kept in a folder of the user's: (count, where)
        self.held_elsewhere: tuple[int, str] | None = None
        #: lines not yet written (a full disk): retried by the next append or flush()
        self.unwritten: list[dict[str, Any]] = []
        #: records found in the run's spool and merged on load (not yet in the file)
        self.merged_from_spool = 0
        self.tool: dict[str, Any] = {"name": "nipype-carbon", "version": __version__}
        #: the file this session writes (device, inode): appends go to it or nowhere
        self.identity: tuple[int, int] | None = None
        #: where the session was before someone else replaced its file: (path, why)
        self.moved: list[tuple[str, str]] = []

    # -- writing --------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
        exclusive: bool = False,
    ) -> Session:
        """A new session written at ``path`` (a file, or a directory to hold session.jsonl).

        With ``exclusive``, raise :class:`FileExistsError` when the file exists
        (two recorders never share a file).
        """
        target = Path(path)
        if target.is_dir() or not target.suffix:
            target = target / SESSION_FILE
        session = cls(metadata, settings, target)
        session.identity = _atomic_write(target, [session._header()], exclusive=exclusive)
        return session

    # -- status ------------------------------------------------------------
    @property
    def end_event(self) -> dict[str, Any] | None:
        """The run's last ``end`` event, if it has one."""
        ends = [e for e in self.events if e.get("kind") == "end"]
        return ends[-1] if ends else None

    @property
    def status(self) -> str:
        """``complete``, ``failed`` or ``interrupted`` (see :data:`RUN_STATUSES`)."""
        end = self.end_event
        if end is None or end.get("status") == "interrupted":
            return "interrupted"
        return "failed" if end.get("status") == "failed" else "complete"

    def status_text(self) -> str:
        """The status with its reason, one line (``interrupted (SIGTERM)``)."""
        end = self.end_event
        if end is None:
            return "interrupted (no end event: the run was killed or is still going)"
        if self.status == "interrupted":
            return f"interrupted ({end.get('signal') or end.get('error') or 'no reason given'})"
        if self.status == "failed":
            return f"failed ({end.get('error') or 'no error recorded'})"
        return "complete"

    def problems(self) -> list[str]:
        """What a report must say about this session's completeness, one line each."""
        notes = []
        if self.damaged:
            notes.append(f"{len(self.damaged)} damaged line(s) skipped ({_lines(self.damaged)})")
        if self.flagged:
            notes.append(f"{len(self.flagged)} value(s) left out ({_lines(self.flagged)})")
        if self.merged_from_spool:
            notes.append(f"{self.merged_from_spool} record(s) merged from the spool")
        if self.merged_from_held:
            notes.append(
                f"{self.merged_from_held} line(s) merged from the held folder (the carbon "
                "directory could not take them: `nipype-carbon collect` writes them there)"
            )
        lost = [n for n, r in self.nodes.items() if r.status in ("lost", "killed")]
        if lost:
            notes.append(f"{len(lost)} node(s) killed or with their record lost")
        if self.unwritten:
            notes.append(f"{len(self.unwritten)} line(s) could not be written to {self.path}")
        if self.held_elsewhere:
            count, where = self.held_elsewhere
            notes.append(
                f"{count} line(s) could not be written to {self.path}: kept in {where} "
                "(`nipype-carbon collect` writes them once there is room)"
            )
        missing = self.missing_nodes()
        if missing:
            why = (
                "none arrived: the carbon directory was full or read-only, or the records are "
                "held in a folder of the run owner's (`nipype-carbon collect` as that user)"
                if self.status == "complete"
                else "they did not run, or their records never arrived"
            )
            shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
            notes.append(f"{len(missing)} node(s) of the workflow have no record ({shown}): {why}")
        for event in self.events:
            if event.get("kind") == MOVED_EVENT:
                notes.append(
                    f"the run's session file {event.get('previous')} was replaced by someone "
                    f"else ({event.get('reason')}); the run went on in this file"
                )
        return notes

    def recorded_settings(self) -> CarbonSettings:
        """The run's carbon settings as recorded, read through the settings class."""
        return CarbonSettings.recorded(self.settings)

    def calibrated_baseline(self, host: str) -> tuple[float | None, str] | None:
        """The host's idle CPU power given by the run (``cpu_baseline_w``), else measured on
        a quiet host by ``nipype-carbon doctor --calibrate`` (kept in the run's metadata),
        with how it was obtained; None when there is neither.

        A value that is not a finite number of watts in range (an older session's header
        kept whatever the calibration file held) is ignored: ``(None, why)``, so the
        baseline is estimated as without one and its method says why.
        """
        ignored = []
        given = self.settings.get("cpu_baseline_w")
        if given is not None:
            watts = usable_baseline_w(given)
            if watts is not None:
                return watts, "calibrated: cpu_baseline_w setting, measured by the user"
            ignored.append(f"cpu_baseline_w setting {_out_of_range(given)}")
        calibrations = self.metadata.get("calibrations")
        kept = calibrations.get(host) if isinstance(calibrations, dict) else None
        if isinstance(kept, dict) and kept.get("cpu_baseline_w") is not None:
            watts = usable_baseline_w(kept["cpu_baseline_w"])
            if watts is not None:
                measured = kept.get("measured")
                when = f" ({measured:.40})" if isinstance(measured, str) else ""
                return watts, f"calibrated: nipype-carbon doctor --calibrate on a quiet host{when}"
            ignored.append(f"calibration of {host} {_out_of_range(kept['cpu_baseline_w'])}")
        return (None, "; ".join(ignored)) if ignored else None

    def missing_nodes(self) -> list[str]:
        """Nodes the run said it would have (:data:`EXPECTED_EVENT`) that have no record."""
        expected = [e for e in self.events if e.get("kind") == EXPECTED_EVENT]
        names = {n for e in expected for n in e.get("nodes") or [] if isinstance(n, str)}
        return sorted(names - set(self.nodes))

    def _header(self) -> dict[str, Any]:
        return {
            "type": "header",
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "tool": self.tool,
            "created": self.created,
            "metadata": self.metadata,
            "settings": self.settings,
        }

    def add_node(self, record: NodeRecord) -> None:
        """Add a node (and its host's meters, where new) and append it to the file.

        A host's meters are the union over every process that measured on it: a
        later job with other GPUs adds its domains (a new host line, which a
        reader takes in place of the earlier one).
        """
        lines, merged = self._node_lines(record)
        if merged is not None:
            self.hosts[merged.name] = merged
        self.nodes[record.name] = record
        self._append(lines)

    def add_node_if_written(self, record: NodeRecord) -> bool:
        """Add a node only if its lines reach the file now; else change nothing (False).

        For a record that has somewhere else to wait (the spool) when the disk is full.
        """
        if self.path is None or self.unwritten:
            return False
        lines, merged = self._node_lines(record)
        try:
            _append_whole(
                self.path,
                "".join(_json_line(line) for line in lines).encode("utf-8"),
                self.identity,
            )
        except OSError:
            return False
        if merged is not None:
            self.hosts[merged.name] = merged
        self.nodes[record.name] = record
        return True

    def _node_lines(self, record: NodeRecord) -> tuple[list[dict[str, Any]], HostRecord | None]:
        """The lines that add a node (its host's first, where new to the session)."""
        if record.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {record.status!r}")
        lines = []
        host = self._host_from(record)
        merged = merge_hosts(self.hosts.get(host.name), host) if host is not None else None
        if merged is not None:
            lines.append({"type": "host", **asdict(merged)})
        lines.append({"type": "node", **record.to_dict()})
        return lines, merged

    def append_lines(self, lines: list[dict[str, Any]]) -> None:
        """Append lines already applied to this session (``record.reader.apply_line``)."""
        self._append(list(lines))

    def add_host(self, host: HostRecord) -> None:
        """Record a host explicitly (e.g. with a baseline measured before the run)."""
        self.hosts[host.name] = host
        self._append([{"type": "host", **asdict(host)}])

    def add_edges(self, edges: Iterable[tuple[str, str]]) -> None:
        new = [(str(a), str(b)) for a, b in edges]
        self.edges.extend(new)
        self._append([{"type": "edges", "edges": new}])

    def add_event(self, kind: str, **data: Any) -> None:
        """Record an event: a meter failure, the end of the run, an orchestration cost."""
        event = {"kind": kind, "time": time.time(), **data}
        self.events.append(event)
        self._append([{"type": "event", **event}])

    def _host_from(self, record: NodeRecord) -> HostRecord | None:
        measured = record.measured
        return measured.host_record() if measured is not None else None

    def _append(self, lines: list[dict[str, Any]]) -> bool:
        """Append whole lines (and any left unwritten before); False if they wait for a retry."""
        if self.path is None:
            return True
        self.unwritten.extend(lines)
        return self.flush()

    def flush(self) -> bool:
        """Write the lines a full disk held back; True when none is left.

        A short write is cut back to the last whole line, so a session never holds
        a partial line in its middle; if even that fails, the next write starts on
        a new line.
        """
        if self.path is None or not self.unwritten:
            return True
        data = "".join(_json_line(line) for line in self.unwritten).encode("utf-8")
        try:
            _append_whole(self.path, data, self.identity)
        except SessionReplaced as err:
            return self._move(str(err))
        except OSError as err:
            logger.warning(
                "nipype-carbon: %d line(s) not yet written to %s (%s); retried later",
                len(self.unwritten),
                self.path,
                err.strerror or err,
            )
            return False
        self.unwritten.clear()
        return True

    def _move(self, why: str) -> bool:
        """Someone else replaced or removed the session's file: write the whole session
        afresh under a new name beside it (created exclusively) and go on there."""
        assert self.path is not None
        if len(self.moved) >= MAX_MOVES:
            logger.warning("nipype-carbon: %s: %s; not moved again", self.path, why)
            return False
        old = self.path
        for _ in range(100):
            target = new_session_path(old.parent)
            try:
                self.identity = _atomic_write(target, self._lines(), exclusive=True)
                break
            except FileExistsError:
                continue
            except OSError as err:
                logger.warning("nipype-carbon: %s: %s; not moved: %s", old, why, err)
                return False
        else:
            return False
        self.moved.append((str(old), why))
        self.path = target
        self.unwritten.clear()
        self.add_event(MOVED_EVENT, previous=str(old), reason=why)
        logger.warning(
            "nipype-carbon: %s: %s; this run's record goes on in %s (nothing was written "
            "through the replacement)",
            old,
            why,
            target,
        )
        return True

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the whole session atomically (to ``path`` or where it lives)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this session has no path: pass one to save()")
        identity = _atomic_write(target, self._lines())
        if target == self.path:
            self.identity = identity
        return target

    def _lines(self) -> Iterator[dict[str, Any]]:
        yield self._header()
        for host in self.hosts.values():
            yield {"type": "host", **asdict(host)}
        for record in self.nodes.values():
            yield {"type": "node", **record.to_dict()}
        if self.edges:
            yield {"type": "edges", "edges": self.edges}
        for event in self.events:
            yield {"type": "event", **event}


def _out_of_range(value: object) -> str:
    low, high = CPU_BASELINE_W_RANGE
    return f"{value!r:.20} ignored: not a number of watts from {low:g} to {high:,g}"


def _lines(found: list[tuple[int, str]], explained: int = 3) -> str:
    """``line 2: why; line 5: why; lines 9, 12, ...``: the first few with their reason."""
    parts = [f"line {n}: {why}" for n, why in found[:explained]]
    rest = [str(n) for n, _ in found[explained:]]
    if rest:
        more = ", ..." if len(rest) > 10 else ""
        parts.append(f"line(s) {', '.join(rest[:10])}{more}")
    return "; ".join(parts)


def merge_hosts(known: HostRecord | None, new: HostRecord) -> HostRecord | None:
    """``known`` with the meters and baselines of ``new`` it lacks, or None when nothing is new."""
    if known is None:
        return new
    extra = known.meters_with_new_domains(new)
    baselines = {k: v for k, v in new.baseline_power_w.items() if k not in known.baseline_power_w}
    if not extra and not baselines:
        return None
    return known.with_meters(extra, baselines)


def _json_line(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(",", ":")) + "\n"


class SessionReplaced(OSError):
    """The session's file is no longer the one this session created (replaced or removed)."""


def _append_whole(path: Path, data: bytes, identity: tuple[int, int] | None = None) -> None:
    """Append ``data`` (whole lines) or nothing: a short write is cut back, then raised.

    A link at ``path`` is never followed, and with ``identity`` the file must still be
    the one the session created (else :class:`SessionReplaced`).
    """
    try:
        fd = open_append(path)
    except FileNotFoundError:
        raise SessionReplaced(errno.ENOENT, "its file was removed") from None
    except FileRefused as err:
        raise SessionReplaced(err.errno or errno.ELOOP, f"its file was replaced: {err}") from None
    try:
        st = os.fstat(fd)
        if identity is not None and (st.st_dev, st.st_ino) != identity:
            raise SessionReplaced(errno.ESTALE, "its file was replaced by another one")
        size = st.st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            os.write(fd, b"\n")  # re-sync after an earlier partial line
            size += 1
        written = 0
        try:
            while written < len(data):
                n = os.write(fd, data[written:])
                if n <= 0:
                    raise OSError(errno.ENOSPC, "short write")
                written += n
        except OSError:
            if written:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
            raise
    finally:
        os.close(fd)


def _atomic_write(
    target: Path, lines: Iterable[dict[str, Any]], exclusive: bool = False
) -> tuple[int, int]:
    """Write a whole session (temporary file, then rename or, ``exclusive``, link); return
    the file's identity (device, inode)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=target.parent)  # O_EXCL, no link
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(_json_line(line))
            handle.flush()
            os.fsync(handle.fileno())
            st = os.fstat(handle.fileno())
        if exclusive:
            os.link(tmp, target)  # fails if the name is taken: never two runs in one file
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return st.st_dev, st.st_ino
