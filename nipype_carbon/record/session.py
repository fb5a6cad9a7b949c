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
from nipype_carbon.record import validate
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
        #: lines not yet written (a full disk): retried by the next append or flush()
        self.unwritten: list[dict[str, Any]] = []
        #: records found in the run's spool and merged on load (not yet in the file)
        self.merged_from_spool = 0
        self.tool: dict[str, Any] = {"name": "nipype-carbon", "version": __version__}

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
        _atomic_write(target, [session._header()], exclusive=exclusive)
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
            where = ", ".join(str(n) for n, _ in self.damaged[:10])
            notes.append(f"{len(self.damaged)} damaged line(s) skipped (line {where})")
        if self.merged_from_spool:
            notes.append(f"{self.merged_from_spool} record(s) merged from the spool")
        lost = [n for n, r in self.nodes.items() if r.status in ("lost", "killed")]
        if lost:
            notes.append(f"{len(lost)} node(s) killed or with their record lost")
        if self.unwritten:
            notes.append(f"{len(self.unwritten)} line(s) could not be written to {self.path}")
        return notes

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
            _append_whole(self.path, "".join(_json_line(line) for line in lines).encode("utf-8"))
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
        m = record.measurement
        if not m:
            return None
        return HostRecord(m["host"]["name"], m["host"], m["meters"], m.get("baseline_power_w", {}))

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
            _append_whole(self.path, data)
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

    def save(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the whole session atomically (to ``path`` or where it lives)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this session has no path: pass one to save()")
        _atomic_write(target, self._lines())
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


def merge_hosts(known: HostRecord | None, new: HostRecord) -> HostRecord | None:
    """``known`` with the meters and baselines of ``new`` it lacks, or None when nothing is new."""
    if known is None:
        return new
    names = {d["name"] for m in known.meters.get("meters", []) for d in m["domains"]}
    extra = [
        m for m in new.meters.get("meters", []) if any(d["name"] not in names for d in m["domains"])
    ]
    baselines = {k: v for k, v in new.baseline_power_w.items() if k not in known.baseline_power_w}
    if not extra and not baselines:
        return None
    meters = {**known.meters, "meters": [*known.meters.get("meters", []), *extra]}
    return HostRecord(known.name, known.info, meters, {**known.baseline_power_w, **baselines})


def _json_line(line: dict[str, Any]) -> str:
    return json.dumps(line, separators=(",", ":")) + "\n"


def _append_whole(path: Path, data: bytes) -> None:
    """Append ``data`` (whole lines) or nothing: a short write is cut back, then raised."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
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


def _atomic_write(target: Path, lines: Iterable[dict[str, Any]], exclusive: bool = False) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(_json_line(line))
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, target)  # fails if the name is taken: never two runs in one file
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_session(path: str | os.PathLike[str], spool: bool = True) -> Session:
    """Load a session: every valid line is kept, damaged ones are named and skipped.

    A line that is not JSON (a crash mid-write, a full disk) is skipped and listed
    in :attr:`Session.damaged`; a line that parses but holds wrong types or
    impossible values raises :class:`SessionError` naming its line and field.
    With ``spool``, records left in the run's spool are merged in memory (the file
    is not changed; ``nipype-carbon collect`` writes them).
    """
    target = resolve_session_path(path)
    try:
        with open(target, encoding="utf-8", errors="replace") as handle:
            raw = handle.read().split("\n")
    except OSError as err:
        raise SessionError(f"cannot read {target}: {err.strerror or err}") from None
    if raw and raw[-1] == "":
        raw.pop()
    if not raw:
        raise SessionError(f"{target} is empty: not a nipype-carbon session")
    session = _session_from_header(_parse_header(target, raw[0]), target)
    for number, text in enumerate(raw[1:], start=2):
        try:
            line = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            session.damaged.append((number, "not JSON"))
            session.partial = session.partial or number == len(raw)
            continue
        _apply_line(session, line, target, number)
    if session.damaged:
        where = ", ".join(str(n) for n, _ in session.damaged[:10])
        logger.warning("%s: %d damaged line(s) skipped: %s", target, len(session.damaged), where)
    if spool:
        _merge_spool(session, target)
    return session


def _merge_spool(session: Session, target: Path) -> None:
    """Records a run left in its spool (it was killed, or its jobs ended late), in memory."""
    from nipype_carbon.record.spool import pending_records  # the spool writes sessions

    for record in pending_records(target.with_suffix(".spool"), session):
        session.nodes[record.name] = record
        session.merged_from_spool += 1
    if session.merged_from_spool:
        logger.warning(
            "%s: %d record(s) merged from the spool (run `nipype-carbon collect %s` to keep them)",
            target,
            session.merged_from_spool,
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


def _apply_line(session: Session, line: Any, target: Path, number: int) -> None:
    kind = line.get("type") if isinstance(line, dict) else None
    try:
        if kind == "host":
            host = validate.host_record(line)
            session.hosts[host.name] = host
        elif kind == "node":
            record = validate.node_record(line)
            session.nodes[record.name] = record
        elif kind == "edges":
            session.edges.extend(validate.edge_pairs(line))
        elif kind == "event":
            session.events.append(validate.event(line))
        else:
            raise validate.LineError(f"unknown record type {kind!r:.40}")
    except validate.LineError as err:
        what = f"{kind} record" if isinstance(kind, str) else "line"
        raise SessionError(f"{target}, line {number}: {what}: {err}") from None
