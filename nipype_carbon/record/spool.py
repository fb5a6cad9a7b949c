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

import contextlib
import errno
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nipype_carbon.files.safe import FileRefused
from nipype_carbon.files.trust import owner_name, trusted_owners
from nipype_carbon.measure.host import host_name
from nipype_carbon.record import held, validate
from nipype_carbon.record.records import RUNNING, STATUSES, NodeRecord
from nipype_carbon.record.session import Session

logger = logging.getLogger("nipype_carbon.record.spool")

SUFFIX = ".node.json"
#: a provisional record: the node started and has not ended yet
RUNNING_SUFFIX = ".running.json"
#: a status that may replace an earlier record of the same node in one session
_RANK = {"lost": -1, "killed": -1, "skipped": -1, "cached": 0, "failed": 1, "ran": 2}
#: the largest record file read back (a node's samples over many hours)
MAX_RECORD_B = 256 << 20


def write_record(
    spool_dir: str | os.PathLike[str], record: NodeRecord, suffix: str = SUFFIX
) -> Path | None:
    """Write one node record into the spool atomically; return where it went.

    A spool that cannot take it (a full or read-only carbon directory, a planted
    link) sends it to the run's held folder (:mod:`~nipype_carbon.record.held`); when
    that fails too, a final record waits in this process's memory (None is returned)
    and is tried again with the next record and at exit.
    """
    if held.has_waiting():
        held.retry_waiting(write_data)
    data = record.to_dict()
    try:
        return write_data(str(spool_dir), data, suffix)
    except OSError as err:
        if suffix == SUFFIX:
            held.wait_in_memory(str(spool_dir), data, suffix, write_data)
        logger.warning(
            "nipype-carbon: record of %s not written anywhere yet (%s)%s",
            record.name,
            err,
            ": kept in memory, tried again later" if suffix == SUFFIX else "",
        )
        return None


def write_data(spool_dir: str, data: dict[str, Any], suffix: str) -> Path:
    """A record's data into the spool, else into the held folder; where it went."""
    name = str(data.get("name", "node"))
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[:150]
    file_name = f"{safe}.{os.getpid()}.{time.time_ns()}{suffix}"
    # encoded whole first (ASCII: a lone surrogate in a name is escaped, not an error)
    payload = json.dumps(data, separators=(",", ":")).encode("ascii")
    try:
        return _write_in_spool(Path(spool_dir), file_name, payload)
    except OSError as err:
        where = held.hold_data(spool_dir, payload, file_name)
        logger.warning(
            "nipype-carbon: record of %s kept in %s: the spool %s cannot take it (%s)",
            name,
            where,
            spool_dir,
            err.strerror or err,
        )
        return where


def _write_in_spool(spool: Path, name: str, payload: bytes) -> Path:
    """Create ``name`` in the spool whole (a temporary file, then a rename), without
    following a link at the spool or at either name."""
    folder = _open_to_write(spool)
    tmp = f".tmp-{secrets.token_hex(6)}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(tmp, flags, 0o644, dir_fd=folder)
        try:
            _write_all(fd, payload)
        finally:
            os.close(fd)
        try:
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            raise
    finally:
        os.close(folder)
    return spool / name


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view = view[n:]


