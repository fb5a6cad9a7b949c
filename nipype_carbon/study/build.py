"""A study: every run found under the given paths, as subjects, steps, waste and a projection.

:func:`build_study` finds session files (:func:`find_sessions`), sums up the runs it has not
seen before (in worker processes, one per core) and keeps them in the
:class:`~nipype_carbon.study.store.Store`; then it prices each run on its grid (or the one
asked for) and aggregates:

- **per subject**: all of a subject's runs summed (a resubmitted subject counts once, its
  earlier attempts in its cost), the status of its last run, its hosts and method. A run of
  several subjects is divided by its per-subject sub-workflows: each subject has its own
  nodes, and what is of no subject (shared nodes, engine overhead, baseline not charged) is
  divided in proportion to the subjects' nodes' energy.
- **per step** (a node's name without its subject part, MapNode children folded): the study
  total, its share, and the distribution across subjects.
- **waste**: energy of failed, killed and lost nodes; of nodes of earlier attempts that a
  later attempt ran again (redone); avoided by the cache (not in the totals); and what
  right-sized reservations would have freed (a model, see summary.py).
- **projection** to N more subjects: a bootstrap of the completed subjects' costs.

Runs still in progress (no end recorded, their driver alive) are listed and left out unless
``include_running``. Files that are not sessions, cannot be read, or are reached twice are
listed with the reason and never stop the study.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nipype_carbon.analyse.carbon import J_PER_KWH
from nipype_carbon.measure.host import host_name
from nipype_carbon.record.spool import process_alive
from nipype_carbon.reference.grids import GridIntensity, check_pue, resolve_intensity
from nipype_carbon.study.store import FileKey, Store, default_store_path
from nipype_carbon.study.subjects import NO_SUBJECT, SHARED, subject_from_pattern
from nipype_carbon.study.summary import NotASession, summarise

#: a run with no end recorded whose session changed this recently, driven from a host whose
#: processes cannot be checked from here, is taken as still going
RECENT_S = 15 * 60
#: bootstrap resamples of the projection, and its interval
BOOTSTRAP = 2000
INTERVAL = (5.0, 95.0)
#: fewer completed subjects than this: the projection's interval is marked as too narrow
FEW_SUBJECTS = 10
#: the statistics a distribution across subjects is told by
STAT_FIELDS = ("n", "median", "q1", "q3", "p5", "p95", "min", "max", "mean", "sd")
#: what a worker process answers for a file it could not sum up: the reason
UNREADABLE = (NotASession, OSError, ValueError, KeyError, IndexError, TypeError, AttributeError)


@dataclass
class Skipped:
    """A file of the study's tree that is not counted, and why."""

    path: str
    reason: str


@dataclass
class Study:
    """What :func:`build_study` found: tables (pandas) and sums, in joules and grams."""

    runs: pd.DataFrame
    subjects: pd.DataFrame
    steps: pd.DataFrame
    hardware: pd.DataFrame
    distribution: dict[str, float]
    totals: dict[str, float]
    waste: dict[str, float]
    projection: dict[str, Any] | None
    skipped: list[Skipped] = field(default_factory=list)
    grid_text: str = ""
    method: str = ""
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


def find_sessions(
    paths: Sequence[str | os.PathLike[str]],
) -> tuple[list[tuple[Path, FileKey]], list[Skipped]]:
    """Session files under ``paths`` (a file given by name; below a folder, every ``*.jsonl``
    outside spool and hidden folders, links not followed), each file once however many paths
    reach it."""
    found: list[tuple[Path, FileKey]] = []
    skipped: list[Skipped] = []
    seen: dict[tuple[int, int], Path] = {}

    def take(path: Path, given: bool = False) -> None:
        if not given and path.is_symlink():  # as report does: a link is not a run's file
            skipped.append(Skipped(str(path), "a link: not followed (give the file it names)"))
            return
        try:
            st = path.stat()
        except OSError as err:
            skipped.append(Skipped(str(path), f"cannot be read: {err.strerror or err}"))
            return
        if not path.is_file():
            skipped.append(Skipped(str(path), "not a regular file"))
            return
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            skipped.append(Skipped(str(path), f"the same file as {first}: counted once"))
            return
        seen[(st.st_dev, st.st_ino)] = path
        found.append((path, FileKey.of(path, st)))

    for given in paths:
        root = Path(given)
        if not root.exists():
            skipped.append(Skipped(str(root), "no such file or folder"))
        elif root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs[:] = sorted(
                    d for d in dirs if not d.endswith(".spool") and not d.startswith(".")
                )
                for name in sorted(files):
                    if name.endswith(".jsonl"):
                        take(Path(folder) / name)
        else:
            take(root, given=True)
    return found, skipped


