"""A host's idle CPU power, measured once on a quiet host and kept for later runs.

On a host that other processes keep busy from before a run starts, no reading
taken during the run can tell the baseline from busy power. ``nipype-carbon
doctor --calibrate SECONDS`` measures it while the host is quiet and keeps it
per host in a small JSON file (``$NIPYPE_CARBON_CALIBRATION``, default
``~/.config/nipype-carbon/calibration.json``, shared by the nodes of a cluster
through the home directory). Every run records the file's good entries, and
attribution takes the value for each host where the run sets no
``cpu_baseline_w`` of its own. Standard library only.

The file is read as any file in a shared folder is (:mod:`nipype_carbon.files.safe`):
a regular file of at most :data:`MAX_FILE_B`, never a pipe, a device or a folder.
Each host's entry is checked (:func:`entry_problem`); a bad one is left out and
named in one logged line, so it never reaches a session or fails a run.

Examples
--------
>>> entry_problem({"cpu_baseline_w": -50.0, "measured": "2025-01-01T00:00:00"})
'cpu_baseline_w -50.0 is not a number of watts from 0 to 5,000'
>>> entry_problem({"cpu_baseline_w": 61.2, "utilisation": 0.01, "seconds": 30.0}) is None
True
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import stat
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nipype_carbon.files.safe import FileRefused, kind_of, read_limited, replace_file
from nipype_carbon.measure.meters.base import EnergyMeter
from nipype_carbon.measure.procfs import busy_cpu_s

logger = logging.getLogger("nipype_carbon.measure.calibration")

CALIBRATION_ENV = "NIPYPE_CARBON_CALIBRATION"
#: the most the host may be busy while it is calibrated (share of all CPUs)
QUIET_UTILISATION = 0.1
#: idle power of a host's CPU packages together, W (also the setting ``cpu_baseline_w``'s range)
CPU_BASELINE_W_RANGE = (0.0, 5000.0)
#: how long ``doctor --calibrate`` may measure, s
CALIBRATE_S_RANGE = (1.0, 3600.0)
#: the most a calibration file may hold (a few hundred bytes per host)
MAX_FILE_B = 1 << 20
#: the longest ``measured`` or ``method`` text kept (they are shown in reports)
MAX_TEXT = 100
#: the one-line fix for a bad entry, and for a file that cannot be a calibration file
REDO_ENTRY = "rerun `nipype-carbon doctor --calibrate 30` on that host, or delete the entry"
REDO_FILE = (
    f"point {CALIBRATION_ENV} at a regular file (or move this one away), "
    "then rerun `nipype-carbon doctor --calibrate 30`"
)
#: the fields of an entry that are kept (anything else in the file is not copied into sessions)
FIELDS = ("cpu_baseline_w", "utilisation", "seconds", "measured", "method")
#: the longest host name kept
MAX_HOST = 255
_warned: set[str] = set()


@dataclass
class Calibration:
    """Idle power of a host's CPU packages, and how it was measured."""

    cpu_baseline_w: float
    utilisation: float
    seconds: float
    measured: str  # ISO date and time
    method: str  # the meter that measured it


def calibration_path() -> Path:
    """Where calibrations are kept."""
    default = Path.home() / ".config" / "nipype-carbon" / "calibration.json"
    return Path(os.environ.get(CALIBRATION_ENV) or default)


def usable_baseline_w(value: object) -> float | None:
    """``value`` as idle CPU watts when it is a finite number in :data:`CPU_BASELINE_W_RANGE`."""
    low, high = CPU_BASELINE_W_RANGE
    number = _finite(value)
    return number if number is not None and low <= number <= high else None


