"""The spool: where a node's record waits between the process that ran it and the session.

A node runs in a worker process or a batch job, perhaps on another host; the
session is written by the process that drives the workflow. Each metered node
writes its record as one small JSON file into the run's spool directory (on
the shared file system the engine already needs), atomically (temporary file,
then rename). The driving process drains the spool into the session as nodes
finish, and once more at the end; ``nipype-carbon collect`` drains it later
for engines that return before their jobs end.

A node also leaves a *provisional* record (status ``running``, with its process
id) when it starts, rewritten with what was measured so far while it runs long
(see ``NodeRun``), removed once its final record is written. A provisional
record whose process is gone becomes a ``killed`` record; one still there when
the run ends, its process alive, a ``lost`` one (the final record could not be
written). A record that could not be written to the session stays in the spool.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nipype_carbon.measure.host import host_name
from nipype_carbon.record.records import RUNNING, NodeRecord
from nipype_carbon.record.session import Session

logger = logging.getLogger("nipype_carbon.record.spool")

SUFFIX = ".node.json"
#: a provisional record: the node started and has not ended yet
RUNNING_SUFFIX = ".running.json"
#: a status that may replace an earlier record of the same node in one session
_RANK = {"lost": -1, "killed": -1, "skipped": -1, "cached": 0, "failed": 1, "ran": 2}


def write_record(
    spool_dir: str | os.PathLike[str], record: NodeRecord, suffix: str = SUFFIX
) -> Path:
    """Write one node record into the spool atomically; return its path."""
    spool = Path(spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in record.name)[:150]
    final = spool / f"{safe}.{os.getpid()}.{time.time_ns()}{suffix}"
    # encoded whole first: json.dump to a file writes each token on its own
    data = json.dumps(record.to_dict(), separators=(",", ":")).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=spool)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


#: per spool directory, the session that takes a record finished in its own process
_receivers: dict[str, tuple[int, Callable[[NodeRecord], bool]]] = {}


def receive_here(
    spool_dir: str | os.PathLike[str], receiver: Callable[[NodeRecord], bool] | None
) -> None:
    """Let records finished in this process (and thread) skip the spool: ``receiver`` takes
    them and says whether they are on disk (None: no longer)."""
    if receiver is None:
        _receivers.pop(str(spool_dir), None)
    else:
        _receivers[str(spool_dir)] = (os.getpid(), receiver)


def hand_over(spool_dir: str | os.PathLike[str], record: NodeRecord) -> bool:
    """Give a record to its session directly, where the session is written by this process
    and thread (a node run inside the driving process); False: spool it as usual."""
    found = _receivers.get(str(spool_dir))
    if found is None or found[0] != os.getpid():  # a forked worker inherits the table
        return False
    if threading.current_thread() is not threading.main_thread():
        return False  # the session is the main thread's
    try:
        return found[1](record)
    except Exception as err:
        logger.warning("nipype-carbon: record of %s goes to the spool: %s", record.name, err)
        return False


def should_replace(old: NodeRecord | None, new: NodeRecord) -> bool:
    """A cached re-run (a MapNode collating its children) never hides the run that did the work."""
    if old is None:
        return True
    return _RANK.get(new.status, 0) >= _RANK.get(old.status, 0)


def write_provisional(spool_dir: str | os.PathLike[str], record: NodeRecord) -> Path:
    """Spool a node's provisional ``running`` record (with this process's id) as it starts."""
    record.status = RUNNING
    record.extra = {**record.extra, "pid": os.getpid()}
    return write_record(spool_dir, record, RUNNING_SUFFIX)


def drain(
    spool_dir: str | os.PathLike[str], session: Session, final: bool = False
) -> list[NodeRecord]:
    """Move every finished record from the spool into the session; return those added.

    A spool file is removed only once the session holds its record on disk. With
    ``final`` (the run has ended), provisional records left become ``killed`` or
    ``lost`` records.
    """
    added = []
    session.flush()  # lines held back earlier go first (their spool files are then removed)
    for path, record in _records(Path(spool_dir), final):
        if record is None:
            path.unlink(missing_ok=True)
            continue
        if record.status == RUNNING:
            continue  # still running
        existing = session.nodes.get(record.name)
        if existing is None or existing.to_dict() != record.to_dict():
            if not should_replace(existing, record):
                path.unlink(missing_ok=True)
                continue
            session.add_node(record)
            added.append(record)
        if not session.unwritten:
            path.unlink(missing_ok=True)
    return added


def pending_records(spool_dir: str | os.PathLike[str], session: Session) -> list[NodeRecord]:
    """Records in the spool the session does not hold yet, for a report (nothing is changed)."""
    end = session.end_event
    ended = end is not None and end.get("status") != "interrupted"
    pending = []
    for _, record in _records(Path(spool_dir), final=ended):
        if record is None or record.status == RUNNING:
            continue
        if should_replace(session.nodes.get(record.name), record):
            pending.append(record)
    return pending


def _records(spool: Path, final: bool) -> list[tuple[Path, NodeRecord | None]]:
    """Every spool record in write order; provisional ones judged by their process."""
    try:
        paths = sorted(
            (p for p in spool.iterdir() if p.name.endswith((SUFFIX, RUNNING_SUFFIX))),
            key=lambda p: p.name.rsplit(".", 3)[-3:],
        )
    except OSError:
        return []
    finished = set()
    out: list[tuple[Path, NodeRecord | None]] = []
    for path in paths:
        record = _read(path)
        if record is not None and path.name.endswith(RUNNING_SUFFIX):
            record = _judge(record, final)
        elif record is not None:
            finished.add(record.name)
        out.append((path, record))
    # a node whose final record is here was not killed, whatever its provisional says
    return [
        (p, r)
        for p, r in out
        if r is None or p.name.endswith(SUFFIX) or r.status == RUNNING or r.name not in finished
    ]


def _judge(record: NodeRecord, final: bool) -> NodeRecord:
    """A provisional record as it stands: running, killed (process gone) or lost."""
    pid = int(record.extra.get("pid", 0) or 0)
    here = record.host == host_name()
    alive = here and pid > 0 and process_alive(pid)
    if (alive or not here) and not final:
        return record
    record.extra = {k: v for k, v in record.extra.items() if k != "pid"}
    record.extra["worker_pid"] = pid
    if alive or not here:
        record.status = "lost"
        record.error = (
            "the node's final record never arrived (it could not be written, or a batch job "
            "is still running: `nipype-carbon collect` gathers it later)"
        )
    else:
        record.status = "killed"
        if record.measurement:
            kept = time.strftime("%H:%M:%S", time.localtime(record.end))
            record.error = (
                f"its process ({pid}) ended before the node did; what was measured up to "
                f"{kept} is kept"
            )
        else:
            record.error = f"its process ({pid}) ended before the node did; no measurement kept"
    return record


def process_alive(pid: int) -> bool:
    """Whether a process of this host is alive (a zombie is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _read(path: Path) -> NodeRecord | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return NodeRecord(**data)
    except (OSError, ValueError, TypeError) as err:
        logger.warning("nipype-carbon: unreadable spool record %s skipped: %s", path, err)
        return None
