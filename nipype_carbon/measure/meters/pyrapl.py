"""Intel RAPL read through pyRAPL: an alternative to reading powercap directly.

pyRAPL's ``Sensor.energy()`` returns raw cumulative counters in microjoules,
laid out ``(pkg socket 0, dram socket 0, pkg socket 1, dram socket 1, ...)``
with -1 where a device is not read. This meter turns them into one counter
domain per package and DRAM zone, in joules.

Since the 2020 Platypus advisory (CVE-2020-8694) the RAPL ``energy_uj`` files
are readable by root only; an administrator can open them to all users with
``sudo chmod -R a+r /sys/class/powercap/intel-rapl``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

from nipype_carbon.measure.measurement import Component, Domain, HostNow
from nipype_carbon.measure.meters.base import (
    EnergyMeter,
    MeterAbsent,
    MeterBroken,
    MeterPermissionDenied,
    MeterUnavailable,
)

logger = logging.getLogger(__name__)

INSTALL_FIX = 'pip install "nipype-carbon[rapl]"'
PERMISSION_FIX = "sudo chmod -R a+r /sys/class/powercap/intel-rapl"
FALLBACK_RANGE_UJ = 2**32
"""Counter range assumed where ``max_energy_range_uj`` cannot be read."""

_ABSENT_ERRORS = ("PyRAPLCantInitDeviceAPI", "PyRAPLCantRecordEnergyConsumption")


class _DropPyraplWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pyRAPL" not in record.pathname


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """Silence pyRAPL's import-time warning about pymongo (or pandas).

    pyRAPL logs it through ``logging.warning``, on the root logger, which would
    also configure the root logger if it had no handler: a NullHandler spares
    the user's logging that side effect, a filter drops the message.
    """
    root = logging.getLogger()
    handler, quiet = logging.NullHandler(), _DropPyraplWarnings()
    root.addHandler(handler)
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)
        root.removeHandler(handler)


#: where pyRAPL reads its counters (fixed in pyRAPL)
PYRAPL_POWERCAP = "/sys/class/powercap"


def default_sensor() -> Any:
    """pyRAPL's sensor over every socket's package and (where present) DRAM.

    Found absent without importing pyRAPL (which imports pandas: 0.15 s of every
    process's first node) when it is not installed or the host has no RAPL zone for it.
    """
    try:
        installed = importlib.util.find_spec("pyRAPL") is not None
    except (ImportError, ValueError):  # a broken or blocked install
        installed = False
    if not installed:
        raise MeterAbsent("pyRAPL not installed", fix=INSTALL_FIX)
    try:
        zones = [e for e in os.listdir(PYRAPL_POWERCAP) if e.startswith("intel-rapl")]
    except OSError:
        zones = []
    if not zones:
        raise MeterAbsent(f"pyRAPL reads no RAPL zone on this host ({PYRAPL_POWERCAP} has none)")
    try:
        with _quiet_root_logger():
            from pyRAPL.sensor import Sensor
    except ImportError as err:
        raise MeterAbsent(f"pyRAPL not installed: {err}", fix=INSTALL_FIX) from err
    return Sensor(devices=None, socket_ids=None)


def translate_error(err: BaseException, what: str) -> MeterUnavailable:
    """Turn pyRAPL's and the file system's errors into absent, no permission, broken."""
    message = f"pyRAPL {what}: {type(err).__name__} {err}".rstrip()
    if isinstance(err, PermissionError):
        return MeterPermissionDenied(message, fix=PERMISSION_FIX)
    if isinstance(err, FileNotFoundError):
        return MeterAbsent(message)
    exceptions = sys.modules.get("pyRAPL.exception")
    for name in _ABSENT_ERRORS:
        cls = getattr(exceptions, name, None)
        if cls is not None and isinstance(err, cls):
            return MeterAbsent(message)
    return MeterBroken(message)


def read_range_uj(powercap_root: str, socket: int, zone: str) -> float | None:
    """``max_energy_range_uj`` of a socket's package or DRAM zone, None if unreadable."""
    zone_dir = _package_dir(powercap_root, socket)
    if zone_dir is not None and zone == "dram":
        zone_dir = _child_zone(zone_dir, "dram")
    if zone_dir is None:
        return None
    try:
        with open(os.path.join(zone_dir, "max_energy_range_uj")) as handle:
            return float(handle.read().strip())
    except (OSError, ValueError):
        return None


def _package_dir(powercap_root: str, socket: int) -> str | None:
    """The zone named ``package-<socket>`` (its number need not be the socket's)."""
    try:
        entries = sorted(os.listdir(powercap_root))
    except OSError:
        return None
    for entry in entries:
        path = os.path.join(powercap_root, entry)
        is_package = entry.startswith("intel-rapl:") and entry.count(":") == 1
        if is_package and _zone_name(path) == f"package-{socket}":
            return path
    return None


def _child_zone(package_dir: str, name: str) -> str | None:
    try:
        entries = sorted(os.listdir(package_dir))
    except OSError:
        return None
    for entry in entries:
        path = os.path.join(package_dir, entry)
        if entry.startswith("intel-rapl:") and _zone_name(path) == name:
            return path
    return None


def _zone_name(path: str) -> str | None:
    try:
        with open(os.path.join(path, "name")) as handle:
            return handle.read().strip()
    except OSError:
        return None


class PyRaplMeter(EnergyMeter):
    """Package and DRAM energy of each CPU socket, through pyRAPL.

    Parameters
    ----------
    sensor_factory : callable, optional
        Called with no argument in each process, returns an object whose
        ``energy()`` behaves as pyRAPL's ``Sensor.energy()``. Default:
        :func:`default_sensor`. Must be picklable.
    max_energy_range_uj : float, optional
        Range of every counter, after which it wraps to zero. Default: read
        from ``max_energy_range_uj`` of each zone under ``powercap_root``;
        where that file is unreadable, 2**32 microjoules is an *assumption*
        (it is recorded as such in :meth:`details`).
    powercap_root : str
        Where the powercap zones are, for the counter ranges.
    """

    kind = "pyrapl"

    def __init__(
        self,
        sensor_factory: Callable[[], Any] | None = None,
        max_energy_range_uj: float | None = None,
        powercap_root: str = "/sys/class/powercap",
    ) -> None:
        self.sensor_factory = sensor_factory
        self.max_energy_range_uj = max_energy_range_uj
        self.powercap_root = powercap_root
        self._lock = threading.Lock()
        self._forget()

    @classmethod
    def probe(
        cls,
        sensor_factory: Callable[[], Any] | None = None,
        max_energy_range_uj: float | None = None,
        powercap_root: str = "/sys/class/powercap",
    ) -> PyRaplMeter:
        """An opened meter, or MeterAbsent, MeterPermissionDenied or MeterBroken."""
        meter = cls(sensor_factory, max_energy_range_uj, powercap_root)
        try:
            meter._open()
        except MeterUnavailable as err:
            logger.debug("pyRAPL meter unavailable: %s", err.describe())
            raise
        return meter

    def _forget(self) -> None:
        self._pid: int | None = None
        self._sensor: Any = None
        self._slots: dict[str, int] = {}
        self._domains: list[Domain] = []
        self._range_source: dict[str, str] = {}

    def _open(self) -> Any:
        """The sensor of this process, opened (and its layout read) once."""
        with self._lock:
            if self._pid == os.getpid():
                return self._sensor
            self._forget()
            factory = self.sensor_factory or default_sensor
            try:
                sensor = factory()
                raw_uj = list(sensor.energy())
            except MeterUnavailable:
                raise
            except Exception as err:
                raise translate_error(err, "opening the sensor") from err
            self._lay_out(raw_uj)
            self._sensor, self._pid = sensor, os.getpid()
            return sensor

    def _lay_out(self, raw_uj: list[float]) -> None:
        """One domain per value that pyRAPL reads (not -1)."""
        for slot, value_uj in enumerate(raw_uj):
            if value_uj < 0:
                continue
            socket, zone = divmod(slot, 2)
            component: Component = "cpu" if zone == 0 else "dram"
            label = "package" if zone == 0 else "dram"
            name = f"pyrapl:{label}-{socket}"
            wrap_j = self._wrap_j(name, socket, label)
            self._slots[name] = slot
            self._domains.append(Domain(name, component, "counter", "pyrapl", wrap_j, None))
        if not self._domains:
            raise MeterAbsent("pyRAPL reads no RAPL zone on this host")

    def _wrap_j(self, name: str, socket: int, zone: str) -> float:
        range_uj = self.max_energy_range_uj
        source = "given"
        if range_uj is None:
            range_uj = read_range_uj(self.powercap_root, socket, zone)
            source = "sysfs"
        if range_uj is None:
            range_uj, source = float(FALLBACK_RANGE_UJ), "assumed"
        self._range_source[name] = source
        return float(range_uj) / 1e6

    def domains(self) -> list[Domain]:
        self._open()
        return list(self._domains)

    def read(self, now: HostNow | None = None) -> dict[str, float]:
        """Raw cumulative joules per domain (the microjoule counter / 1e6)."""
        sensor = self._open()
        try:
            raw_uj = list(sensor.energy())
        except Exception as err:
            raise translate_error(err, "reading") from err
        values: dict[str, float] = {}
        for name, slot in self._slots.items():
            if slot >= len(raw_uj) or raw_uj[slot] < 0:
                raise MeterBroken(f"pyRAPL stopped reading {name}")
            values[name] = float(raw_uj[slot]) / 1e6
        return values

    def details(self) -> dict[str, Any]:
        """Counter ranges and where each came from (given, sysfs or assumed)."""
        try:
            self._open()
        except MeterUnavailable as err:
            return {"error": err.describe()}
        return {
            "wrap_j": {domain.name: domain.wrap_j for domain in self._domains},
            "wrap_source": dict(self._range_source),
            "fallback_range_uj": FALLBACK_RANGE_UJ,
        }

    def close(self) -> None:
        """Drop the sensor of this process (pyRAPL closes its files when collected)."""
        with self._lock:
            self._forget()

    def __getstate__(self) -> dict[str, Any]:
        keep = ("sensor_factory", "max_energy_range_uj", "powercap_root")
        return {key: self.__dict__[key] for key in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        self._forget()
