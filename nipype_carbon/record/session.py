"""The session: the raw, versioned record of one metered run.

A session is a JSON Lines file (``session.jsonl``): a header line, then one
line per host, node, edge set or event, appended as nodes finish. Each line
is written with a single ``write`` on a file opened for appending, so a crash
leaves every finished node readable; a truncated last line is reported and
skipped on load. :meth:`Session.save` writes a whole session atomically
(temporary file, then rename). Nothing derived is stored: energy per node,
emissions and reports are computed from it at render time.

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
from nipype_carbon.record.records import STATUSES, HostRecord, NodeRecord

logger = logging.getLogger("nipype_carbon.record.session")

FORMAT = "nipype-carbon-session"
SCHEMA_VERSION = 1
SESSION_FILE = "session.jsonl"


class SessionError(Exception):
    """A session that cannot be read; the message says what to do."""


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
        self.tool: dict[str, Any] = {"name": "nipype-carbon", "version": __version__}

    # -- writing --------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        metadata: dict[str, Any] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Session:
        """A new session written at ``path`` (a file, or a directory to hold session.jsonl)."""
        target = Path(path)
        if target.is_dir() or not target.suffix:
            target = target / SESSION_FILE
        session = cls(metadata, settings, target)
        _atomic_write(target, [session._header()])
        return session

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
        if record.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {record.status!r}")
        lines = []
        host = self._host_from(record)
        if host is not None:
            merged = merge_hosts(self.hosts.get(host.name), host)
            if merged is not None:
                self.hosts[host.name] = merged
                lines.append({"type": "host", **asdict(merged)})
        self.nodes[record.name] = record
        lines.append({"type": "node", **record.to_dict()})
        self._append(lines)

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

    def _append(self, lines: list[dict[str, Any]]) -> None:
        if self.path is None:
            return
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, text.encode("utf-8"))
        finally:
            os.close(fd)

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


def _atomic_write(target: Path, lines: Iterable[dict[str, Any]]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".session-", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def session_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Session files in a carbon directory, oldest first (one per run)."""
    found = [p for p in Path(directory).glob("session*.jsonl") if p.is_file()]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name))


def new_session_path(directory: str | os.PathLike[str]) -> Path:
    """A fresh, sortable session file name for a new run in a carbon directory.

    Two runs started in the same second by one process get ``~2``, ``~3``, ...
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime())
    path = Path(directory) / f"session-{stamp}-{os.getpid()}.jsonl"
    number = 1
    while path.exists() or path.with_suffix(".spool").exists():
        number += 1
        path = path.with_name(f"session-{stamp}-{os.getpid()}~{number}.jsonl")
    return path


def resolve_session_path(path: str | os.PathLike[str]) -> Path:
    """The session file for a path that is a session file or a carbon directory (newest run)."""
    target = Path(path)
    if target.is_dir():
        found = session_files(target)
        if not found:
            raise SessionError(f"no session*.jsonl in {target}: is it a carbon directory of a run?")
        return found[-1]
    if not target.exists():
        raise SessionError(f"no such session file or carbon directory: {target}")
    return target


def load_session(path: str | os.PathLike[str]) -> Session:
    """Load a session, tolerating a truncated last line (a run that crashed)."""
    target = resolve_session_path(path)
    with open(target, encoding="utf-8", errors="replace") as handle:
        raw = handle.read().split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    if not raw:
        raise SessionError(f"{target} is empty: not a nipype-carbon session")
    session = _session_from_header(_parse_header(target, raw[0]), target)
    for number, text in enumerate(raw[1:], start=2):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            if number == len(raw):
                logger.warning("%s: last line is incomplete (run interrupted); skipped", target)
                session.partial = True
                continue
            raise SessionError(
                f"{target}, line {number}: corrupt JSON; the file was damaged"
            ) from None
        _apply_line(session, line, target, number)
    return session


def _parse_header(target: Path, text: str) -> dict[str, Any]:
    try:
        header = json.loads(text)
    except json.JSONDecodeError:
        raise SessionError(f"{target} is not a nipype-carbon session (not JSON Lines)") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise SessionError(f"{target} is not a nipype-carbon session (no {FORMAT} header)")
    version = header.get("schema_version")
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise SessionError(
            f"{target} has schema_version {version!r}; this nipype-carbon ({__version__}) reads "
            f"up to {SCHEMA_VERSION}: upgrade with `pip install -U nipype-carbon`"
        )
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
            host = HostRecord(**{k: v for k, v in line.items() if k != "type"})
            session.hosts[host.name] = host
        elif kind == "node":
            record = NodeRecord(**{k: v for k, v in line.items() if k != "type"})
            session.nodes[record.name] = record
        elif kind == "edges":
            session.edges.extend((str(a), str(b)) for a, b in line["edges"])
        elif kind == "event":
            session.events.append({k: v for k, v in line.items() if k != "type"})
        else:
            raise SessionError(f"{target}, line {number}: unknown record type {kind!r}")
    except (TypeError, KeyError, ValueError) as err:
        raise SessionError(f"{target}, line {number}: malformed {kind} record ({err})") from None
