"""The model meter: energy estimated from utilisation and rated power.

Always available, always labelled ``model``. It is what runs on hosts without
RAPL (virtual machines, macOS, most laptops in containers) and GPUs without
NVML.

CPU, the linear utilisation model of Fan, Weber & Barroso (ISCA 2007)::

    P_cpu(t) = P_idle + (P_rated - P_idle) * u(t)
    P_idle   = idle_fraction * P_rated

with ``u`` the busy fraction of all logical CPUs. Its cumulative form is a
counter every process of the host reads alike::

    E_cpu = P_idle * (epoch seconds) + k * (busy CPU seconds since boot)
    k     = (P_rated - P_idle) / logical CPUs          [J per busy CPU-second]

Memory, the per-GB model of Green Algorithms (Lannelongue et al. 2021)::

    P_dram = memory_w_per_gb * installed GB

GPU without NVML: the board power of each declared GPU (a constant).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nipype_carbon.measure.host import HostInfo
from nipype_carbon.measure.measurement import Domain, HostNow
from nipype_carbon.measure.meters.base import EnergyMeter
from nipype_carbon.measure.procfs import busy_cpu_s
from nipype_carbon.reference.hardware import lookup_cpu_tdp, lookup_gpu_tdp

#: Green Algorithms (Lannelongue et al. 2021, doi:10.1002/advs.202100707).
DEFAULT_MEMORY_W_PER_GB = 0.3725
#: Project assumption, not a measurement: CPU package power at idle as a share of rated power.
DEFAULT_CPU_IDLE_FRACTION = 0.3
#: Project assumption for CPUs not in the table: rated power per logical CPU. Table rows
#: span 4-11 W per core (EPYC 7763: 280 W / 64; Xeon Gold 6248: 150 W / 20; i7-8700: 65 W / 6).
DEFAULT_TDP_PER_CPU_W = 10.0
GB = 1024**3


class ModelMeter(EnergyMeter):
    """Modelled CPU, memory and (declared) GPU energy.

    Parameters
    ----------
    cpu_tdp_w : float, optional
        Rated power of one CPU package, overriding the table lookup (times the packages).
    cpu_idle_fraction : float
        Idle power as a share of rated power.
    memory_w_per_gb : float
        Memory power per installed GB.
    declared_gpus : list of str
        GPUs to model when NVML is missing: names as NVML reports them
        (looked up in the GPU table) or ``NAME=WATTS``.
    components : tuple of str
        Which of ``cpu``, ``dram`` and ``gpu`` to model; the others are
        measured by another meter.
    host : HostInfo, optional
        The host to model; collected from this machine by default.
    clock, busy_cpu : callables
        Injected for tests; ``time.time`` and the kernel's busy CPU time.

    Examples
    --------
    >>> from nipype_carbon.measure.host import HostInfo
    >>> host = HostInfo("h", "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", 12, 6, 16 * GB, "linux")
    >>> meter = ModelMeter(host=host)
    >>> meter.cpu_rated.tdp_w, meter.cpu_rated.how
    (65.0, 'table: Intel Core i7-8700')
    >>> round(meter.baseline_power_w()["model:cpu"], 2)
    19.5
    """

    kind = "model"

    def __init__(
        self,
        cpu_tdp_w: float | None = None,
        cpu_idle_fraction: float = DEFAULT_CPU_IDLE_FRACTION,
        memory_w_per_gb: float = DEFAULT_MEMORY_W_PER_GB,
        declared_gpus: list[str] | None = None,
        components: tuple[str, ...] = ("cpu", "dram", "gpu"),
        host: HostInfo | None = None,
        clock: Callable[[], float] = time.time,
        busy_cpu: Callable[[], float] = busy_cpu_s,
    ) -> None:
        self.host = host or HostInfo.collect()
        self.cpu_rated = rated_cpu_power(self.host, cpu_tdp_w)
        self.cpu_idle_fraction = cpu_idle_fraction
        self.memory_w_per_gb = memory_w_per_gb
        self.components = tuple(components)
        gpus = declared_gpus if "gpu" in self.components else []
        self.gpus = [rated_gpu_power(name) for name in (gpus or [])]
        self.clock = clock
        self.busy_cpu = busy_cpu

    @property
    def idle_power_w(self) -> float:
        return self.cpu_rated.tdp_w * self.cpu_idle_fraction

    @property
    def joules_per_busy_cpu_s(self) -> float:
        return (self.cpu_rated.tdp_w - self.idle_power_w) / self.host.logical_cpus

    @property
    def dram_power_w(self) -> float:
        return self.memory_w_per_gb * self.host.memory_total_b / GB

    def domains(self) -> list[Domain]:
        found = []
        if "cpu" in self.components:
            found.append(Domain("model:cpu", "cpu", "counter", "model"))
        if "dram" in self.components:
            found.append(Domain("model:dram", "dram", "power", "model"))
        found += [
            Domain(f"model:gpu-{i}", "gpu", "power", "model", device=name)
            for i, (name, _) in enumerate(self.gpus)
        ]
        return found

    def read(self, now: HostNow | None = None) -> dict[str, float]:
        values: dict[str, float] = {}
        if "cpu" in self.components:
            now = now or HostNow(self.clock(), self.busy_cpu())
            values["model:cpu"] = (
                self.idle_power_w * now.t + self.joules_per_busy_cpu_s * now.busy_cpu_s
            )
        if "dram" in self.components:
            values["model:dram"] = self.dram_power_w
        for i, (_, power_w) in enumerate(self.gpus):
            values[f"model:gpu-{i}"] = power_w
        return values

    def baseline_power_w(self) -> dict[str, float]:
        return {"model:cpu": self.idle_power_w} if "cpu" in self.components else {}

    def details(self) -> dict[str, Any]:
        return {
            "components": list(self.components),
            "cpu_model": self.host.cpu_model,
            "cpu_tdp_w": self.cpu_rated.tdp_w,
            "cpu_tdp_source": self.cpu_rated.how,
            "cpu_idle_fraction": self.cpu_idle_fraction,
            "cpu_idle_power_w": self.idle_power_w,
            "joules_per_busy_cpu_s": self.joules_per_busy_cpu_s,
            "logical_cpus": self.host.logical_cpus,
            "memory_w_per_gb": self.memory_w_per_gb,
            "memory_total_gb": self.host.memory_total_b / GB,
            "dram_power_w": self.dram_power_w,
            "declared_gpus": [{"name": n, "power_w": p} for n, p in self.gpus],
        }


class CpuRating:
    """The rated power the model uses and how it was chosen."""

    def __init__(self, tdp_w: float, how: str) -> None:
        self.tdp_w = tdp_w
        self.how = how

    def __repr__(self) -> str:
        return f"CpuRating({self.tdp_w!r}, {self.how!r})"


def rated_cpu_power(host: HostInfo, override_w: float | None = None) -> CpuRating:
    """Rated power of all the host's CPUs: per package (the user's, else the table's) times
    packages, else a per-logical-CPU default.

    Examples
    --------
    >>> two = HostInfo("h", "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 80, 40, GB, "x", 2)
    >>> rated_cpu_power(two).tdp_w, rated_cpu_power(two).how
    (300.0, 'table: Intel Xeon Gold 6248, 150 W x 2 packages')
    """
    packages = max(int(getattr(host, "packages", 1) or 1), 1)
    times = f" x {packages} packages" if packages > 1 else ""
    if override_w is not None:
        return CpuRating(float(override_w) * packages, f"user setting cpu_tdp_w{times}")
    found = lookup_cpu_tdp(host.cpu_model)
    if found is not None:
        return CpuRating(
            found.tdp_w * packages,
            f"table: {found.model}" + (f", {found.tdp_w:g} W{times}" if packages > 1 else ""),
        )
    total = DEFAULT_TDP_PER_CPU_W * host.logical_cpus
    return CpuRating(
        total,
        f"default: {host.cpu_model!r} not in the table, "
        f"{DEFAULT_TDP_PER_CPU_W:g} W x {host.logical_cpus} logical CPUs",
    )


def rated_gpu_power(declared: str) -> tuple[str, float]:
    """Name and board power of a declared GPU (``NAME`` from the table, or ``NAME=WATTS``).

    An unknown name is an error that names the fix.
    """
    name, sep, watts = declared.partition("=")
    if sep:
        try:
            return name.strip(), float(watts)
        except ValueError:
            raise ValueError(f"GPU power in {declared!r} is not a number of watts") from None
    found = lookup_gpu_tdp(name)
    if found is None:
        raise ValueError(
            f"GPU {name!r} is not in the GPU power table; declare it as 'NAME=WATTS' "
            "(e.g. 'My GPU=250') or use a name from nipype_carbon/reference/data/gpu_tdp.csv"
        )
    return found.model, found.tdp_w
