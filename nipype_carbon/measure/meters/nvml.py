"""NVIDIA GPUs through NVML: an energy counter or a power sample per GPU.

The NVML module (``pynvml``, from the ``nvidia-ml-py`` package) is injected:
tests pass a fake object with the same functions. Handles are opened lazily,
once per process, so the meter can be pickled into worker processes.

NVML reports process ids of the host's pid namespace: inside a container, the
pids given to :meth:`NvmlMeter.gpu_use` may not match those NVML sees.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nipype_carbon.measure.measurement import Domain, DomainKind, HostNow
from nipype_carbon.measure.meters.base import (
    EnergyMeter,
    GpuProcessUse,
    MeterAbsent,
    MeterBroken,
    MeterPermissionDenied,
    MeterUnavailable,
)
from nipype_carbon.measure.meters.cuda_visible import parse_visible_devices

logger = logging.getLogger(__name__)

INSTALL_FIX = 'pip install "nipype-carbon[gpu]"'
ABSENT_FIXES = {
    "LIBRARY_NOT_FOUND": "install the NVIDIA driver (libnvidia-ml.so.1) or run on a GPU node",
    "DRIVER_NOT_LOADED": "load the NVIDIA kernel driver (nvidia-smi must work)",
}
PERMISSION_FIX = "run as a user who may open /dev/nvidia* (often the 'video' group)"
MISMATCH_FIX = "reboot or reload the NVIDIA kernel module after a driver upgrade"


def _code(nvml: Any, name: str) -> int | None:
    """The value of ``NVML_ERROR_<name>`` in the NVML module, None if it lacks it."""
    value = getattr(nvml, f"NVML_ERROR_{name}", None)
    return value if isinstance(value, int) else None


def translate_error(nvml: Any, err: Exception, what: str) -> MeterUnavailable:
    """Turn an ``NVMLError`` into absent, no permission or broken, with a fix."""
    code = getattr(err, "value", None)
    message = f"NVML {what}: {err}"
    for name, fix in ABSENT_FIXES.items():
        if code is not None and code == _code(nvml, name):
            return MeterAbsent(message, fix=fix)
    if code is not None and code == _code(nvml, "NO_PERMISSION"):
        return MeterPermissionDenied(message, fix=PERMISSION_FIX)
    if code is not None and code == _code(nvml, "LIB_RM_VERSION_MISMATCH"):
        return MeterBroken(message, fix=MISMATCH_FIX)
    return MeterBroken(message)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class _Gpu:
    """One visible GPU as opened in this process."""

    index: int
    uuid: str
    name: str
    handle: Any
    counter: bool
    power_limit_w: float | None

    @property
    def domain(self) -> Domain:
        kind: DomainKind = "counter" if self.counter else "power"
        return Domain(f"nvml:{self.index}", "gpu", kind, "nvml", None, self.uuid)


class NvmlMeter(EnergyMeter):
    """Energy (or power) of each visible NVIDIA GPU, read through NVML.

    A GPU that has an energy counter (``nvmlDeviceGetTotalEnergyConsumption``,
    Volta and later) gives a ``counter`` domain in joules since the driver
    loaded; any other GPU gives a ``power`` domain in watts. The choice is made
    per GPU when the meter opens.

    Parameters
    ----------
    nvml : module or object, optional
        The NVML module; default ``pynvml``, imported when first needed. A real
        module travels to other processes by name; any other object is pickled.
    visible_devices : str or sequence, optional
        Which GPUs to meter, as ``CUDA_VISIBLE_DEVICES`` writes them (see
        :func:`parse_visible_devices`). Default: that variable, read now, so
        every process the meter travels to meters the same GPUs.
    """

    kind = "nvml"

    def __init__(
        self, nvml: Any = None, visible_devices: str | Sequence[int | str] | None = None
    ) -> None:
        self._module_name = nvml.__name__ if isinstance(nvml, types.ModuleType) else None
        if nvml is None:
            self._module_name = "pynvml"
        self._nvml = nvml
        if visible_devices is None:
            visible_devices = os.environ.get("CUDA_VISIBLE_DEVICES")
        elif not isinstance(visible_devices, str):
            visible_devices = ",".join(str(d) for d in visible_devices)
        self.visible_devices: str | None = visible_devices
        self._lock = threading.Lock()
        self._forget()

    @classmethod
    def probe(
        cls, nvml: Any = None, visible_devices: str | Sequence[int | str] | None = None
    ) -> NvmlMeter:
        """An opened meter, or MeterAbsent, MeterPermissionDenied or MeterBroken."""
        meter = cls(nvml=nvml, visible_devices=visible_devices)
        try:
            meter._open()
        except MeterUnavailable as err:
            logger.debug("NVML meter unavailable: %s", err.describe())
            raise
        return meter

    def _forget(self) -> None:
        """Drop what belongs to one process: handles, init state, cursors."""
        self._pid: int | None = None
        self._initialised = False
        self._gpus: list[_Gpu] = []
        self._skipped: list[str] = []
        self._driver_version: str | None = None
        self._last_seen_us: dict[int, int] = {}
        self._last_util: dict[int, dict[int, float]] = {}

    def _module(self) -> Any:
        if self._nvml is None:
            try:
                self._nvml = importlib.import_module(self._module_name or "pynvml")
            except ImportError as err:
                raise MeterAbsent(f"NVML bindings not installed: {err}", fix=INSTALL_FIX) from err
        return self._nvml

    def _open(self) -> list[_Gpu]:
        """The visible GPUs, opening NVML once in this process (again after fork)."""
        with self._lock:
            if self._pid == os.getpid():
                return self._gpus
            self._forget()  # state inherited through fork is not ours to shut down
            nvml = self._module()
            try:
                nvml.nvmlInit()
            except nvml.NVMLError as err:
                raise translate_error(nvml, err, "init") from err
            self._initialised = True
            try:
                self._gpus = self._enumerate(nvml)
            except BaseException:
                self._shutdown(nvml)
                raise
            self._pid = os.getpid()
            return self._gpus

    def _enumerate(self, nvml: Any) -> list[_Gpu]:
        try:
            self._driver_version = _text(nvml.nvmlSystemGetDriverVersion())
            handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(nvml.nvmlDeviceGetCount())]
            uuids = [_text(nvml.nvmlDeviceGetUUID(h)) for h in handles]
            indices = parse_visible_devices(self.visible_devices, uuids)
            gpus = [self._describe(nvml, i, handles[i], uuids[i]) for i in indices]
        except nvml.NVMLError as err:
            raise translate_error(nvml, err, "enumerating GPUs") from err
        if not indices:
            fix = "unset CUDA_VISIBLE_DEVICES or name a GPU in it" if uuids else None
            raise MeterAbsent(
                f"no GPU visible ({len(uuids)} found, "
                f"CUDA_VISIBLE_DEVICES={self.visible_devices!r})",
                fix=fix,
            )
        found = [gpu for gpu in gpus if gpu is not None]
        if not found:
            raise MeterAbsent("no visible GPU reports energy or power through NVML")
        return found

    def _describe(self, nvml: Any, index: int, handle: Any, uuid: str) -> _Gpu | None:
        """How this GPU is read: counter, power, or not at all (None)."""
        unsupported = {_code(nvml, "NOT_SUPPORTED"), _code(nvml, "FUNCTION_NOT_FOUND")} - {None}
        counter = None
        for is_counter, read in (
            (True, nvml.nvmlDeviceGetTotalEnergyConsumption),
            (False, nvml.nvmlDeviceGetPowerUsage),
        ):
            try:
                read(handle)
            except nvml.NVMLError as err:
                if getattr(err, "value", None) not in unsupported:
                    raise
                continue
            counter = is_counter
            break
        if counter is None:
            self._skipped.append(uuid)
            logger.info("GPU %d (%s) reports neither energy nor power", index, uuid)
            return None
        name = _text(nvml.nvmlDeviceGetName(handle))
        return _Gpu(index, uuid, name, handle, counter, self._power_limit_w(nvml, handle))

    @staticmethod
    def _power_limit_w(nvml: Any, handle: Any) -> float | None:
        try:
            return float(nvml.nvmlDeviceGetEnforcedPowerLimit(handle)) / 1000.0
        except nvml.NVMLError:
            return None

    def domains(self) -> list[Domain]:
        return [gpu.domain for gpu in self._open()]

    def read(self, now: HostNow | None = None) -> dict[str, float]:
        """Joules (mJ counter / 1000) or watts (mW sample / 1000) per GPU domain."""
        gpus = self._open()
        nvml = self._module()
        values: dict[str, float] = {}
        for gpu in gpus:
            try:
                if gpu.counter:
                    raw = nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle)
                else:
                    raw = nvml.nvmlDeviceGetPowerUsage(gpu.handle)
            except nvml.NVMLError as err:
                raise translate_error(nvml, err, f"reading GPU {gpu.index}") from err
            values[f"nvml:{gpu.index}"] = float(raw) / 1000.0
        return values

    def gpu_use(self, pids: set[int]) -> list[GpuProcessUse]:
        """Use of each visible GPU by ``pids``; never raises.

        Utilisation is the SM utilisation of each process, averaged over the
        NVML samples taken since the previous call in this process, summed over
        processes and capped at 100. Memory sums compute and graphics contexts.
        """
        try:
            gpus = self._open()
            nvml = self._module()
        except Exception:
            logger.debug("NVML unavailable for GPU use", exc_info=True)
            return []
        uses: list[GpuProcessUse] = []
        for gpu in gpus:
            try:
                util, total = self._utilisation(nvml, gpu, pids)
                uses.append(GpuProcessUse(gpu.uuid, util, total, self._memory_b(nvml, gpu, pids)))
            except Exception:
                logger.debug("GPU use of %s unreadable", gpu.uuid, exc_info=True)
        return uses

    def _utilisation(self, nvml: Any, gpu: _Gpu, pids: set[int]) -> tuple[float, float]:
        since_us = self._last_seen_us.get(gpu.index, 0)
        try:
            samples = nvml.nvmlDeviceGetProcessUtilization(gpu.handle, since_us)
        except nvml.NVMLError:
            # NOT_FOUND: the driver took no new sample since the last call; its last
            # per-process figures still hold (NVML samples every few hundred ms)
            mean = self._last_util.get(gpu.index, {})
        else:
            by_pid: dict[int, list[float]] = {}
            for sample in samples:
                by_pid.setdefault(int(sample.pid), []).append(float(sample.smUtil))
                since_us = max(since_us, int(sample.timeStamp))
            self._last_seen_us[gpu.index] = since_us
            mean = {pid: sum(utils) / len(utils) for pid, utils in by_pid.items()}
            self._last_util[gpu.index] = mean
        ours = sum(util for pid, util in mean.items() if pid in pids)
        return min(ours, 100.0), min(sum(mean.values()), 100.0)

    @staticmethod
    def _memory_b(nvml: Any, gpu: _Gpu, pids: set[int]) -> int:
        used_b: dict[int, int] = {}
        for name in (
            "nvmlDeviceGetComputeRunningProcesses",
            "nvmlDeviceGetGraphicsRunningProcesses",
        ):
            function = getattr(nvml, name, None)
            try:
                processes = function(gpu.handle) if function is not None else []
            except nvml.NVMLError:
                continue
            for process in processes:
                memory_b = int(process.usedGpuMemory or 0)  # None: not available
                used_b[process.pid] = max(used_b.get(process.pid, 0), memory_b)
        return sum(memory_b for pid, memory_b in used_b.items() if pid in pids)

    def details(self) -> dict[str, Any]:
        """Driver, visible GPUs with name, UUID, power limit and sampling mode."""
        record: dict[str, Any] = {
            "visible_devices": self.visible_devices,
            "cuda_device_order": os.environ.get("CUDA_DEVICE_ORDER"),
        }
        try:
            gpus = self._open()
        except MeterUnavailable as err:
            return {**record, "error": err.describe()}
        record["driver_version"] = self._driver_version
        record["gpus"] = [
            {
                "index": gpu.index,
                "name": gpu.name,
                "uuid": gpu.uuid,
                "sampling": "counter" if gpu.counter else "power",
                "power_limit_w": gpu.power_limit_w,
            }
            for gpu in gpus
        ]
        record["unsupported_gpus"] = list(self._skipped)
        return record

    def close(self) -> None:
        """Shut NVML down if this process initialised it."""
        with self._lock:
            if self._initialised and self._pid == os.getpid():
                self._shutdown(self._module())
            self._forget()

    def _shutdown(self, nvml: Any) -> None:
        try:
            nvml.nvmlShutdown()
        except nvml.NVMLError:
            logger.debug("nvmlShutdown failed", exc_info=True)
        self._initialised = False

    def __getstate__(self) -> dict[str, Any]:
        state = {
            key: value
            for key, value in self.__dict__.items()
            if key in ("_module_name", "_nvml", "visible_devices")
        }
        if self._module_name is not None:
            state["_nvml"] = None  # a real module is imported again by name
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._forget()
