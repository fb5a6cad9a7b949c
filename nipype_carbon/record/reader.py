"""Reading a run back: a session file, and what its spool or held folder still holds.

:func:`load_session` reads a session file line by line (a line at most
:data:`MAX_LINE_B` long, the header at most :data:`MAX_HEADER_B`; anything but
a regular file refused at once), so a damaged or foreign file costs bounded
memory. Every valid line is kept; a line that is not JSON, or whose fields fail
:mod:`~nipype_carbon.record.validate`, is skipped and named in
``Session.damaged``; a single reading no counter can give is left out and named
in ``Session.flagged``. Records a run left in its spool, or kept in its held
folder (:mod:`~nipype_carbon.record.held`), are merged in memory.
:func:`earlier_runs` is the one loader of the earlier sessions of a carbon
directory (which run did the work a cached node reused).

Examples
--------
>>> import tempfile, os
>>> from nipype_carbon.record.records import NodeRecord
>>> path = os.path.join(tempfile.mkdtemp(), "session.jsonl")
>>> session = Session.create(path, metadata={"workflow": "demo"})
>>> session.add_node(NodeRecord(name="a", status="ran", start=0.0, end=1.0, host="h"))
>>> load_session(path).nodes["a"].status
'ran'
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nipype_carbon._version import __version__
from nipype_carbon.files.safe import iter_lines, open_regular
from nipype_carbon.record import validate
from nipype_carbon.record.held import held_lines
from nipype_carbon.record.runs import RunChoice, SessionError, choose_run, resolve_session_path
from nipype_carbon.record.session import FORMAT, SCHEMA_VERSION, Session
from nipype_carbon.record.spool import pending_records

logger = logging.getLogger("nipype_carbon.record.reader")

#: the longest line read (a node's samples over many hours); longer ones are skipped
MAX_LINE_B = 256 << 20
#: the longest header read: a file whose first line is longer is not a session
MAX_HEADER_B = 1 << 20


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
        apply_line(session, line, notes)
    except validate.LineError as err:
        kind = line.get("type") if isinstance(line, dict) else None
        what = f"{kind} record" if isinstance(kind, str) else "line"
        session.damaged.append((number, f"{what:.40}: {err}"))
    session.flagged += [(number, note) for note in notes]


def _merge_spool(session: Session, target: Path) -> None:
    """Records a run left in its spool (it was killed, or its jobs ended late) or in its
    held folder (the carbon directory was full), and the lines held for it, in memory."""
    spool = target.with_suffix(".spool")
    for lines in held_lines(spool):
        for line in lines:
            with contextlib.suppress(validate.LineError):
                apply_line(session, line, [])
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


def apply_line(session: Session, line: Any, notes: list[str]) -> None:
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


def did_work(session: Session) -> bool:
    """Whether any node of the run ran (not every one reused from an earlier run, and not
    an empty run): the run has figures of its own to report."""
    work = [r for r in session.nodes.values() if not r.is_engine and not r.extra.get("mapnode")]
    return not work or any(r.status != "cached" for r in work)


def choose_run_that_worked(path: str | os.PathLike[str]) -> RunChoice:
    """Like :func:`~nipype_carbon.record.runs.choose_run`, but for a carbon directory whose
    newest runs reused every node (a rerun of a finished workflow): the newest run that did
    the work, the ones passed over named in the choice's note. A session file given by name
    is always that one; where no run did any work, the newest."""
    choice = choose_run(path)
    if not choice.others:
        return choice
    runs = [*choice.others, choice.path]
    for index in range(len(runs) - 1, -1, -1):
        try:
            worked = did_work(load_session(runs[index], spool=False))
        except (SessionError, OSError):
            worked = False
        if worked:
            if index == len(runs) - 1:
                return choice
            return RunChoice(runs[index], runs[:index], choice.found_below, runs[index + 1 :])
    return choice


def earlier_runs(paths: Iterable[Path]) -> Iterator[tuple[Path, Session]]:
    """Each earlier session that can still be read, newest first as given (one that was
    removed or cannot be read is skipped): the one loader of earlier runs."""
    for path in paths:
        try:
            yield path, load_session(path)
        except (SessionError, OSError) as err:
            logger.info("earlier session %s not read: %s", path, err)
