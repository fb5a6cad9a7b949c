"""A fake powercap sysfs tree in a temporary directory, with counters that advance.

It is laid out as the kernel lays out ``/sys/class/powercap`` (``intel-rapl:0``
with ``name``, ``energy_uj`` and ``max_energy_range_uj``; sub-zones inside),
and a writer thread advances each zone's ``energy_uj`` at a set power,
wrapping at ``max_energy_range_uj`` as the hardware counter does. The real
:class:`~nipype_carbon.measure.meters.rapl.RaplMeter` reads it unchanged.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any


@dataclass
class FakeZone:
    path: Path
    name: str
    power_w: float
    range_uj: int
    start_uj: int
    #: added to what the zone has drawn (a jump, a reset, a counter that stopped counting)
    offset_uj: int = 0
    #: the counter file is not rewritten while frozen (it keeps its last value)
    frozen: bool = False
    frozen_at_uj: int = 0


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
        #: held while a counter file is written, so a glitch never races a write
        self.lock = threading.Lock()

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

    def drawn_uj(self, zone: FakeZone, elapsed_s: float) -> int:
        """What the zone has drawn since the tree started (its truth), in µJ."""
        return int(zone.power_w * elapsed_s * 1e6)

    def _write(self, zone: FakeZone, elapsed_s: float) -> None:
        if zone.frozen:
            return
        value = (zone.start_uj + self.drawn_uj(zone, elapsed_s) + zone.offset_uj) % zone.range_uj
        tmp = zone.path / f".energy_uj.{threading.get_ident()}.tmp"
        tmp.write_text(f"{value}\n")
        os.replace(tmp, zone.path / "energy_uj")

    # -- glitches, as hardware and drivers have them ------------------------------
    def _now_uj(self, zone: FakeZone) -> int:
        return self.drawn_uj(zone, time.time() - self._t0)

    def jump(self, zone: FakeZone, uj: int) -> None:
        """The counter jumps by ``uj`` and goes on from there."""
        with self.lock:
            zone.offset_uj += uj

    def reset(self, zone: FakeZone) -> None:
        """The counter starts again at zero (a driver reloaded) and goes on from there."""
        with self.lock:
            zone.offset_uj = -zone.start_uj - self._now_uj(zone)

    def freeze(self, zone: FakeZone) -> None:
        """The counter file stops changing (a stuck firmware update, a hung sysfs read)."""
        with self.lock:
            zone.frozen_at_uj = self._now_uj(zone)
            zone.frozen = True

    def thaw(self, zone: FakeZone, stopped: bool) -> None:
        """The counter moves again: from where it froze (``stopped``: what was drawn meanwhile
        is not counted), or caught up with what was drawn; its file is written at once."""
        with self.lock:
            if stopped:
                zone.offset_uj -= self._now_uj(zone) - zone.frozen_at_uj
            zone.frozen = False
        self.write_now(zone)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s):
            with self.lock:
                elapsed = time.time() - self._t0
                for zone in self.zones:
                    self._write(zone, elapsed)

    def write_now(self, zone: FakeZone) -> None:
        """Write the zone's counter file now (it replaces whatever is at its name)."""
        with self.lock:
            self._write(zone, time.time() - self._t0)

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

    def drawn_uj(self, zone: FakeZone, elapsed_s: float) -> int:
        busy_s = host_busy_cpu_s() - getattr(self, "_busy0", host_busy_cpu_s())
        return int((self.idle_w * elapsed_s + self.j_per_cpu_s * busy_s) * 1e6)

    def __enter__(self) -> LoadFollowingPowercap:
        self._busy0 = host_busy_cpu_s()
        super().__enter__()
        return self