def _summarise_one(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        return summarise(path), ""
    except UNREADABLE as err:
        reason = str(err).split("\n")[0]
        if not isinstance(err, NotASession):
            reason = f"{type(err).__name__}: {reason}"
        return None, reason


def summaries(
    files: Sequence[tuple[Path, FileKey]], store: Store, workers: int | None = None
) -> tuple[list[tuple[int, Path, dict[str, Any]]], list[Skipped], int]:
    """The stored summary of each file, summing up (in worker processes) those not seen
    before; the files that are not sessions; how many were summed up now."""
    known = store.known([k for _, k in files])
    todo = [(p, k) for p, k in files if k not in known]
    out: dict[Path, tuple[int, dict[str, Any]]] = {p: known[k] for p, k in files if k in known}
    skipped: list[Skipped] = []
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_summarise_one, [p for p, _ in todo], chunksize=4))
    else:
        results = [_summarise_one(p) for p, _ in todo]
    for (path, key), (summary, reason) in zip(todo, results, strict=True):
        if summary is None:
            skipped.append(Skipped(str(path), reason))
        else:
            out[path] = store.put(key, summary)
    ordered = [(out[p][0], p, out[p][1]) for p, _ in files if p in out]
    return ordered, skipped, len(todo)


def run_subjects(summary: dict[str, Any], pattern: re.Pattern[str] | None) -> tuple[list[str], str]:
    """A run's subjects and where they were read: setting, names, command line, pattern."""
    if summary.get("subject_setting"):
        return [str(summary["subject_setting"])], "setting"
    if summary.get("name_subjects"):
        return list(summary["name_subjects"]), "node names"
    if summary.get("argv_subjects"):
        return ["+".join(summary["argv_subjects"])], "command line"
    if pattern is not None:
        label = subject_from_pattern(pattern, [summary["path"], summary.get("workflow", "")])
        if label:
            return [label], "--subject-from"
    return [NO_SUBJECT], "none"


def _running(summary: dict[str, Any], here: str, now: float) -> bool:
    """No end recorded, and its driver is alive (here) or it changed lately (elsewhere)."""
    if summary.get("ended"):
        return False
    driver = summary.get("driver") or {}
    if not driver.get("host") or not driver.get("pid"):
        return False  # written before sessions named their driver: it cannot be told
    if driver.get("host") == here:
        return process_alive(int(driver["pid"]))
    try:
        return now - Path(summary["path"]).stat().st_mtime < RECENT_S
    except OSError:
        return False


def distribution(values: Iterable[float]) -> dict[str, float]:
    """n, median, quartiles, 5-95 %, min, max, mean and SD of ``values`` (NaN where none)."""
    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return {"n": 0, **{k: math.nan for k in STAT_FIELDS[1:]}}
    p5, q1, median, q3, p95 = np.percentile(x, [5, 25, 50, 75, 95])
    return {
        "n": int(x.size),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "p5": float(p5),
        "p95": float(p95),
        "min": float(x.min()),
        "max": float(x.max()),
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)) if x.size > 1 else 0.0,
    }


def outliers(values: pd.Series) -> pd.Series:
    """Which values lie beyond Tukey's fences (1.5 IQR beyond the quartiles)."""
    if len(values) < 4:
        return pd.Series(False, index=values.index)
    q1, q3 = values.quantile([0.25, 0.75])
    spread = 1.5 * (q3 - q1)
    return (values < q1 - spread) | (values > q3 + spread)


