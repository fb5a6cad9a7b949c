"""RAPL energy counters read through the Linux powercap sysfs interface.

Intel CPUs since Sandy Bridge and AMD CPUs since Zen expose Running Average
Power Limit (RAPL) energy counters under ``/sys/class/powercap`` (the AMD
driver reuses the ``intel-rapl`` names). The tree looks like::

    intel-rapl:0/          name=package-0   (one per socket)
    intel-rapl:0/intel-rapl:0:0   name=core      (inside the package: skipped)
    intel-rapl:0/intel-rapl:0:1   name=uncore    (inside the package: skipped)
    intel-rapl:0/intel-rapl:0:2   name=dram      (separate domain: read)
    intel-rapl:1/          name=psys        (whole SoC: overlaps everything, skipped)
    intel-rapl-mmio:0/     the package again through MMIO (skipped)

Only package and DRAM zones are read, so nothing is counted twice. Counters
are in microjoules and wrap at ``max_energy_range_uj``; wraparound is undone
at attribution time on the host's merged timeline.

Since the 2020 Platypus advisory (CVE-2020-8694) ``energy_uj`` is readable by
root only on most distributions.

Examples
--------
>>> import tempfile
>>> from nipype_carbon.measure.meters.rapl import RaplMeter
>>> from nipype_carbon.measure.meters.base import MeterAbsent
>>> try:
...     RaplMeter(powercap_root=tempfile.mkdtemp())
... except MeterAbsent as err:
...     print(err.reason)
absent
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from nipype_carbon.measure.measurement import Component, Domain, HostNow
from nipype_carbon.measure.meters.base import (
    EnergyMeter,
    MeterAbsent,
    MeterBroken,
    MeterPermissionDenied,
)

DEFAULT_POWERCAP_ROOT = "/sys/class/powercap"
POWERCAP_ROOT_ENV = "NIPYPE_CARBON_POWERCAP_ROOT"
PERMISSION_FIX = (
    "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
    "/sys/class/powercap/intel-rapl:*/*/energy_uj"
)

_TOP_ZONE = re.compile(r"^intel-rapl:(\d+)$")
_DIE_ZONE = re.compile(r"^package-(\d+)-die-(\d+)$")
_SUB_ZONE = re.compile(r"^intel-rapl:(\d+):(\d+)$")


def resolve_powercap_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The powercap root: the argument, else ``$NIPYPE_CARBON_POWERCAP_ROOT``, else sysfs."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get(POWERCAP_ROOT_ENV) or DEFAULT_POWERCAP_ROOT)


def _read_text(path: Path) -> str:
    return path.read_text().strip()


def _zone_component(name: str) -> Component | None:
    if name.startswith("package"):
        return "cpu"
    if name == "dram":
        return "dram"
    return None


def discover_zones(root: Path) -> tuple[list[tuple[str, Path, Component]], list[str]]:
    """Find the package and DRAM zones under ``root``.

    Returns
    -------
    zones : list of (name, path, component)
    skipped : list of str
        Zones seen and left out, each with the reason.
    """
    zones: list[tuple[str, Path, Component]] = []
    skipped: list[str] = []
    packages_seen: set[str] = set()  # multi-die packages: counted once
    if not root.is_dir():
        return zones, skipped
    for top in sorted(root.iterdir(), key=lambda p: p.name):
        if top.name.startswith("intel-rapl-mmio"):
            skipped.append(f"{top.name}: MMIO view of a package already read")
            continue
        if not _TOP_ZONE.match(top.name):
            continue
        name = _read_text(top / "name")
        component = _zone_component(name)
        die = _DIE_ZONE.match(name)
        if component is None:
            skipped.append(f"{top.name} ({name}): overlaps the package zones")
        elif die and die.group(1) in packages_seen:
            skipped.append(f"{top.name} ({name}): another die's view of package {die.group(1)}")
        else:
            if die:
                packages_seen.add(die.group(1))
            label = name if component == "cpu" else f"{name}-{top.name.split(':')[1]}"
            zones.append((label, top, component))
        zones.extend(_sub_zones(top, skipped))
    return zones, skipped


def _sub_zones(top: Path, skipped: list[str]) -> list[tuple[str, Path, Component]]:
    found: list[tuple[str, Path, Component]] = []
    for sub in sorted(top.iterdir(), key=lambda p: p.name):
        match = _SUB_ZONE.match(sub.name)
        if not match:
            continue
        name = _read_text(sub / "name")
        if name == "dram":
            found.append((f"dram-{match.group(1)}", sub, "dram"))
        else:
            skipped.append(f"{sub.name} ({name}): inside its package, not added")
    return found


def _power_bound_w(zone: Path) -> float | None:
    """The zone's largest power constraint (``constraint_N_max_power_uw``), where it has one."""
    found = []
    for path in zone.glob("constraint_*_max_power_uw"):
        try:
            found.append(float(_read_text(path)) / 1e6)
        except (OSError, ValueError):
            continue
    found = [w for w in found if w > 0]
    return max(found) if found else None


class RaplMeter(EnergyMeter):
    """Package and DRAM energy from powercap sysfs.

    Parameters
    ----------
    powercap_root : path, optional
        Where the powercap tree is; default ``$NIPYPE_CARBON_POWERCAP_ROOT``
        or ``/sys/class/powercap``. Point it at a bind-mounted sysfs in a
        container, or at a fake tree in tests.

    Raises
    ------
    MeterAbsent
        No package zone under the root.
    MeterPermissionDenied
        The counters exist but are readable by root only.
    MeterBroken
        A counter cannot be parsed.
    """

    kind = "rapl"

    def __init__(self, powercap_root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_powercap_root(powercap_root)
        zones, self.skipped = discover_zones(self.root)
        if not any(component == "cpu" for _, _, component in zones):
            raise MeterAbsent(f"no RAPL package zone under {self.root}")
        self._files: dict[str, Path] = {}
        self._domains: list[Domain] = []
        for name, path, component in zones:
            wrap_uj = self._read_uj(path / "max_energy_range_uj")
            domain_name = f"rapl:{name}"
            self._files[domain_name] = path / "energy_uj"
            self._domains.append(
                Domain(
                    domain_name,
                    component,
                    "counter",
                    "rapl",
                    wrap_uj / 1e6,
                    str(path),
                    power_bound_w=_power_bound_w(path),
                )
            )
        self.read()  # fail now, not in a worker, when the counters are unreadable

    def _read_uj(self, path: Path) -> float:
        try:
            return float(_read_text(path))
        except PermissionError as err:
            raise MeterPermissionDenied(
                f"{path} is readable by root only (RAPL advisory CVE-2020-8694)",
                fix=PERMISSION_FIX,
            ) from err
        except (OSError, ValueError) as err:
            raise MeterBroken(f"cannot read {path}: {err}") from err

    def domains(self) -> list[Domain]:
        return list(self._domains)

    def read(self, now: HostNow | None = None) -> dict[str, float]:
        return {name: self._read_uj(path) / 1e6 for name, path in self._files.items()}

    def details(self) -> dict[str, Any]:
        return {"powercap_root": str(self.root), "skipped_zones": list(self.skipped)}