def _ahead_of_the_load() -> None:
    """Give the writer the first claim on a CPU, as a hardware counter has (it counts
    whatever the scheduler does): real-time FIFO where allowed (root), else the highest
    niceness this user may take, else as it is. The writer sleeps between ticks, so a
    real-time priority takes a CPU for microseconds per tick, never for long."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        return
    except (AttributeError, OSError):
        pass
    with contextlib.suppress(OSError):
        os.nice(-10)


def _follow_load(
    counter: str,
    idle_w: float,
    j_per_cpu_s: float,
    busy0: float,
    t0: float,
    zone: tuple[int, int, float],
    shared: Any,
    lock: Any,
    stop: Any,
    ready: Any,
) -> None:
    """The writer of :class:`LoadFollowingProcess`, in a process of its own."""
    start_uj, range_uj, tick_s = zone
    _ahead_of_the_load()
    target = Path(counter)
    tmp = target.with_name(f".energy_uj.{os.getpid()}.tmp")
    while not stop.is_set():
        with lock:
            if not shared[1]:  # not frozen
                drawn = (
                    idle_w * (time.time() - t0) + j_per_cpu_s * (host_busy_cpu_s() - busy0)
                ) * 1e6
                value = (start_uj + int(drawn) + int(shared[0])) % range_uj
                tmp.write_text(f"{value}\n")
                os.replace(tmp, target)
        ready.set()
        stop.wait(tick_s)


class LoadFollowingProcess(LoadFollowingPowercap):
    """:class:`LoadFollowingPowercap` whose writer runs in a process of its own.

    In the test's process the writer shares the interpreter lock with a busy workflow
    driver and lags the load it follows by a few ticks; in its own process, scheduled ahead
    of the load (:func:`_ahead_of_the_load`), it keeps up when other processes fill every
    CPU, so a short node's truth holds to a few per cent. Its glitches (jump, reset, freeze, thaw)
    act on the running writer through shared memory.
    """

    def __enter__(self) -> LoadFollowingProcess:
        import multiprocessing

        self._busy0 = host_busy_cpu_s()
        self._t0 = time.time()
        context = multiprocessing.get_context("spawn")
        (zone,) = self.zones
        self._shared = context.Array("d", [float(zone.offset_uj), 0.0, 0.0])
        self._plock = context.Lock()
        self._pstop = context.Event()
        ready = context.Event()
        self._process = context.Process(
            target=_follow_load,
            args=(
                str(zone.path / "energy_uj"),
                self.idle_w,
                self.j_per_cpu_s,
                self._busy0,
                self._t0,
                (zone.start_uj, zone.range_uj, self.tick_s),
                self._shared,
                self._plock,
                self._pstop,
                ready,
            ),
            daemon=True,
        )
        self._process.start()
        # the writer's start-up (an interpreter, its imports) is CPU the run must not see:
        # the tree is ready once the writer has written, and the host has settled after it
        if not ready.wait(30):
            self.stop_writing()
            raise RuntimeError("the emulated counter's writer did not start within 30 s")
        time.sleep(0.2)
        return self

    def stop_writing(self) -> None:
        if getattr(self, "_process", None) is not None:
            self._pstop.set()
            self._process.join(10)
            self._process = None

    def jump(self, zone: FakeZone, uj: int) -> None:
        with self._plock:
            self._shared[0] += uj

    def reset(self, zone: FakeZone) -> None:
        with self._plock:
            self._shared[0] = float(-zone.start_uj - self._now_uj(zone))

    def freeze(self, zone: FakeZone) -> None:
        with self._plock:
            self._shared[2] = float(self._now_uj(zone))
            self._shared[1] = 1.0

    def thaw(self, zone: FakeZone, stopped: bool) -> None:
        with self._plock:
            if stopped:
                self._shared[0] -= self._now_uj(zone) - self._shared[2]
            self._shared[1] = 0.0
            value = (zone.start_uj + self._now_uj(zone) + int(self._shared[0])) % zone.range_uj
            tmp = zone.path / ".energy_uj.thaw.tmp"
            tmp.write_text(f"{value}\n")
            os.replace(tmp, zone.path / "energy_uj")