def project(
    energy_j: np.ndarray, emissions_g: np.ndarray, n_more: int, seed: int = 0
) -> dict[str, Any] | None:
    """What ``n_more`` subjects like these would cost: the central figure (n_more x the mean)
    and a 90 % prediction interval by bootstrap: the mean of a resample of the subjects,
    plus the spread of n_more new subjects around it (sqrt(n_more) x the resample's SD)."""
    n = energy_j.size
    if n < 2 or n_more < 1:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(BOOTSTRAP, n))
    noise = rng.standard_normal(BOOTSTRAP)
    out: dict[str, Any] = {"subjects": int(n_more), "from_subjects": int(n), "resamples": BOOTSTRAP}
    for name, x in (("energy_j", energy_j), ("emissions_g", emissions_g)):
        sample = x[picks]
        totals = (
            n_more * sample.mean(axis=1) + math.sqrt(n_more) * sample.std(axis=1, ddof=1) * noise
        )
        low, high = np.percentile(totals, INTERVAL)
        out[name] = float(n_more * x.mean())
        out[f"{name}_low"] = float(max(low, 0.0))
        out[f"{name}_high"] = float(high)
    out["too_narrow"] = n < FEW_SUBJECTS
    return out


def _grid_factor(
    summary: dict[str, Any],
    grid: GridIntensity | None,
    pue: float | None,
    cache: dict[Any, GridIntensity],
) -> tuple[float, GridIntensity, float]:
    """Grams CO2e per joule for a run: the grid and PUE asked for, else those it recorded."""
    if grid is None:
        key = (summary.get("region"), summary.get("intensity_g_per_kwh"))
        if key not in cache:
            cache[key] = resolve_intensity(*key)
        grid = cache[key]
    used_pue = check_pue(pue) if pue is not None else float(summary.get("pue") or 1.0)
    return grid.intensity_g_per_kwh * used_pue / J_PER_KWH, grid, used_pue


def build_study(
    paths: Sequence[str | os.PathLike[str]],
    subject_from: str | None = None,
    region: str | None = None,
    intensity_g_per_kwh: float | None = None,
    pue: float | None = None,
    include_running: bool = False,
    project_subjects: int = 10_000,
    store_path: Path | str | None = "default",
    workers: int | None = None,
) -> Study:
    """The study of every run under ``paths`` (see the module)."""
    clock = time.perf_counter()
    pattern = re.compile(subject_from) if subject_from else None
    grid = (
        resolve_intensity(region, intensity_g_per_kwh)
        if (region or intensity_g_per_kwh is not None)
        else None
    )
    store = Store(
        default_store_path()
        if store_path == "default"
        else (Path(store_path) if store_path else None)
    )
    try:
        files, skipped = find_sessions(paths)
        found, unreadable, new = summaries(files, store, workers)
        skipped += unreadable
        first_pass_s = time.perf_counter() - clock
        runs = _runs_table(found, pattern, grid, pue, include_running)
        # in the order the runs started: a later attempt's rerun makes an earlier one's redone
        chosen = runs[runs["included"]].sort_values(["created", "path"], kind="stable")
        steps, by_subject, divided = _steps_table(store, chosen)
    finally:
        store.close()
    subjects = _subjects_table(chosen, by_subject, divided)
    labelled = subjects[~subjects["subject"].isin([NO_SUBJECT, SHARED])]
    completed = labelled[labelled["status"] == "complete"]
    total_j = float(chosen["energy_j"].sum())
    totals = {
        "runs": len(chosen),
        "subjects": len(labelled),
        "subjects_complete": len(completed),
        "energy_j": total_j,
        "emissions_g": float(chosen["emissions_g"].sum()),
        "cpu_s": float(chosen["cpu_s"].sum()),
        "wall_time_s": float(chosen["wall_time_s"].sum()),
        "nodes": int(chosen["nodes"].sum()),
        "runs_running": int(runs["running"].sum()),
        "runs_left_out": int((~runs["included"]).sum()),
    }
    if not steps.empty:
        steps["share"] = steps["energy_j"] / total_j if total_j > 0 else 0.0
    waste = {
        "failed_j": float(steps["failed_j"].sum()) if not steps.empty else 0.0,
        "redone_j": float(steps["redone_j"].sum()) if not steps.empty else 0.0,
        "earlier_attempts_j": float(chosen.loc[~chosen["last_attempt"], "energy_j"].sum()),
        "avoided_by_cache_j": float(chosen["avoided_j"].sum()),
        "rightsize_j": float(steps["rightsize_j"].sum()) if not steps.empty else 0.0,
        "spare_core_s": float(steps["spare_core_s"].sum()) if not steps.empty else 0.0,
        "spare_mem_gb_s": float(steps["spare_mem_gb_s"].sum()) if not steps.empty else 0.0,
    }
    waste["wasted_j"] = waste["failed_j"] + waste["redone_j"]
    projection = project(
        completed["energy_j"].to_numpy(float),
        completed["emissions_g"].to_numpy(float),
        project_subjects,
    )
    notes = _notes(runs, subjects, grid, pue)
    return Study(
        runs=runs,
        subjects=subjects,
        steps=steps,
        hardware=_hardware_table(chosen, subjects),
        distribution=distribution(completed["energy_j"]),
        totals=totals,
        waste=waste,
        projection=projection,
        skipped=skipped,
        grid_text=_grid_text(chosen, grid, pue),
        method=_method_text(chosen),
        notes=notes,
        timings={
            "first_pass_s": first_pass_s,
            "summed_up_now": float(new),
            "total_s": time.perf_counter() - clock,
        },
    )


