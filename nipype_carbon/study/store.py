"""Where a study keeps each run's summary: one SQLite file in the user's own cache folder.

A run is summed up once (:func:`~nipype_carbon.study.summary.summarise`, the costly part:
it attributes the raw samples) and kept here under the identity of its session file
(device, inode, size, modification time, and its spool folder's time, since records that
arrive later change the run). A later ``study`` call over the same runs reads the summaries
back and never reads a sample. A run's steps are one compact blob of fixed-width rows
(:data:`STEP_DTYPE`: names as ids into a ``names`` table, then numbers), read back in the
order the runs started, a chunk at a time, straight into numpy: the study's sums never hold
every run's rows at once. The file is a cache: it is rebuilt when it is damaged, made
by another summary version, or missing; it lives in a folder only this user can change.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nipype_carbon.files.places import user_folder
from nipype_carbon.files.safe import FileRefused
from nipype_carbon.study.summary import STEP_FIELDS, SUMMARY_VERSION

logger = logging.getLogger("nipype_carbon.study")

#: the store's file name in the user's cache folder
STORE_NAME = "study.sqlite"
#: the step columns held as numbers (the rest are names, kept as ids)
NUMBER_FIELDS = tuple(
    f for f in STEP_FIELDS if f not in ("subject", "step", "interface", "method", "status")
)
#: one step of a run, as stored: names as ids (0: none), ``ran`` 0 for a step found in the
#: cache or skipped, then the numbers
STEP_DTYPE = np.dtype(
    [("subject", "<i4"), ("step", "<i4"), ("interface", "<i4"), ("method", "<i4"), ("ran", "i1")]
    + [(f, "<f8") for f in NUMBER_FIELDS]
)
#: runs read back at a time
CHUNK_RUNS = 200
#: the schema's version: a store of another is made again
SCHEMA = 2 + 100 * SUMMARY_VERSION


@dataclass(frozen=True)
class FileKey:
    """What a session file is, as far as its summary goes: it changes when the run does."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    spool_mtime_ns: int

    @classmethod
    def of(cls, path: Path, st: os.stat_result | None = None) -> FileKey:
        st = st or path.stat()
        try:
            spool = path.with_suffix(".spool").stat().st_mtime_ns
        except OSError:
            spool = 0
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, spool)


def default_store_path() -> Path | None:
    """The store in the user's own cache folder; None when there is no such folder."""
    try:
        return user_folder("cache") / STORE_NAME
    except (FileRefused, OSError) as err:
        logger.warning("no cache folder of your own (%s): study summaries kept in memory", err)
        return None


class Store:
    """The summaries of runs seen before, and the tables a study is computed from."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.db = self._open(path)

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is None:
            return self._schema(sqlite3.connect(":memory:"))
        try:
            db = self._schema(sqlite3.connect(path, timeout=30))
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA:
                return db
            db.close()
        except sqlite3.DatabaseError as err:  # damaged: it is a cache, make it again
            logger.warning("study cache %s unreadable (%s): made again", path, err)
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}{suffix}")
        return self._schema(sqlite3.connect(path, timeout=30))

    @staticmethod
    def _schema(db: sqlite3.Connection) -> sqlite3.Connection:
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA:
            db.executescript(
                "DROP TABLE IF EXISTS runs; DROP TABLE IF EXISTS steps; DROP TABLE IF EXISTS names;"
            )
        db.executescript(
            f"""
            CREATE TABLE IF NOT EXISTS runs (
                run_id INTEGER PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER,
                mtime_ns INTEGER, spool_mtime_ns INTEGER, path TEXT, summary TEXT,
                steps BLOB, UNIQUE (dev, ino));
            CREATE TABLE IF NOT EXISTS names (id INTEGER PRIMARY KEY, text TEXT UNIQUE);
            PRAGMA user_version = {SCHEMA};
            """
        )
        return db

    def close(self) -> None:
        self.db.close()

    def known(self, keys: Sequence[FileKey]) -> dict[FileKey, tuple[int, dict[str, Any]]]:
        """The stored summaries (run id, run fields) of the files whose key is unchanged."""
        found: dict[FileKey, tuple[int, dict[str, Any]]] = {}
        wanted = {(k.dev, k.ino): k for k in keys}
        self.db.execute("DROP TABLE IF EXISTS temp.wanted")
        self.db.execute("CREATE TEMP TABLE wanted (dev INTEGER, ino INTEGER)")
        self.db.executemany("INSERT INTO temp.wanted VALUES (?, ?)", wanted)
        for run_id, dev, ino, size, mtime, spool, text in self.db.execute(
            "SELECT run_id, r.dev, r.ino, size, mtime_ns, spool_mtime_ns, summary "
            "FROM runs r JOIN temp.wanted w ON r.dev = w.dev AND r.ino = w.ino"
        ):
            key = wanted[(dev, ino)]
            if (size, mtime, spool) == (key.size, key.mtime_ns, key.spool_mtime_ns):
                found[key] = (run_id, json.loads(text))
        return found

    def put(self, key: FileKey, summary: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Keep a run's summary (replacing what the same file had); its id and run fields."""
        steps = summary.pop("steps")
        summary["name_subjects"] = sorted({s for s in steps["subject"] if s})
        db = self.db
        with db:
            db.execute("DELETE FROM runs WHERE dev = ? AND ino = ?", (key.dev, key.ino))
            texts = {*steps["step"], *steps["interface"], *steps["method"]}
            texts |= {s for s in steps["subject"] if s}
            ids = self._ids(texts)
            rows = np.zeros(len(steps["step"]), dtype=STEP_DTYPE)
            rows["subject"] = [ids[s] if s else 0 for s in steps["subject"]]
            for name in ("step", "interface", "method"):
                rows[name] = [ids[s] for s in steps[name]]
            rows["ran"] = [status not in ("cached", "skipped") for status in steps["status"]]
            for name in NUMBER_FIELDS:
                rows[name] = steps[name]
            cursor = db.execute(
                "INSERT INTO runs (dev, ino, size, mtime_ns, spool_mtime_ns, path, summary, steps) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key.dev, key.ino, key.size, key.mtime_ns, key.spool_mtime_ns,
                    summary["path"], json.dumps(summary), rows.tobytes(),
                ),
            )  # fmt: skip
        return int(cursor.lastrowid or 0), summary

    def _ids(self, names: Iterable[str]) -> dict[str, int]:
        names = list(names)
        self.db.executemany("INSERT OR IGNORE INTO names (text) VALUES (?)", ((n,) for n in names))
        found: dict[str, int] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            found.update(
                self.db.execute(f"SELECT text, id FROM names WHERE text IN ({marks})", chunk)
            )
        return found

    def names(self) -> dict[int, str]:
        return dict(self.db.execute("SELECT id, text FROM names"))

    def step_blobs(self, run_ids: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """Each run's steps (:data:`STEP_DTYPE` rows), in the order of ``run_ids``, read a
        chunk of runs at a time."""
        for start in range(0, len(run_ids), CHUNK_RUNS):
            chunk = [int(r) for r in run_ids[start : start + CHUNK_RUNS]]
            marks = ", ".join("?" * len(chunk))
            found = dict(
                self.db.execute(f"SELECT run_id, steps FROM runs WHERE run_id IN ({marks})", chunk)
            )
            for run_id in chunk:
                blob = found.get(run_id)
                yield run_id, np.frombuffer(blob or b"", dtype=STEP_DTYPE)
