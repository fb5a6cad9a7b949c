"""Which run a path means: session files in a carbon directory, newest by recorded start.

A carbon directory holds one session file per run (``session-<stamp>-<pid>.jsonl``).
"The" run of a directory is the one that started last, by the start time its
header records (not the file's modification time, which ``collect`` changes).
A folder that is not a carbon directory (a workflow's ``base_dir``) is searched
for carbon directories below it.

Examples
--------
>>> import tempfile
>>> choose_run(tempfile.mkdtemp())
Traceback (most recent call last):
...
nipype_carbon.record.runs.SessionError: no session*.jsonl in ... nor in a carbon directory ...
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.files.safe import open_regular, read_limited, write_new

#: how deep below a folder carbon directories are looked for (base_dir/work/<wf>/carbon)
SEARCH_DEPTH = 4
#: the most of a header read to find a run's start
HEADER_B = 1 << 20


class SessionError(NipypeCarbonError):
    """A session that cannot be read; the message says what to do."""


def session_header(path: Path) -> dict:
    """A session file's header (its first line) without loading the rest; ``{}`` when it
    cannot be read as one."""
    try:
        with os.fdopen(open_regular(path), "rb") as handle:  # a pipe is refused, not waited on
            header = json.loads(handle.readline(HEADER_B).decode("utf-8", errors="replace"))
    except (OSError, ValueError, RecursionError):
        return {}
    return header if isinstance(header, dict) else {}


def recorded_start(path: Path) -> float:
    """The start time a session's header records (its file time if it records none)."""
    header = session_header(path)
    metadata = header.get("metadata")
    start = (metadata.get("start") if isinstance(metadata, dict) else None) or header.get("created")
    if isinstance(start, (int, float)) and not isinstance(start, bool):
        return float(start)
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def session_files(directory: str | os.PathLike[str]) -> list[Path]:
    """Session files in a carbon directory, oldest run first (by recorded start time).

    A link there is not followed (it is not a run's file), nor anything but a regular file.
    """
    found = [
        p for p in Path(directory).glob("session*.jsonl") if p.is_file() and not p.is_symlink()
    ]
    return sorted(found, key=lambda p: (recorded_start(p), p.name))


def new_session_path(directory: str | os.PathLike[str]) -> Path:
    """A fresh, sortable session file name for a new run in a carbon directory.

    Two runs started in the same second by one process get ``~2``, ``~3``, ...;
    the name is only taken when the file is created exclusively
    (:meth:`~nipype_carbon.record.session.Session.create` with ``exclusive``).
    """
    stamp = time.strftime("%Y%m%dT%H%M%S", time.localtime())
    path = Path(directory) / f"session-{stamp}-{os.getpid()}.jsonl"
    number = 1
    while path.exists() or path.with_suffix(".spool").exists():
        number += 1
        path = path.with_name(f"session-{stamp}-{os.getpid()}~{number}.jsonl")
    return path


def carbon_dirs_below(folder: Path, depth: int = SEARCH_DEPTH) -> list[Path]:
    """Folders below ``folder`` (at most ``depth`` levels) that hold session files."""
    found = []
    for root, dirs, files in os.walk(folder):
        level = len(Path(root).relative_to(folder).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith(".spool"))
        if level >= depth:
            dirs[:] = []
        if level and any(f.startswith("session") and f.endswith(".jsonl") for f in files):
            found.append(Path(root))
            dirs[:] = []
    return found