#: the columns of the runs table, in order
RUN_COLUMNS = [
    "run_id",
    "path",
    "subject",
    "subject_from",
    "attempt",
    "attempts",
    "last_attempt",
    "engine",
    "workflow",
    "status",
    "status_text",
    "running",
    "included",
    "created",
    "energy_j",
    "emissions_g",
    "cpu_s",
    "wall_time_s",
    "nodes",
    "avoided_j",
    "engine_overhead_j",
    "method",
    "host",
    "cpu_model",
    "region",
    "intensity_g_per_kwh",
    "pue",
    "tool_version",
    "damaged_lines",
    "problems",
]


def _runs_table(
    found: Sequence[tuple[int, Path, dict[str, Any]]],
    pattern: re.Pattern[str] | None,
    grid: GridIntensity | None,
    pue: float | None,
    include_running: bool,
) -> pd.DataFrame:
    here, now, grids = host_name(), time.time(), {}  # type: ignore[var-annotated]
    rows = []
    for run_id, path, s in found:
        labels, source = run_subjects(s, pattern)
        factor, run_grid, run_pue = _grid_factor(s, grid, pue, grids)
        running = _running(s, here, now)
        hosts = s.get("hosts") or {}
        models = sorted({h.get("cpu_model") or "unknown CPU" for h in hosts.values()}) or [
            "unknown CPU"
        ]
        rows.append(
            {
                "run_id": run_id,
                "path": str(path),
                "subject": labels[0] if len(labels) == 1 else SHARED,
                "subjects": labels,
                "subject_from": source,
                "engine": s.get("engine", ""),
                "workflow": s.get("workflow", ""),
                "status": "running" if running else s.get("status", "interrupted"),
                "status_text": s.get("status_text", ""),
                "running": running,
                "included": include_running or not running,
                "created": float(s.get("created") or 0.0),
                "energy_j": float(s.get("energy_j") or 0.0),
                "g_per_j": factor,
                "emissions_g": float(s.get("energy_j") or 0.0) * factor,
                "cpu_s": float(s.get("cpu_s") or 0.0),
                "wall_time_s": float(s.get("wall_time_s") or 0.0),
                "nodes": int(s.get("nodes") or 0),
                "avoided_j": float(s.get("avoided_j") or 0.0),
                "engine_overhead_j": float(s.get("engine_overhead_j") or 0.0),
                "method": s.get("method", ""),
                "host": ",".join(sorted(hosts)) or "",
                "cpu_model": " + ".join(models),
                "region": run_grid.region,
                "intensity_g_per_kwh": run_grid.intensity_g_per_kwh,
                "pue": run_pue,
                "tool_version": s.get("tool_version", ""),
                "problems": "; ".join(s.get("problems") or []),
                "damaged_lines": int(s.get("damaged_lines") or 0),
            }
        )
    runs = pd.DataFrame(rows, columns=[*RUN_COLUMNS, "subjects", "g_per_j"])
    if runs.empty:
        return runs.astype({"included": bool, "running": bool, "last_attempt": bool})
    # attempts: a subject's runs of one workflow in the order they started (a run of several
    # subjects is an attempt of each); the last one of each is the one that counts as its result
    order = runs[runs["included"]].explode("subjects")
    order = order[order["subjects"] != NO_SUBJECT].sort_values(["created", "path"], kind="stable")
    group = order.groupby(["subjects", "workflow"])
    order["attempt"] = group.cumcount() + 1
    order["attempts"] = group["run_id"].transform("size")
    first = order.groupby("run_id").agg(attempt=("attempt", "max"), attempts=("attempts", "max"))
    last = (order["attempt"] == order["attempts"]).groupby(order["run_id"]).any()
    runs["attempt"] = runs["run_id"].map(first["attempt"]).fillna(1).astype(int)
    runs["attempts"] = runs["run_id"].map(first["attempts"]).fillna(1).astype(int)
    runs["last_attempt"] = runs["run_id"].map(last).fillna(True).astype(bool)
    return runs.sort_values(["subject", "created"], kind="stable").reset_index(drop=True)


