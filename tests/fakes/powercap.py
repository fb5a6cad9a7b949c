"""A fake powercap sysfs tree in a temporary directory, with counters that advance.

It is laid out as the kernel lays out ``/sys/class/powercap`` (``intel-rapl:0``
with ``name``, ``energy_uj`` and ``max_energy_range_uj``; sub-zones inside),
and a writer thread advances each zone's ``energy_uj`` at a set power,
wrapping at ``max_energy_range_uj`` as the hardware counter does. The real
:class:`~nipype_carbon.measure.meters.rapl.RaplMeter` reads it unchanged.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


@dataclass
class FakeZone:
    path: Path
    name: str
    power_w: float
    range_uj: int
    start_uj: int


class FakePowercap:
    """Build zones with :meth:`zone`, then run it as a context manager."""

    def __init__(self, root: Path, tick_s: float = 0.005) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.tick_s = tick_s
        self.zones: list[FakeZone] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.time()

    def zone(
        self,
        rel: str,
        name: str,
        power_w: float = 0.0,
        range_uj: int = 262_143_328_850,
        start_uj: int = 0,
    ) -> FakeZone:
        """Add a zone at ``rel`` (``intel-rapl:0`` or ``intel-rapl:0/intel-rapl:0:0``)."""
        path = self.root / rel
        path.mkdir(parents=True, exist_ok=True)
        (path / "name").write_text(name + "\n")
        (path / "max_energy_range_uj").write_text(f"{range_uj}\n")
        zone = FakeZone(path, name, power_w, range_uj, start_uj)
        self.zones.append(zone)
        self._write(zone, 0.0)
        return zone

    def _write(self, zone: FakeZone, elapsed_s: float) -> None:
        value = int(zone.start_uj + zone.power_w * elapsed_s * 1e6) % zone.range_uj
        tmp = zone.path / ".energy_uj.tmp"
        tmp.write_text(f"{value}\n")
        os.replace(tmp, zone.path / "energy_uj")

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            elapsed = time.time() - self._t0
            for zone in self.zones:
                self._write(zone, elapsed)

    def __enter__(self) -> FakePowercap:
        self._t0 = time.time()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fake-powercap-writer", daemon=True)
        self._thread.start()
        return self

    def stop_writing(self) -> None:
        """Stop the writer thread (the counters stay as last written)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_writing()


def intel_server(root: Path, sockets: int = 1, package_w: float = 50.0, **kw: int) -> FakePowercap:
    """A server-like tree: per socket a package with core and dram sub-zones, plus psys."""
    tree = FakePowercap(root)
    for s in range(sockets):
        tree.zone(f"intel-rapl:{s}", f"package-{s}", package_w, **kw)
        tree.zone(f"intel-rapl:{s}/intel-rapl:{s}:0", "core", package_w * 0.8, **kw)
        tree.zone(f"intel-rapl:{s}/intel-rapl:{s}:1", "dram", 5.0, **kw)
    tree.zone(f"intel-rapl:{sockets}", "psys", package_w * 3, **kw)
    tree.zone("intel-rapl-mmio:0", "package-0", package_w, **kw)
    return tree


def host_busy_cpu_s() -> float:
    """Busy CPU seconds of this host since boot, parsed here from /proc/stat.

    Read independently of the code under test: the emulator's truth must not
    come from the functions it checks.
    """
    with open("/proc/stat") as handle:
        fields = handle.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class LoadFollowingPowercap(FakePowercap):
    """A package zone whose counter follows the host's real load.

    Energy since start = ``idle_w`` x elapsed seconds + ``j_per_cpu_s`` x busy
    CPU seconds of the whole host (every process, from /proc/stat): so the
    truth for any piece of work is ``j_per_cpu_s`` x its CPU seconds, and the
    baseline is ``idle_w``. The counter wraps at ``range_uj``.
    """

    def __init__(
        self,
        root: Path,
        idle_w: float = 12.0,
        j_per_cpu_s: float = 9.0,
        range_uj: int = 262_143_328_850,
        tick_s: float = 0.005,
    ) -> None:
        super().__init__(root, tick_s)
        self.idle_w = idle_w
        self.j_per_cpu_s = j_per_cpu_s
        self._busy0 = host_busy_cpu_s()
        self.zone("intel-rapl:0", "package-0", 0.0, range_uj)

    def _write(self, zone: FakeZone, elapsed_s: float) -> None:
        busy_s = host_busy_cpu_s() - getattr(self, "_busy0", host_busy_cpu_s())
        energy_j = self.idle_w * elapsed_s + self.j_per_cpu_s * busy_s
        value = int(zone.start_uj + energy_j * 1e6) % zone.range_uj
        tmp = zone.path / ".energy_uj.tmp"
        tmp.write_text(f"{value}\n")
        os.replace(tmp, zone.path / "energy_uj")

    def __enter__(self) -> LoadFollowingPowercap:
        self._busy0 = host_busy_cpu_s()
        super().__enter__()
        return self