@dataclass
class RunChoice:
    """The session file a path means, and what else was there."""

    path: Path
    others: list[Path] = field(default_factory=list)
    found_below: Path | None = None
    #: newer runs passed over because they reused every node (they did no work to report)
    reused: list[Path] = field(default_factory=list)

    def note(self) -> str | None:
        """One line saying which run was chosen, when there was a choice."""
        parts = []
        if self.found_below is not None:
            parts.append(f"carbon directory {self.found_below}")
        if self.reused:
            newest = self.reused[-1]
            parts.append(
                f"the newest run ({newest.name}, {_when(newest)}) reused every node, so this is "
                f"the newest run that did the work, {self.path.name} ({_when(self.path)}); "
                f"give {newest} to see the rerun itself"
            )
            return "; ".join(parts)
        if self.others:
            names = ", ".join(f"{p.name} ({_when(p)})" for p in reversed(self.others[-5:]))
            more = ", ..." if len(self.others) > 5 else ""
            parts.append(
                f"run of {_when(self.path)} ({self.path.name}); {len(self.others)} other "
                f"run(s) in {self.path.parent}: {names}{more}"
            )
        return "; ".join(parts) or None


def _when(path: Path) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(recorded_start(path)))


def choose_run(path: str | os.PathLike[str]) -> RunChoice:
    """The session file a path means: itself, a carbon directory's newest run, or one below."""
    target = Path(path)
    if target.is_dir():
        found = session_files(target)
        if found:
            return RunChoice(found[-1], found[:-1])
        below = carbon_dirs_below(target)
        if len(below) == 1:
            choice = choose_run(below[0])
            choice.found_below = below[0]
            return choice
        if below:
            listed = ", ".join(str(d) for d in below[:10])
            raise SessionError(
                f"{len(below)} carbon directories below {target}: give one of {listed}"
            )
        raise SessionError(
            f"no session*.jsonl in {target} nor in a carbon directory below it: "
            "give the run's carbon directory (default <base_dir>/<workflow>/carbon)"
        )
    if not target.exists():
        raise SessionError(f"no such session file or directory: {target}")
    return RunChoice(target)


def resolve_session_path(path: str | os.PathLike[str]) -> Path:
    """The session file for a path that is a session file or a carbon directory (newest run)."""
    return choose_run(path).path


#: what the notes of runs that could not be metered are called, in a carbon directory
UNMETERED_PREFIX = "unmetered-"
#: the most of a note read back
NOTE_B = 64 << 10


def leave_unmetered_note(
    carbon_dir: str | os.PathLike[str] | None,
    launched_by: str | None,
    workflow: str,
    err: BaseException,
    engine: str,
) -> Path | None:
    """A one-line JSON note in the carbon directory: a run an engine adapter could not meter,
    and why (``nipype-carbon run`` lists it as ``NOT METERED``); where it went (None: no
    carbon directory, or it could not be written, which is logged)."""
    if not carbon_dir:
        return None
    note = {
        "launched_by": launched_by,
        "engine": engine,
        "workflow": workflow,
        "time": time.time(),
        "pid": os.getpid(),
        "error": f"{type(err).__name__}: {err}",
    }
    path = Path(carbon_dir) / f"{UNMETERED_PREFIX}{os.getpid()}-{time.time_ns()}.json"
    try:
        write_new(path, json.dumps(note) + "\n")  # created afresh: no link followed
    except OSError as write_err:
        logging.getLogger("nipype_carbon").warning(
            "nipype-carbon: note of the unmetered run not written: %s", write_err
        )
        return None
    return path


def unmetered_notes(carbon_dir: str | os.PathLike[str], launched_by: str) -> list[str]:
    """What the notes ``launched_by`` left in a carbon directory say, one line each
    (``engine workflow W: why``); a note that cannot be read is named as such."""
    found = []
    for path in sorted(Path(carbon_dir).glob(f"{UNMETERED_PREFIX}*.json")):
        try:
            note = json.loads(read_limited(path, NOTE_B, follow=False))
            if not isinstance(note, dict):
                raise ValueError("not an object")
        except (OSError, ValueError, RecursionError):
            found.append((f"{path.name} (unreadable note)", None))
            continue
        engine = f"{note.get('engine')} " if note.get("engine") else ""
        found.append(
            (
                f"{engine}workflow {note.get('workflow')}: {note.get('error')}",
                note.get("launched_by"),
            )
        )
    return [text for text, by in found if by == launched_by]