#: the columns of the steps table, in order
STEP_COLUMNS = [
    "step",
    "interface",
    "subjects",
    "energy_j",
    "share",
    "emissions_g",
    "median_j",
    "q1_j",
    "q3_j",
    "p5_j",
    "p95_j",
    "min_j",
    "max_j",
    "outliers",
    "failed_j",
    "redone_j",
    "cpu_s",
    "node_s",
    "spare_core_s",
    "spare_mem_gb_s",
    "rightsize_j",
    "nodes",
    "method",
]


class _Grid:
    """Per subject x step sums, grown a block of steps at a time (see :func:`_steps_table`)."""

    def __init__(self, subjects: int) -> None:
        self.subjects, self.cap = subjects, 0
        self.matrices: dict[str, np.ndarray] = {}
        self.vectors: dict[str, np.ndarray] = {}

    def grow(self, need: int) -> None:
        if need <= self.cap:
            return
        cap = max(need, 2 * self.cap, 256)
        for name, dtype in (("energy", float), ("pending", float), ("present", bool)):
            old = self.matrices.get(name, np.zeros((self.subjects, 0), dtype=dtype))
            grown = np.zeros((self.subjects, cap), dtype=dtype)
            grown[:, : old.shape[1]] = old
            self.matrices[name] = grown
        for name in STEP_SUMS:
            old = self.vectors.get(name, np.zeros(0))
            self.vectors[name] = np.concatenate([old, np.zeros(cap - old.size)])
        self.cap = cap


#: what is summed per step
STEP_SUMS = (
    "energy_j", "emissions_g", "failed_j", "redone_j", "cpu_s", "node_s", "spare_core_s",
    "spare_mem_gb_s", "rightsize_j", "nodes",
)  # fmt: skip
#: what is summed per subject, from its nodes
SUBJECT_SUMS = ("nodes_energy_j", "failed_j", "redone_j", "nodes_cpu_s", "rightsize_j")


