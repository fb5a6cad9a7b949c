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

import os
from dataclasses import dataclass

PROC = "/proc"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_B = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _read(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read()


def cpu_ticks() -> dict[str, int]:
    """The host's ``cpu`` line of /proc/stat: ticks per state, summed over logical CPUs."""
    names = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
    for line in _read(f"{PROC}/stat").splitlines():
        if line.startswith("cpu "):
            values = [int(v) for v in line.split()[1:]]
            return dict(zip(names, values, strict=False))
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
    info = meminfo_b()
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
