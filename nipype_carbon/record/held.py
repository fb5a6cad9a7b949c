"""Records a full or read-only carbon directory could not take, kept until it can.

A node's record goes to the run's spool, and the spool into the session, both in
the carbon directory. When that folder is full or read-only, a record is kept
instead in a folder of the user's own (:func:`nipype_carbon.files.places.user_folder`,
``~/.local/state/nipype-carbon/held/<spool>-<hash>``), named after the run's spool;
the session lines the driving process could not append at the end (the scheduler's
record, the end event) are kept there too. Should even that fail, the record waits
in the process's memory and is tried again with the process's next record and at
its exit. Reports merge what is held for a run (the file is not changed);
``nipype-carbon collect`` writes it into the session once there is room.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nipype_carbon.files.places import user_folder, user_folders
from nipype_carbon.files.safe import iter_lines, open_regular, write_new
from nipype_carbon.files.trust import change_problem, owner_name, trusted_owners

logger = logging.getLogger("nipype_carbon.record.held")

#: what a held folder's session lines are called (records end as the spool's do)
LINES_SUFFIX = ".lines.jsonl"

#: the longest held line read back
MAX_HELD_LINE_B = 256 << 20
#: records no folder could take yet, per process: (spool folder, record data, suffix)
_waiting: list[tuple[str, dict[str, Any], str]] = []
_lock = threading.Lock()
_registered = False


def held_key(spool_dir: str | os.PathLike[str]) -> str:
    """The held folder's name for a run's spool: readable, and unique by its full path."""
    return _held_key(os.fspath(spool_dir))


@functools.lru_cache(maxsize=64)
def _held_key(spool_dir: str) -> str:
    """(The spool's folder does not move during a run: its real path is worked out once;
    the scheduler gathers records after every node.)"""
    spool = Path(os.path.realpath(spool_dir))
    digest = hashlib.sha256(str(spool).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{spool.stem[:80]}-{digest}"


def held_folder(spool_dir: str | os.PathLike[str]) -> Path:
    """The folder of the user's own that holds this run's records (made if missing)."""
    return user_folder("state", "held", held_key(spool_dir))


def held_folders(spool_dir: str | os.PathLike[str]) -> list[Path]:
    """Held folders of this run that exist and only this user can change (nothing is made)."""
    key = held_key(spool_dir)
    found = []
    for base in _state_folders(
        os.environ.get("XDG_STATE_HOME"), os.environ.get("HOME"), os.geteuid()
    ):
        folder = f"{base}/held/{key}"
        try:
            mode = os.lstat(folder).st_mode  # not followed: a link there is not a folder
        except OSError:
            continue  # the common case, none: one system call (gathered after every node)
        if stat.S_ISDIR(mode) and change_problem(Path(folder)) is None:
            found.append(Path(folder))
    return found


@functools.lru_cache(maxsize=8)
def _state_folders(xdg_state_home: str | None, home: str | None, uid: int) -> tuple[str, ...]:
    """The user's state folders, worked out once per value of what they come from."""
    return tuple(str(folder) for folder in user_folders("state"))


def hold_data(spool_dir: str | os.PathLike[str], data: bytes, name: str) -> Path:
    """Keep ``data`` as ``name`` in the run's held folder; return where."""
    target = held_folder(spool_dir) / name
    write_new(target, data, 0o600)
    return target


def hold_lines(spool_dir: str | os.PathLike[str], lines: list[dict[str, Any]]) -> Path:
    """Keep session lines the session file could not take."""
    data = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    name = f"{os.getpid()}.{time.time_ns()}{LINES_SUFFIX}"
    return hold_data(spool_dir, data.encode("utf-8", "surrogatepass"), name)


def has_waiting() -> bool:
    """Whether records of this process wait in memory for a folder to take them."""
    return bool(_waiting)


#: how a record is written (the spool's, then the held folder's): given with the first
Writer = Callable[[str, dict[str, Any], str], object]


def wait_in_memory(spool_dir: str, data: dict[str, Any], suffix: str, write: Writer) -> None:
    """Keep a record no folder could take, to try again later in this process with
    ``write`` (and at its exit)."""
    global _registered
    with _lock:
        _waiting.append((spool_dir, data, suffix))
        if not _registered:
            atexit.register(retry_waiting, write)
            _registered = True


def retry_waiting(write: Writer) -> int:
    """Try again the records waiting in memory with ``write``; how many still wait."""
    with _lock:
        waiting = list(_waiting)
        _waiting.clear()
    left = []
    for spool_dir, data, suffix in waiting:
        try:
            write(spool_dir, data, suffix)
        except OSError:
            left.append((spool_dir, data, suffix))
    with _lock:
        _waiting[:0] = left
    if left:
        logger.warning(
            "nipype-carbon: %d node record(s) could not be written anywhere yet "
            "(the carbon directory and %s are full or read-only)",
            len(left),
            " and ".join(str(p) for p in user_folders("state")),
        )
    return len(left)


def held_line_files(spool_dir: str | os.PathLike[str]) -> list[tuple[Path, list[dict[str, Any]]]]:
    """The session lines held for a run, file by file (a file that cannot be trusted or
    read is skipped with a warning)."""
    found = []
    for folder in held_folders(spool_dir):
        for path in sorted(folder.glob("*" + LINES_SUFFIX)):
            try:
                found.append((path, _read_lines(path)))
            except (OSError, ValueError) as err:
                logger.warning("nipype-carbon: held lines %s skipped: %s", path, err)
    return found


def held_lines(spool_dir: str | os.PathLike[str]) -> list[list[dict[str, Any]]]:
    """The session lines held for a run (see :func:`held_line_files`)."""
    return [lines for _, lines in held_line_files(spool_dir)]


def _read_lines(path: Path) -> list[dict[str, Any]]:
    with os.fdopen(open_regular(path, follow=False), "rb") as handle:
        owner = os.fstat(handle.fileno()).st_uid
        if owner not in trusted_owners():
            raise ValueError(f"it belongs to {owner_name(owner)}")
        lines = []
        for raw in iter_lines(handle, MAX_HELD_LINE_B):
            line = json.loads(raw) if raw is not None else None
            if isinstance(line, dict):
                lines.append(line)
    return lines