def _steps_table(
    store: Store, chosen: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame, dict[int, dict[str, float]]]:
    """Per step across subjects; per subject, its nodes' sums; per run of several subjects,
    each one's nodes' energy (to divide the rest by).

    Runs are read in the order they started (``chosen`` is), so that a step a subject's later
    attempt ran again makes the earlier attempt's energy in it redone. In a run of one subject
    every node is that subject's; in a run of several, a node is the subject's its name shows,
    else shared.
    """
    texts = store.names()
    labels = sorted({str(x) for subs in chosen["subjects"] for x in subs} | {SHARED, NO_SUBJECT})
    index = {label: i for i, label in enumerate(labels)}
    by_name = np.full(max(texts, default=0) + 1, index[SHARED], dtype=np.int64)
    for name_id, text in texts.items():
        if text in index:
            by_name[name_id] = index[text]
    col_of = np.full(max(texts, default=0) + 1, -1, dtype=np.int64)
    step_ids: list[int] = []
    interface_ids: list[int] = []
    methods: dict[int, set[int]] = {}
    grid = _Grid(len(labels))
    subject_sums = {name: np.zeros(len(labels)) for name in SUBJECT_SUMS}
    divided: dict[int, dict[str, float]] = {}
    runs: dict[int, dict[Any, Any]] = {
        int(r["run_id"]): r for r in chosen[["run_id", "subjects", "g_per_j"]].to_dict("records")
    }
    order = [int(r) for r in chosen["run_id"]]
    for run_id, rows in store.step_blobs(order):
        if not rows.size:
            continue
        run = runs[run_id]
        own = list(run["subjects"])
        if len(own) == 1:
            who = np.full(rows.size, index[str(own[0])], dtype=np.int64)
        else:
            who = by_name[rows["subject"]]
        ids = rows["step"].astype(np.int64)
        new = col_of[ids] < 0
        if new.any():
            fresh, first = np.unique(ids[new], return_index=True)
            col_of[fresh] = np.arange(len(step_ids), len(step_ids) + fresh.size)
            step_ids.extend(int(x) for x in fresh)
            interface_ids.extend(int(x) for x in rows["interface"][new][first])
            grid.grow(len(step_ids))
        col = col_of[ids]
        # one row per (subject, step) of this run
        key, inverse = np.unique(who * grid.cap + col, return_inverse=True)
        s_idx, c_idx = key // grid.cap, key % grid.cap

        def total(
            values: np.ndarray, inverse: np.ndarray = inverse, n: int = key.size
        ) -> np.ndarray:
            return np.bincount(inverse, weights=values, minlength=n)

        energy, failed = total(rows["energy_j"]), total(rows["failed_j"])
        ran = total(rows["ran"].astype(float)) > 0
        m, v = grid.matrices, grid.vectors
        np.add.at(m["energy"], (s_idx, c_idx), energy)
        m["present"][s_idx, c_idx] = True
        redone = np.where(ran, m["pending"][s_idx, c_idx], 0.0)
        m["pending"][s_idx[ran], c_idx[ran]] = (energy - failed)[ran]
        sums = {
            "energy_j": energy,
            "emissions_g": energy * float(run["g_per_j"]),
            "failed_j": failed,
            "redone_j": redone,
            "cpu_s": total(rows["cpu_s"]),
            "node_s": total(rows["node_s"]),
            "spare_core_s": total(rows["spare_core_s"]),
            "spare_mem_gb_s": total(rows["spare_mem_gb_s"]),
            "rightsize_j": total(rows["rightsize_j"]),
            "nodes": total(rows["nodes"]),
        }
        for name, values in sums.items():
            np.add.at(v[name], c_idx, values)
        for name, values in (
            ("nodes_energy_j", energy), ("failed_j", failed), ("redone_j", redone),
            ("nodes_cpu_s", sums["cpu_s"]), ("rightsize_j", sums["rightsize_j"]),
        ):  # fmt: skip
            np.add.at(subject_sums[name], s_idx, values)
        for c, method in set(zip(col.tolist(), rows["method"].tolist(), strict=True)):
            methods.setdefault(c, set()).add(method)
        if len(own) > 1:
            mine = np.bincount(s_idx, weights=energy, minlength=len(labels))
            divided[run_id] = {labels[i]: float(mine[i]) for i in np.nonzero(mine)[0]}
    table = _step_rows(grid, labels, step_ids, interface_ids, methods, texts)
    by_subject = pd.DataFrame(subject_sums, index=labels)
    return table, by_subject, divided


def _step_rows(
    grid: _Grid,
    labels: list[str],
    step_ids: list[int],
    interface_ids: list[int],
    methods: dict[int, set[int]],
    texts: dict[int, str],
) -> pd.DataFrame:
    """The steps table from the grid: sums, and the distribution across labelled subjects,
    computed a block of steps at a time."""
    n = len(step_ids)
    if not n:
        return pd.DataFrame(columns=STEP_COLUMNS)
    keep = np.array([label not in (SHARED, NO_SUBJECT) for label in labels])
    names = np.array(labels)[keep]
    subjects = np.zeros(n, dtype=int)
    stats = {k: np.full(n, math.nan) for k in ("p5", "q1", "median", "q3", "p95", "min", "max")}
    outlying: list[str] = [""] * n
    for start in range(0, n, 64):
        part = slice(start, min(n, start + 64))
        # a block of steps at a time: no copy of the whole subjects x steps grid
        present = grid.matrices["present"][:, part][keep]
        x = np.where(present, grid.matrices["energy"][:, part][keep], np.nan)
        counted = present.sum(axis=0)
        subjects[part] = counted
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p5, q1, median, q3, p95 = np.nanpercentile(x, [5, 25, 50, 75, 95], axis=0)
            low, high = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        for key, values in zip(
            ("p5", "q1", "median", "q3", "p95", "min", "max"),
            (p5, q1, median, q3, p95, low, high),
            strict=True,
        ):
            stats[key][part] = values
        spread = 1.5 * (q3 - q1)
        with np.errstate(invalid="ignore"):
            out = ((x < q1 - spread) | (x > q3 + spread)) & (counted >= 4)
        for subject_i, c in zip(*np.nonzero(out), strict=True):
            outlying[start + c] += (" " if outlying[start + c] else "") + str(names[subject_i])
    v = grid.vectors
    table = pd.DataFrame(
        {
            "step": [texts.get(i, "?") for i in step_ids],
            "interface": [texts.get(i, "?") for i in interface_ids],
            "subjects": subjects,
            "energy_j": v["energy_j"][:n],
            "share": 0.0,
            "emissions_g": v["emissions_g"][:n],
            **{f"{k}_j": stats[k] for k in ("median", "q1", "q3", "p5", "p95", "min", "max")},
            "outliers": [" ".join(sorted(o.split())) for o in outlying],
            **{k: v[k][:n] for k in STEP_SUMS if k not in ("energy_j", "emissions_g")},
            "method": [
                "+".join(sorted({texts.get(m, "") for m in methods.get(c, set())} - {"none", ""}))
                or "none"
                for c in range(n)
            ],
        }
    )
    table["nodes"] = table["nodes"].astype(int)
    table = table[STEP_COLUMNS]
    return table.sort_values("energy_j", ascending=False, kind="stable").reset_index(drop=True)


