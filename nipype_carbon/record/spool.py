"""The spool: where a node's record waits between the process that ran it and the session.

A node runs in a worker process or a batch job, perhaps on another host; the
session is written by the process that drives the workflow. Each metered node
writes its record as one small JSON file into the run's spool directory (on
the shared file system the engine already needs), atomically (temporary file,
then rename). The driving process drains the spool into the session as nodes
finish, and once more at the end; ``nipype-carbon collect`` drains it later
for engines that return before their jobs end.

Engine-agnostic: no nipype, no pydra.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session

logger = logging.getLogger("nipype_carbon.record.spool")

SUFFIX = ".node.json"
#: a status that may replace an earlier record of the same node in one session
_RANK = {"cached": 0, "failed": 1, "ran": 2}


def write_record(spool_dir: str | os.PathLike[str], record: NodeRecord) -> Path:
    """Write one node record into the spool atomically; return its path."""
    spool = Path(spool_dir)
    spool.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in record.name)[:150]
    final = spool / f"{safe}.{os.getpid()}.{time.time_ns()}{SUFFIX}"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=spool)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record.to_dict(), handle, separators=(",", ":"))
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def should_replace(old: NodeRecord | None, new: NodeRecord) -> bool:
    """A cached re-run (a MapNode collating its children) never hides the run that did the work."""
    if old is None:
        return True
    return _RANK.get(new.status, 0) >= _RANK.get(old.status, 0)


def drain(spool_dir: str | os.PathLike[str], session: Session) -> list[NodeRecord]:
    """Move every finished record from the spool into the session; return those added."""
    spool = Path(spool_dir)
    if not spool.is_dir():
        return []
    paths = sorted(p for p in spool.iterdir() if p.name.endswith(SUFFIX))
    added = []
    for path in paths:
        record = _read(path)
        if record is not None and should_replace(session.nodes.get(record.name), record):
            session.add_node(record)
            added.append(record)
        path.unlink(missing_ok=True)
    return added


def _read(path: Path) -> NodeRecord | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return NodeRecord(**data)
    except (OSError, ValueError, TypeError) as err:
        logger.warning("nipype-carbon: unreadable spool record %s skipped: %s", path, err)
        return None
