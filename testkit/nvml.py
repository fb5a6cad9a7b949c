"""A fake NVML module: GPUs in memory, with NVML's units, errors and rules.

A :class:`FakeNvml` instance stands where the ``pynvml`` module would: the
meter calls ``fake.nvmlInit()``, ``fake.nvmlDeviceGetPowerUsage(handle)`` and
so on. It keeps NVML's semantics: energy in millijoules since driver load,
power in milliwatts, ``NVML_ERROR_UNINITIALIZED`` before ``nvmlInit``,
``NVML_ERROR_NOT_FOUND`` when a GPU has no process samples. Instances pickle,
so a meter built on one can travel to a spawned process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18
NVML_ERROR_UNKNOWN = 999


class FakeNVMLError(Exception):
    """Stands for ``pynvml.NVMLError``: the NVML return code is ``.value``."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return f"fake NVML error {self.value}"


class ManualClock:
    """A clock that moves only when told to; picklable, unlike a closure."""

    def __init__(self, now_s: float = 1000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class FakeSample:
    """One ``nvmlProcessUtilizationSample_t``: timeStamp in microseconds."""

    pid: int
    timeStamp: int
    smUtil: int
    memUtil: int = 0
    encUtil: int = 0
    decUtil: int = 0


@dataclass
class FakeProcess:
    """One ``nvmlProcessInfo_t``; pynvml gives None where memory is not available."""

    pid: int
    usedGpuMemory: int | None


@dataclass
class FakeGpu:
    """A GPU drawing ``power_w``; its energy counter integrates that power."""

    uuid: str
    name: str = "NVIDIA A100-SXM4-40GB"
    power_w: float = 100.0
    energy_counter: bool = True
    power_reading: bool = True
    power_limit_w: float | None = 400.0
    energy_mj: float = 5.0e6
    samples: list[FakeSample] = field(default_factory=list)
    compute_processes: list[FakeProcess] = field(default_factory=list)
    graphics_processes: list[FakeProcess] = field(default_factory=list)


@dataclass(frozen=True)
class FakeHandle:
    """Stands for an ``nvmlDevice_t``: like that ctypes pointer, it does not pickle."""

    index: int

    def __reduce__(self) -> str:
        raise TypeError("ctypes objects containing pointers cannot be pickled")


class FakeNvml:
    """The NVML functions the meter uses, over a list of :class:`FakeGpu`.

    Parameters
    ----------
    gpus : iterable of FakeGpu
        The host's GPUs in NVML (PCI bus) order.
    clock : callable, optional
        Seconds, monotonic; energy advances as power times this clock's time.
    driver_version : str
        What ``nvmlSystemGetDriverVersion`` returns.
    """

    NVMLError = FakeNVMLError
    NVML_SUCCESS = NVML_SUCCESS
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NO_PERMISSION = NVML_ERROR_NO_PERMISSION
    NVML_ERROR_NOT_FOUND = NVML_ERROR_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_FUNCTION_NOT_FOUND = NVML_ERROR_FUNCTION_NOT_FOUND
    NVML_ERROR_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = NVML_ERROR_LIB_RM_VERSION_MISMATCH
    NVML_ERROR_UNKNOWN = NVML_ERROR_UNKNOWN

    def __init__(
        self,
        gpus: Iterable[FakeGpu],
        clock: Callable[[], float] = time.monotonic,
        driver_version: str = "550.54.15",
    ) -> None:
        self.gpus = list(gpus)
        self.clock = clock
        self.driver_version = driver_version
        self.init_depth = 0
        self.init_calls = 0
        self.shutdown_calls = 0
        self.errors: dict[tuple[str, int | None], int] = {}
        self._since_s = [clock() for _ in self.gpus]

    # -- test controls ---------------------------------------------------------------

    def fail(self, function: str, code: int, index: int | None = None) -> None:
        """Make ``function`` raise NVMLError(code), on one GPU or on all."""
        self.errors[(function, index)] = code

    def heal(self) -> None:
        """Remove every injected error."""
        self.errors.clear()

    def set_power(self, index: int, power_w: float) -> None:
        """Change a GPU's power from now on; energy drawn so far is kept."""
        self._integrate(index)
        self.gpus[index].power_w = power_w

    # -- NVML ------------------------------------------------------------------------

    # Method and field names are NVML's, hence camelCase.

    def nvmlInit(self) -> None:
        self._check("nvmlInit", None, needs_init=False)
        self.init_calls += 1
        self.init_depth += 1

    def nvmlShutdown(self) -> None:
        self._check("nvmlShutdown", None)
        self.shutdown_calls += 1
        self.init_depth -= 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check("nvmlSystemGetDriverVersion", None)
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._check("nvmlDeviceGetCount", None)
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> FakeHandle:
        self._check("nvmlDeviceGetHandleByIndex", index)
        if not 0 <= index < len(self.gpus):
            raise FakeNVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return FakeHandle(index)

    def nvmlDeviceGetUUID(self, handle: FakeHandle) -> str:
        return self._gpu("nvmlDeviceGetUUID", handle).uuid

    def nvmlDeviceGetName(self, handle: FakeHandle) -> str:
        return self._gpu("nvmlDeviceGetName", handle).name

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: FakeHandle) -> int:
        gpu = self._gpu("nvmlDeviceGetTotalEnergyConsumption", handle)
        if not gpu.energy_counter:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        self._integrate(handle.index)
        return int(gpu.energy_mj)

    def nvmlDeviceGetPowerUsage(self, handle: FakeHandle) -> int:
        gpu = self._gpu("nvmlDeviceGetPowerUsage", handle)
        if not gpu.power_reading:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        return round(gpu.power_w * 1000.0)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: FakeHandle) -> int:
        gpu = self._gpu("nvmlDeviceGetEnforcedPowerLimit", handle)
        if gpu.power_limit_w is None:
            raise FakeNVMLError(NVML_ERROR_NOT_SUPPORTED)
        return round(gpu.power_limit_w * 1000.0)

    def nvmlDeviceGetProcessUtilization(
        self, handle: FakeHandle, timeStamp: int
    ) -> list[FakeSample]:
        gpu = self._gpu("nvmlDeviceGetProcessUtilization", handle)
        samples = [sample for sample in gpu.samples if sample.timeStamp > timeStamp]
        if not samples:
            raise FakeNVMLError(NVML_ERROR_NOT_FOUND)
        return samples

    def nvmlDeviceGetComputeRunningProcesses(self, handle: FakeHandle) -> list[FakeProcess]:
        return list(self._gpu("nvmlDeviceGetComputeRunningProcesses", handle).compute_processes)

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: FakeHandle) -> list[FakeProcess]:
        return list(self._gpu("nvmlDeviceGetGraphicsRunningProcesses", handle).graphics_processes)

    # -- internals -------------------------------------------------------------------

    def _check(self, function: str, index: int | None, needs_init: bool = True) -> None:
        for key in ((function, index), (function, None)):
            if key in self.errors:
                raise FakeNVMLError(self.errors[key])
        if needs_init and self.init_depth <= 0:
            raise FakeNVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, function: str, handle: FakeHandle) -> FakeGpu:
        self._check(function, handle.index)
        return self.gpus[handle.index]

    def _integrate(self, index: int) -> None:
        now_s = self.clock()
        gpu = self.gpus[index]
        gpu.energy_mj += gpu.power_w * 1000.0 * (now_s - self._since_s[index])
        self._since_s[index] = now_s