#: the columns of the subjects table, in order
SUBJECT_COLUMNS = [
    "subject",
    "status",
    "runs",
    "energy_j",
    "emissions_g",
    "cpu_s",
    "wall_time_s",
    "failed_j",
    "redone_j",
    "rightsize_j",
    "outlier",
    "host",
    "cpu_model",
    "method",
    "subject_from",
    "engine",
]


def _subjects_table(
    runs: pd.DataFrame, by_subject: pd.DataFrame, divided: dict[int, dict[str, float]]
) -> pd.DataFrame:
    """One row per subject: its runs summed (a run of several divided, see the module)."""
    parts: list[tuple[str, dict[Any, Any], float]] = []
    for run in runs.to_dict("records"):
        labels = [str(s) for s in run["subjects"]]
        if len(labels) == 1:
            parts.append((labels[0], run, 1.0))
            continue
        # a run of several subjects: by their nodes' energy; evenly when none is known
        known = divided.get(int(run["run_id"]), {})
        own = [known.get(s, 0.0) for s in labels]
        whole = sum(own)
        for label, energy in zip(labels, own, strict=True):
            parts.append((label, run, energy / whole if whole > 0 else 1.0 / len(labels)))
    rows: dict[str, dict[str, Any]] = {}
    for label, run, share in parts:
        row = rows.setdefault(
            label,
            {
                "subject": label,
                "status": "",
                "runs": 0,
                "energy_j": 0.0,
                "emissions_g": 0.0,
                "cpu_s": 0.0,
                "wall_time_s": 0.0,
                "hosts": set(),
                "cpu_models": set(),
                "methods": set(),
                "subject_from": run["subject_from"],
                "engine": set(),
                "statuses": set(),
            },
        )
        row["runs"] += 1
        row["energy_j"] += share * float(run["energy_j"])
        row["emissions_g"] += share * float(run["emissions_g"])
        row["cpu_s"] += share * float(run["cpu_s"])
        row["wall_time_s"] += float(run["wall_time_s"])
        row["hosts"].update(h for h in str(run["host"]).split(",") if h)
        row["cpu_models"].add(run["cpu_model"])
        row["methods"].add(run["method"])
        row["engine"].add(run["engine"])
        if run["last_attempt"]:  # the result of each of its workflows: the worst of them
            row["statuses"].add(run["status"])
    out = []
    own_sums: dict[Any, dict[Any, Any]] = by_subject.to_dict("index")
    for label, row in rows.items():
        sums = own_sums.get(label)
        out.append(
            {
                "subject": label,
                "status": _worst(row["statuses"]),
                "runs": row["runs"],
                "energy_j": row["energy_j"],
                "emissions_g": row["emissions_g"],
                "cpu_s": row["cpu_s"],
                "wall_time_s": row["wall_time_s"],
                "failed_j": float(sums["failed_j"]) if sums is not None else 0.0,
                "redone_j": float(sums["redone_j"]) if sums is not None else 0.0,
                "rightsize_j": float(sums["rightsize_j"]) if sums is not None else 0.0,
                "outlier": False,
                "host": ",".join(sorted(row["hosts"])),
                "cpu_model": " / ".join(sorted(row["cpu_models"])),
                "method": " / ".join(sorted(row["methods"])),
                "subject_from": row["subject_from"],
                "engine": ",".join(sorted(e for e in row["engine"] if e)),
            }
        )
    table = pd.DataFrame(out, columns=SUBJECT_COLUMNS)
    labelled = ~table["subject"].isin([NO_SUBJECT, SHARED]) & (table["status"] == "complete")
    table.loc[labelled, "outlier"] = outliers(table.loc[labelled, "energy_j"])
    return table.sort_values("subject", kind="stable").reset_index(drop=True)


