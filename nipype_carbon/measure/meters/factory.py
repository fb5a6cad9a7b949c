"""Pick the meters this host offers, in order, and say why the others were skipped.

Order: RAPL through sysfs, then pyRAPL (only when sysfs RAPL is not usable:
both read the same counters), then NVML; the model meter covers whatever
component no measuring meter covers, so every run has CPU and memory energy,
labelled by how it was obtained.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nipype_carbon.measure.meters.base import EnergyMeter, MeterUnavailable
from nipype_carbon.measure.meters.utilisation import ModelMeter

logger = logging.getLogger("nipype_carbon.measure.meters")


@dataclass
class MeterSelection:
    """The meters chosen for a host and the reasons others were not."""

    meters: list[EnergyMeter]
    skipped: dict[str, str] = field(default_factory=dict)
    _as_dict: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    def methods(self) -> dict[str, str]:
        """Method per component, e.g. ``{"cpu": "rapl", "dram": "model"}``."""
        found: dict[str, str] = {}
        for meter in self.meters:
            for domain in meter.domains():
                found.setdefault(domain.component, domain.method)
        return found

    def to_dict(self) -> dict[str, Any]:
        """Provenance for the session (computed once: meters do not change)."""
        if self._as_dict is None:
            self._as_dict = {
                "meters": [m.info().to_dict() for m in self.meters],
                "skipped": dict(self.skipped),
            }
        return self._as_dict

    def kinds(self) -> tuple[str, ...]:
        """Kinds of the measuring meters chosen (the model is always added)."""
        return tuple(m.kind for m in self.meters if m.kind != "model")


def _try(
    kind: str, opener: Callable[[], EnergyMeter], skipped: dict[str, str]
) -> EnergyMeter | None:
    try:
        meter = opener()
        meter.domains()  # lazy meters open their handles here: fail now, not in a worker
        meter.read()
        return meter
    except MeterUnavailable as err:
        skipped[kind] = err.describe()
    except Exception as err:  # a vendor library failing in an unforeseen way
        skipped[kind] = f"broken: {type(err).__name__}: {err}"
    logger.info("meter %s not used: %s", kind, skipped[kind])
    return None


def _open_rapl(powercap_root: str | None) -> EnergyMeter:
    from nipype_carbon.measure.meters.rapl import RaplMeter

    return RaplMeter(powercap_root)


def _open_pyrapl() -> EnergyMeter:
    from nipype_carbon.measure.meters.pyrapl import PyRaplMeter

    return PyRaplMeter()


def _open_nvml(nvml: Any) -> EnergyMeter:
    from nipype_carbon.measure.meters.nvml import NvmlMeter

    return NvmlMeter.probe(nvml=nvml)


def select_meters(
    powercap_root: str | os.PathLike[str] | None = None,
    nvml: Any = None,
    cpu_tdp_w: float | None = None,
    memory_w_per_gb: float | None = None,
    cpu_idle_fraction: float | None = None,
    declared_gpus: list[str] | None = None,
    use: tuple[str, ...] = ("rapl", "pyrapl", "nvml"),
) -> MeterSelection:
    """Open every available meter, in order, and fill the gaps with the model.

    Parameters
    ----------
    powercap_root : path, optional
        Powercap tree for the RAPL meter (see :mod:`nipype_carbon.measure.meters.rapl`).
    nvml : module-like, optional
        The NVML module (``pynvml``) or a fake with the same functions.
    use : tuple of str
        Measuring meters to try; leave one out to force the model.

    Examples
    --------
    >>> import tempfile
    >>> chosen = select_meters(powercap_root=tempfile.mkdtemp(), use=("rapl",))
    >>> chosen.methods()
    {'cpu': 'model', 'dram': 'model'}
    >>> chosen.skipped["rapl"].startswith("absent")
    True
    """
    skipped: dict[str, str] = {}
    meters: list[EnergyMeter] = []
    root = os.fspath(powercap_root) if powercap_root is not None else None
    rapl = _try("rapl", lambda: _open_rapl(root), skipped) if "rapl" in use else None
    if rapl is not None:
        meters.append(rapl)
        if "pyrapl" in use:
            skipped["pyrapl"] = "not needed: RAPL is read through sysfs"
    elif "pyrapl" in use:
        found = _try("pyrapl", _open_pyrapl, skipped)
        meters += [found] if found else []
    if "nvml" in use:
        found = _try("nvml", lambda: _open_nvml(nvml), skipped)
        meters += [found] if found else []
    measured = {d.component for m in meters for d in m.domains()}
    model_args: dict[str, Any] = {"cpu_tdp_w": cpu_tdp_w, "declared_gpus": declared_gpus}
    if memory_w_per_gb is not None:
        model_args["memory_w_per_gb"] = memory_w_per_gb
    if cpu_idle_fraction is not None:
        model_args["cpu_idle_fraction"] = cpu_idle_fraction
    wanted = ("cpu", "dram", "gpu") if declared_gpus else ("cpu", "dram")
    missing = tuple(c for c in wanted if c not in measured)
    if missing:
        meters.append(ModelMeter(components=missing, **model_args))
    return MeterSelection(meters, skipped)
