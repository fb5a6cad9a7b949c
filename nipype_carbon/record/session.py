"""The session: the raw, versioned record of one metered run.

A session is a JSON Lines file (``session.jsonl``): a header line, then one
line per host, node, edge set or event, appended as nodes finish. Lines are
appended whole: a short write (a full disk) is cut back to the last complete
line, and what could not be written is kept and retried with the next append
(:meth:`Session.flush`). On load every valid line is kept; a damaged line is
skipped and named in :attr:`Session.damaged`; a line that parses but holds
wrong types or impossible values is refused with its line and field.
:meth:`Session.save` writes a whole session atomically (temporary file, then
rename). Nothing derived is stored: energy per node, emissions and reports are
computed from it at render time.

A run's status (:attr:`Session.status`) follows from its ``end`` event:
``complete``, ``failed``, or ``interrupted`` (an end event saying so, or none).

Examples
--------
>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "session.jsonl")
>>> session = Session.create(path, metadata={"workflow": "demo"})
>>> session.add_node(NodeRecord(name="a", status="ran", start=0.0, end=1.0, host="h"))
>>> load_session(path).nodes["a"].status
'ran'
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
from nipype_carbon.files.safe import FileRefused, iter_lines, open_append, open_regular
from nipype_carbon.record import validate
from nipype_carbon.record.held import held_lines
from nipype_carbon.record.records import STATUSES, HostRecord, NodeRecord
from nipype_carbon.record.runs import (
    SessionError,
    choose_run,
    new_session_path,
    resolve_session_path,
    session_files,
)

__all__ = [
    "RUN_STATUSES",
    "Session",
    "SessionError",
    "choose_run",
    "load_session",
    "new_session_path",
    "resolve_session_path",
    "session_files",
]

logger = logging.getLogger("nipype_carbon.record.session")

FORMAT = "nipype-carbon-session"
SCHEMA_VERSION = 1
SESSION_FILE = "session.jsonl"
#: a run's status: it ended normally, ended with an error, or did not end
RUN_STATUSES = ("complete", "failed", "interrupted")
#: how often a session moves to a new file when others keep replacing its file
MAX_MOVES = 3
#: the longest line read (a node's samples over many hours); longer ones are skipped
MAX_LINE_B = 256 << 20
#: the longest header read: a file whose first line is longer is not a session
MAX_HEADER_B = 1 << 20
#: the event a session records when it moved to a new file
MOVED_EVENT = "session_moved"
#: the event naming the nodes a run will have (so those left without a record are named)
EXPECTED_EVENT = "expected_nodes"


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

    def add_lines(self, lines: list[dict[str, Any]]) -> None:
        """Add lines as read from a file (checked as a loader checks them) and append them;
        a line that cannot be used raises :class:`~validate.LineError`."""
        for line in lines:
            _apply_line(self, line, [])
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

    # -- reading --------------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Session:
        """Read a session file, or the session.jsonl inside a carbon directory."""
        return load_session(path)


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


def load_session(path: str | os.PathLike[str], spool: bool = True) -> Session:
    """Load a session: every valid line is kept, damaged ones are named and skipped.

    The file is read line by line, a line at most :data:`MAX_LINE_B` long (a longer
    one is skipped as it is read, never held whole) and the header at most
    :data:`MAX_HEADER_B`, so a damaged or foreign file costs bounded memory; a file
    that is not a regular file (a pipe, a device) is refused at once. A line that is
    not JSON (a crash mid-write, a full disk), or whose fields cannot be used, is
    skipped and listed in :attr:`Session.damaged` with the field named; a value that
    can be left out alone (one counter reading out of its range) is left out and
    listed in :attr:`Session.flagged`. Only a file whose header is not a
    nipype-carbon session's raises :class:`SessionError`.
    With ``spool``, records left in the run's spool or held for it elsewhere
    (:mod:`~nipype_carbon.record.held`) are merged in memory (the file is not changed;
    ``nipype-carbon collect`` writes them).
    """
    target = resolve_session_path(path)
    try:
        handle = os.fdopen(open_regular(target), "rb")
    except OSError as err:
        raise SessionError(f"cannot read {target}: {err.strerror or err}") from None
    with handle:
        st = os.fstat(handle.fileno())
        header = handle.readline(MAX_HEADER_B + 1)
        if not header.strip():
            raise SessionError(f"{target} is empty: not a nipype-carbon session")
        if len(header) > MAX_HEADER_B and not header.endswith(b"\n"):
            raise SessionError(
                f"{target} is not a nipype-carbon session (its first line is longer than "
                f"{MAX_HEADER_B >> 20} MB, no session header)"
            )
        session = _session_from_header(_parse_header(target, _text(header)), target)
        session.identity = (st.st_dev, st.st_ino)
        number = 1
        for number, raw in enumerate(iter_lines(handle, MAX_LINE_B), start=2):
            _read_line(session, raw, number)
    if session.damaged and session.damaged[-1][0] == number:
        session.partial = True
    if session.damaged or session.flagged:
        where = ", ".join(str(n) for n, _ in [*session.damaged, *session.flagged][:10])
        logger.warning(
            "%s: %d damaged line(s) skipped, %d value(s) left out: line %s",
            target,
            len(session.damaged),
            len(session.flagged),
            where,
        )
    if spool:
        _merge_spool(session, target)
    return session


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _read_line(session: Session, raw: bytes | None, number: int) -> None:
    """Apply one line; a line that cannot be used is named in ``session.damaged``."""
    if raw is None:
        session.damaged.append((number, f"longer than {MAX_LINE_B >> 20} MB: skipped"))
        return
    try:
        line = json.loads(_text(raw))
    except (json.JSONDecodeError, RecursionError):
        session.damaged.append((number, "not JSON"))
        return
    notes: list[str] = []
    try:
        _apply_line(session, line, notes)
    except validate.LineError as err:
        kind = line.get("type") if isinstance(line, dict) else None
        what = f"{kind} record" if isinstance(kind, str) else "line"
        session.damaged.append((number, f"{what:.40}: {err}"))
    session.flagged += [(number, note) for note in notes]


def _merge_spool(session: Session, target: Path) -> None:
    """Records a run left in its spool (it was killed, or its jobs ended late) or in its
    held folder (the carbon directory was full), and the lines held for it, in memory."""
    from nipype_carbon.record.spool import pending_records  # the spool writes sessions

    spool = target.with_suffix(".spool")
    for lines in held_lines(spool):
        for line in lines:
            with contextlib.suppress(validate.LineError):
                _apply_line(session, line, [])
        session.merged_from_held += len(lines)
    for record in pending_records(spool, session):
        session.nodes[record.name] = record
        session.merged_from_spool += 1
    if session.merged_from_spool or session.merged_from_held:
        logger.warning(
            "%s: %d record(s) and %d line(s) merged from the spool or held folder "
            "(run `nipype-carbon collect %s` to keep them)",
            target,
            session.merged_from_spool,
            session.merged_from_held,
            target.parent,
        )


def _parse_header(target: Path, text: str) -> dict[str, Any]:
    try:
        header = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        raise SessionError(f"{target} is not a nipype-carbon session (not JSON Lines)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SessionError(f"{target} is not a nipype-carbon session (no {FORMAT} header)")
    version = header.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(
            f"{target}, line 1: field 'schema_version' must be a whole number >= 1, "
            f"got {version!r}: the header is damaged"
        )
    if version > SCHEMA_VERSION:
        raise SessionError(
            f"{target} has schema_version {version!r}; this nipype-carbon ({__version__}) reads "
            f"up to {SCHEMA_VERSION}: upgrade with `pip install -U nipype-carbon`"
        )
    try:
        validate.check_header(header)
    except validate.LineError as err:
        raise SessionError(f"{target}, line 1: {err}") from None
    return header


def _session_from_header(header: dict[str, Any], target: Path) -> Session:
    session = Session(header.get("metadata"), header.get("settings"), target)
    session.created = header.get("created", session.created)
    session.tool = header.get("tool", session.tool)
    return session


def _apply_line(session: Session, line: Any, notes: list[str]) -> None:
    """Add one parsed line to ``session``; :class:`~validate.LineError` when it cannot be
    used, ``notes`` for values left out of it."""
    kind = line.get("type") if isinstance(line, dict) else None
    if kind == "host":
        host = validate.host_record(line)
        session.hosts[host.name] = host
    elif kind == "node":
        record = validate.node_record(line, notes=notes)
        session.nodes[record.name] = record
    elif kind == "edges":
        session.edges.extend(validate.edge_pairs(line))
    elif kind == "event":
        session.events.append(validate.event(line))
    else:
        raise validate.LineError(f"unknown record type {kind!r:.40}")
