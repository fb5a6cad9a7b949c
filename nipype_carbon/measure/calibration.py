"""A host's idle CPU power, measured once on a quiet host and kept for later runs.

On a host that other processes keep busy from before a run starts, no reading
taken during the run can tell the baseline from busy power. ``nipype-carbon
doctor --calibrate SECONDS`` measures it while the host is quiet and keeps it
per host in a small JSON file (``$NIPYPE_CARBON_CALIBRATION``, default
``~/.config/nipype-carbon/calibration.json``, shared by the nodes of a cluster
through the home directory). Every run records the file's contents, and
attribution takes the value for each host where the run sets no
``cpu_baseline_w`` of its own. Standard library only.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nipype_carbon.measure.meters.base import EnergyMeter
from nipype_carbon.measure.procfs import busy_cpu_s

CALIBRATION_ENV = "NIPYPE_CARBON_CALIBRATION"
#: the most the host may be busy while it is calibrated (share of all CPUs)
QUIET_UTILISATION = 0.1


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


def load_calibrations(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every host's calibration, by host name ({} when there is none or it is unreadable)."""
    try:
        data = json.loads((path or calibration_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return (
        {str(k): v for k, v in data.items() if isinstance(v, dict)}
        if isinstance(data, dict)
        else {}
    )


def save_calibration(host: str, calibration: Calibration, path: Path | None = None) -> Path:
    """Keep ``calibration`` for ``host`` (other hosts' entries are kept too)."""
    target = path or calibration_path()
    data = load_calibrations(target)
    data[host] = asdict(calibration)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(target)
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
