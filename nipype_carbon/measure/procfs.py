"""Linux ``/proc`` read directly: host CPU time, memory, boot time, processes.

The measure stage runs beside the nodes, possibly inside an application's
container from a bind-mounted directory, so it uses the standard library only.
Every value comes from the kernel's cumulative counters, so readings taken in
different processes of one host lie on one timeline.

Examples
--------
>>> import time
>>> busy_cpu_s() > 0 and boot_time() < time.time()
True
>>> stat = process_stat(os.getpid())
>>> stat is not None and stat.cpu_s >= 0 and stat.rss_b > 0
True
"""

from __future__ import annotations

import contextlib
import os
import threading
from dataclasses import dataclass

PROC = "/proc"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_B = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


class KeptOpen:
    """A /proc file kept open by this process and re-read from its start: one ``pread``
    per sample instead of an open, a read and a close (a node's meter samples the host at
    its start and end, so this is most of the metering cost of a short node).

    The kernel regenerates the file at offset 0, so each read is current. A forked child
    drops the parent's descriptor (closed right after the fork, when it is surely still
    this one) and opens its own on first use; nothing is inherited across ``exec``.
    """

    def __init__(self, path: str, size: int = 4096) -> None:
        self.path, self.size = path, size
        self._fd: int | None = None
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        fd, self._fd = self._fd, None
        self._lock = threading.Lock()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def read(self) -> bytes:
        """The file's first ``size`` bytes, now (``OSError`` if it cannot be read)."""
        fd = self._fd
        if fd is not None:
            try:
                return os.pread(fd, self.size, 0)
            except OSError:  # closed under us (a library closing every descriptor): reopen
                pass
        with self._lock:
            if self._fd is None or self._fd == fd:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            return os.pread(self._fd, self.size, 0)


#: the host's counters: the ``cpu`` line leads /proc/stat; MemTotal and MemAvailable lead
#: /proc/meminfo (the kernel's fixed order since Linux 3.14)
_STAT = KeptOpen(f"{PROC}/stat")
_MEMINFO = KeptOpen(f"{PROC}/meminfo", 1024)
_TICK_NAMES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_ticks() -> dict[str, int]:
    """The host's ``cpu`` line of /proc/stat: ticks per state, summed over logical CPUs."""
    head = _STAT.read()
    if head.startswith(b"cpu "):
        values = [int(v) for v in head[: head.find(b"\n")].split()[1:]]
        return dict(zip(_TICK_NAMES, values, strict=False))
    for line in _read(f"{PROC}/stat").splitlines():  # not where the kernel puts it: look
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            return dict(zip(_TICK_NAMES, values, strict=False))
    raise OSError("no cpu line in /proc/stat")


def busy_cpu_s() -> float:
    """Host CPU seconds spent busy since boot, summed over logical CPUs.

    Busy is user + nice + system + irq + softirq; idle, iowait and steal (time
    the hypervisor gave to other guests) are not busy. Guest time is already
    inside user time on Linux.
    """
    ticks = cpu_ticks()
    busy = sum(ticks.get(k, 0) for k in ("user", "nice", "system", "irq", "softirq"))
    return busy / CLOCK_TICKS


def boot_time() -> float:
    """When the host booted, in epoch seconds (``btime`` of /proc/stat)."""
    for line in _read(f"{PROC}/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime line in /proc/stat")


def meminfo_b() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    found: dict[str, int] = {}
    for line in _read(f"{PROC}/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            found[key] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
    return found


def memory_total_b() -> int:
    """Installed memory the kernel manages, bytes."""
    return meminfo_b()["MemTotal"]


def memory_used_b() -> int:
    """Host memory in use (total minus available), bytes."""
    lines = _MEMINFO.read().split(b"\n", 3)
    if (
        len(lines) > 3
        and lines[0].startswith(b"MemTotal:")
        and lines[2].startswith(b"MemAvailable:")
        and lines[0].endswith(b" kB")
        and lines[2].endswith(b" kB")
    ):
        total, available = (int(lines[i].split()[1]) * 1024 for i in (0, 2))
        return total - available
    info = meminfo_b()  # another layout (an old kernel): read it all
    available = info.get("MemAvailable", info.get("MemFree", 0))
    return info["MemTotal"] - available


def cpu_topology() -> tuple[int, int]:
    """Physical cores and CPU packages (sockets) of the host, from /proc/cpuinfo.

    Where the kernel does not say (some virtual machines, other architectures),
    one package and as many cores as logical CPUs.
    """
    cores: set[tuple[str, str]] = set()
    packages: set[str] = set()
    package = core = ""
    try:
        text = _read(f"{PROC}/cpuinfo")
    except OSError:
        text = ""
    for line in [*text.splitlines(), ""]:
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "physical id":
            package = value.strip()
        elif key == "core id":
            core = value.strip()
        elif not key and (package or core):
            packages.add(package)
            cores.add((package, core))
            package = core = ""
    logical = os.cpu_count() or 1
    return (len(cores) or logical), (len(packages) or 1)


@dataclass(frozen=True)
class ProcessStat:
    """CPU and memory of one process: its own and its reaped children's CPU time."""

    pid: int
    cpu_s: float  # user + system, of the process and of the children it has reaped
    rss_b: int
    started: int  # start time in clock ticks since boot: with the pid, the process's identity
    parent: int = 0


def process_stat(pid: int) -> ProcessStat | None:
    """The process's counters from /proc/PID/stat and statm, or None if it has gone."""
    try:
        stat = _read(f"{PROC}/{pid}/stat")
        statm = _read(f"{PROC}/{pid}/statm")
    except OSError:
        return None
    # the command name is in parentheses and may hold spaces or parentheses itself
    fields = stat[stat.rfind(")") + 2 :].split()
    try:
        ticks = sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
        started = int(fields[19])
        parent = int(fields[1])
        rss_b = int(statm.split()[1]) * PAGE_B
    except (IndexError, ValueError):
        return None
    return ProcessStat(pid, ticks / CLOCK_TICKS, rss_b, started, parent)


def parent_pid(pid: int) -> int | None:
    try:
        stat = _read(f"{PROC}/{pid}/stat")
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def children_by_scan(pid: int) -> list[int]:
    """Every live descendant of ``pid``, by reading each process's parent (slow; a fallback)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir(PROC):
        if entry.isdigit():
            ppid = parent_pid(int(entry))
            if ppid is not None:
                parents.setdefault(ppid, []).append(int(entry))
    found: list[int] = []
    stack = [pid]
    while stack:
        kids = parents.get(stack.pop(), [])
        found += kids
        stack += kids
    return found