#: run statuses, the worst first: a subject is as done as its least done workflow
RUN_STATUS_ORDER = ("running", "interrupted", "failed", "complete")


def _worst(statuses: set[str]) -> str:
    for status in RUN_STATUS_ORDER:
        if status in statuses:
            return status
    return next(iter(sorted(statuses)), "interrupted")


#: the columns of the hardware table, in order
HARDWARE_COLUMNS = [
    "cpu_model",
    "runs",
    "subjects",
    "energy_j",
    "cpu_s",
    "j_per_cpu_s",
    "median_subject_j",
]


def _hardware_table(runs: pd.DataFrame, subjects: pd.DataFrame) -> pd.DataFrame:
    """Per CPU model the runs used: runs, energy, CPU time, joules per CPU-second, and the
    median cost of the completed subjects that ran only there."""
    rows = []
    for model, group in runs.groupby("cpu_model", sort=True):
        there = subjects[(subjects["cpu_model"] == model) & (subjects["status"] == "complete")]
        there = there[~there["subject"].isin([NO_SUBJECT, SHARED])]
        cpu = float(group["cpu_s"].sum())
        rows.append(
            {
                "cpu_model": model,
                "runs": len(group),
                "subjects": int(group.explode("subjects")["subjects"].nunique()),
                "energy_j": float(group["energy_j"].sum()),
                "cpu_s": cpu,
                "j_per_cpu_s": float(group["energy_j"].sum()) / cpu if cpu > 0 else math.nan,
                "median_subject_j": float(there["energy_j"].median()) if len(there) else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=HARDWARE_COLUMNS)


def _grid_text(runs: pd.DataFrame, grid: GridIntensity | None, pue: float | None) -> str:
    if runs.empty:
        return ""
    pairs = runs.groupby(["region", "intensity_g_per_kwh", "pue"]).size().reset_index(name="n")
    given = " (asked for here)" if grid is not None or pue is not None else ""
    return (
        "; ".join(
            f"{r['region']} {r['intensity_g_per_kwh']:g} gCO2e/kWh, PUE {r['pue']:g} "
            f"({r['n']} run{'s' * (r['n'] != 1)})"
            for r in pairs.to_dict("records")
        )
        + given
    )


def _method_text(runs: pd.DataFrame) -> str:
    counts = runs["method"].value_counts()
    return "; ".join(f"{m} ({n} run{'s' * (n != 1)})" for m, n in counts.items())


def _notes(
    runs: pd.DataFrame, subjects: pd.DataFrame, grid: GridIntensity | None, pue: float | None
) -> list[str]:
    notes = []
    running = runs[runs["running"]]
    if len(running):
        verb = "included in" if running["included"].all() else "left out of"
        notes.append(
            f"{len(running)} run(s) still in progress, {verb} the totals"
            + ("" if running["included"].all() else " (--include-running counts them)")
        )
    unknown = runs[runs["subject"] == NO_SUBJECT]
    if len(unknown):
        notes.append(
            f"{len(unknown)} run(s) of no known subject: give --subject-from REGEX (matched "
            "against the session's path and workflow name) or run with --subject"
        )
    unfinished = subjects[
        ~subjects["status"].isin(["complete"]) & ~subjects["subject"].isin([NO_SUBJECT, SHARED])
    ]
    if len(unfinished):
        notes.append(
            f"{len(unfinished)} subject(s) whose last run did not complete: in the totals, not in "
            "the per-subject distribution or the projection"
        )
    damaged = runs[runs["damaged_lines"] > 0]
    if len(damaged):
        notes.append(
            f"{len(damaged)} run(s) with damaged lines or values left out, "
            f"{int(damaged['damaged_lines'].sum())} in all (see the runs table's problems)"
        )
    return notes