def _finite(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits
        return None
    return number if math.isfinite(number) else None


def entry_problem(entry: object) -> str | None:
    """What is wrong with one host's entry (field, value and why), or None when it is usable.

    ``cpu_baseline_w`` is required; ``utilisation`` (0-1), ``seconds`` (over 0, at most a
    day), ``measured`` and ``method`` (short one-line texts) are checked when present.
    """
    if not isinstance(entry, dict):
        return f"the entry is {type(entry).__name__}, not an object"
    watts = entry.get("cpu_baseline_w")
    if usable_baseline_w(watts) is None:
        low, high = CPU_BASELINE_W_RANGE
        return f"cpu_baseline_w {_shown(watts)} is not a number of watts from {low:g} to {high:,g}"
    utilisation = _finite(entry.get("utilisation", 0.0))
    if utilisation is None or not 0.0 <= utilisation <= 1.0:
        return f"utilisation {_shown(entry.get('utilisation'))} is not a share from 0 to 1"
    seconds = _finite(entry.get("seconds", 1.0))
    if seconds is None or not 0.0 < seconds <= 86400.0:
        return f"seconds {_shown(entry.get('seconds'))} is not a duration over 0 s, up to a day"
    for key in ("measured", "method"):
        text = entry.get(key, "")
        if not (isinstance(text, str) and len(text) <= MAX_TEXT and text.isprintable()):
            return f"{key} {_shown(text)} is not a one-line text of at most {MAX_TEXT} characters"
    return None


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _read_json(target: Path) -> Any:
    """The file's JSON ({} when there is none): :class:`OSError` for a file that cannot be
    read or is no regular file, :class:`ValueError` for one that holds no JSON."""
    try:
        data = read_limited(target, MAX_FILE_B)
    except FileNotFoundError:
        return {}
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_calibrations(path: Path | None = None) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The usable entries by host name, and one line for each problem (file, host, field, fix).

    Never raises: a file that is missing gives ``({}, [])``; one that cannot be read, or is
    not a calibration file, gives ``({}, [why])``.
    """
    target = path or calibration_path()
    try:
        data = _read_json(target)
    except OSError as err:
        what = str(err) if isinstance(err, FileRefused) else f"{target}: {err.strerror or err}"
        return {}, [f"calibration file {what}: ignored: {REDO_FILE}"]
    except ValueError as err:
        return {}, [f"calibration file {target} is not JSON ({err}): ignored: {REDO_FILE}"]
    if not isinstance(data, dict):
        return {}, [f"calibration file {target} holds no object of hosts: ignored: {REDO_FILE}"]
    good: dict[str, dict[str, Any]] = {}
    problems = []
    for host, entry in data.items():
        problem = entry_problem(entry) if len(host) <= MAX_HOST else "the host name is too long"
        if problem is None:
            good[host] = {k: entry[k] for k in FIELDS if k in entry}
        else:
            problems.append(
                f"calibration file {target}: host {_shown(host)}: {problem}: entry ignored: "
                f"{REDO_ENTRY}"
            )
    return good, problems


def load_calibrations(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every host's usable calibration, by host name ({} when there is none).

    Each problem is logged as a warning once per process; none is raised.
    """
    good, problems = read_calibrations(path)
    for problem in problems:
        if problem not in _warned:
            _warned.add(problem)
            logger.warning("nipype-carbon: %s", problem)
    return good


def save_calibration(host: str, calibration: Calibration, path: Path | None = None) -> Path:
    """Keep ``calibration`` for ``host`` (other hosts' usable entries are kept too).

    The file is replaced, never written through (a link at its name is replaced); one that
    is not JSON is replaced whole. :class:`OSError` (its message names the path) for a file
    that cannot be read or replaced: a folder, a device, a pipe, no permission.
    """
    target = path or calibration_path()
    check_writable(target)
    try:
        data = _read_json(target)
    except ValueError:
        data = {}
    hosts = data if isinstance(data, dict) else {}
    kept = {h: e for h, e in hosts.items() if len(h) <= MAX_HOST and entry_problem(e) is None}
    kept[host] = asdict(calibration)
    target.parent.mkdir(parents=True, exist_ok=True)
    return replace_file(target, json.dumps(kept, indent=1) + "\n")


def check_writable(path: Path | None = None) -> Path:
    """The calibration file's path, or :class:`OSError` when something other than a regular
    file (or a link) is at its name: what :func:`save_calibration` could not replace."""
    target = path or calibration_path()
    try:
        st = os.lstat(target)
    except FileNotFoundError:
        return target
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise FileRefused(
            errno.EINVAL, f"{target} is {kind_of(st)}, not a calibration file: {REDO_FILE}"
        )
    return target


def calibrate(
    meter: EnergyMeter,
    seconds: float,
    logical_cpus: int,
    j_per_busy_cpu_s: float = 0.0,
    samples: int = 10,
) -> Calibration:
    """Measure the CPU counters of ``meter`` and the host's busy CPU over ``seconds``.

    The power of the meter's CPU counter domains together, over the whole span
    (a wrap between two readings undone), less what the little load there was
    drew (``j_per_busy_cpu_s`` x busy CPU-seconds, the model's figure); and the
    host's utilisation, so a caller can refuse a host that was not quiet.
    """
    domains = [d for d in meter.domains() if d.component == "cpu" and d.kind == "counter"]
    if not domains:
        raise ValueError(f"meter {meter.kind} has no CPU energy counter to calibrate")
    t0, busy0 = time.time(), busy_cpu_s()
    last = {d.name: meter.read()[d.name] for d in domains}
    energy = 0.0
    for _ in range(samples):
        time.sleep(seconds / samples)
        values = meter.read()
        for d in domains:
            delta = values[d.name] - last[d.name]
            if delta < 0 and d.wrap_j:
                delta += d.wrap_j
            energy += max(delta, 0.0)
            last[d.name] = values[d.name]
    span = time.time() - t0
    busy = busy_cpu_s() - busy0
    utilisation = busy / (span * max(logical_cpus, 1))
    return Calibration(
        cpu_baseline_w=max(0.0, energy - j_per_busy_cpu_s * busy) / span,
        utilisation=utilisation,
        seconds=span,
        measured=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        method=meter.kind,
    )