def _open_folder(spool: Path, create: bool = False) -> int:
    """A descriptor of the spool folder (made if missing, with ``create``); a link there
    is refused."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(spool, flags)
    except FileNotFoundError:
        if not create:
            raise
    except OSError as err:
        if err.errno in (errno.ELOOP, errno.ENOTDIR):
            raise FileRefused(
                err.errno, f"{spool} is not a folder of this run's (a link?)"
            ) from None
        raise
    spool.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(spool, 0o755)
    return os.open(spool, flags)


def _open_to_write(spool: Path) -> int:
    """The spool folder, to write a record in: this user's or root's (root writes in any
    user's: a container's root node for that user's run)."""
    fd = _open_folder(spool, create=True)
    owner = os.fstat(fd).st_uid
    if owner not in trusted_owners() and os.geteuid() != 0:
        os.close(fd)
        raise FileRefused(errno.EPERM, f"{spool} belongs to {owner_name(owner)}, not this run")
    return fd


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


def write_provisional(spool_dir: str | os.PathLike[str], record: NodeRecord) -> Path | None:
    """Spool a node's provisional ``running`` record (with this process's id) as it starts."""
    record.status = RUNNING
    record.extra = {**record.extra, "pid": os.getpid()}
    return write_record(spool_dir, record, RUNNING_SUFFIX)


@dataclass
class _Entry:
    """One record file of the spool or of the run's held folder."""

    folder: Path
    name: str
    record: NodeRecord | None

    @property
    def provisional(self) -> bool:
        return self.name.endswith(RUNNING_SUFFIX)

    def remove(self) -> None:
        """Remove the file (by name in its folder, no link followed)."""
        with contextlib.suppress(OSError):
            fd = _open_folder(self.folder)
            try:
                os.unlink(self.name, dir_fd=fd)
            finally:
                os.close(fd)


def drain(
    spool_dir: str | os.PathLike[str], session: Session, final: bool = False
) -> list[NodeRecord]:
    """Move every finished record from the spool (and the run's held folder) into the
    session; return those added.

    A record file is removed only once the session holds its record on disk. With
    ``final`` (the run has ended), provisional records left become ``killed`` or
    ``lost`` records.
    """
    added = []
    session.flush()  # lines held back earlier go first (their spool files are then removed)
    for entry in _records(Path(spool_dir), final):
        record = entry.record
        if record is None:
            entry.remove()
            continue
        if record.status == RUNNING:
            continue  # still running
        existing = session.nodes.get(record.name)
        if existing is None or existing.to_dict() != record.to_dict():
            if not should_replace(existing, record):
                entry.remove()
                continue
            session.add_node(record)
            added.append(record)
        if not session.unwritten:
            entry.remove()
    return added


def pending_records(spool_dir: str | os.PathLike[str], session: Session) -> list[NodeRecord]:
    """Records in the spool (or held for the run) the session does not hold yet, for a
    report (nothing is changed)."""
    end = session.end_event
    ended = end is not None and end.get("status") != "interrupted"
    pending = []
    for entry in _records(Path(spool_dir), final=ended):
        record = entry.record
        if record is None or record.status == RUNNING:
            continue
        if should_replace(session.nodes.get(record.name), record):
            pending.append(record)
    return pending


def _records(spool: Path, final: bool) -> list[_Entry]:
    """Every record of the spool and of the run's held folders in write order; provisional
    ones judged by their process."""
    entries = _entries(spool)
    for folder in held.held_folders(spool):
        entries += _entries(folder)
    entries.sort(key=lambda e: e.name.rsplit(".", 3)[-3:])
    finished = {e.record.name for e in entries if e.record is not None and not e.provisional}
    for entry in entries:
        if entry.record is not None and entry.provisional:
            entry.record = _judge(entry.record, final)
    # a node whose final record is here was not killed, whatever its provisional says
    return [
        e
        for e in entries
        if e.record is None
        or not e.provisional
        or e.record.status == RUNNING
        or e.record.name not in finished
    ]


def _entries(folder: Path) -> list[_Entry]:
    """The record files of one folder, each read (None where it cannot be trusted)."""
    try:
        fd = _open_folder(folder)
    except OSError:
        return []
    try:
        names = [n for n in os.listdir(fd) if n.endswith((SUFFIX, RUNNING_SUFFIX))]
        return [_Entry(folder, name, _read(fd, folder, name)) for name in names]
    finally:
        os.close(fd)


def _judge(record: NodeRecord, final: bool) -> NodeRecord:
    """A provisional record as it stands: running, killed (process gone) or lost."""
    pid = record.extra.get("pid")
    pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else 0
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


def _read(folder_fd: int, folder: Path, name: str) -> NodeRecord | None:
    """One record file, or None (warned) when it is unreadable, damaged, too large, not a
    regular file, or not written by this user (or root)."""
    where = folder / name
    try:
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        fd = os.open(name, flags, dir_fd=folder_fd)
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise ValueError("not a regular file")
            if st.st_uid not in trusted_owners():
                raise ValueError(f"it belongs to {owner_name(st.st_uid)}, not to this run")
            data = handle.read(MAX_RECORD_B + 1)
        if len(data) > MAX_RECORD_B:
            raise ValueError(f"larger than {MAX_RECORD_B >> 20} MB")
        return validate.node_record(json.loads(data), (*STATUSES, RUNNING))
    except (OSError, ValueError, RecursionError) as err:
        logger.warning("nipype-carbon: spool record %s skipped: %s", where, err)
        return None
