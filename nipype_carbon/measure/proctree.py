"""CPU time and memory of a process tree, short-lived children included.

A node's work happens in the process that runs it and in the processes it
starts (FSL, ANTs or MRtrix3 command-line tools). Sampling CPU% misses a
child that lives 50 ms; the kernel does not: when a child is reaped its CPU
time is added to the parent's ``RUSAGE_CHILDREN``. So the tree's CPU time is

    own CPU (RUSAGE_SELF) + reaped descendants (RUSAGE_CHILDREN) + live descendants

each taken as a difference from the moment measurement started. A descendant
that is re-parented to init before it is reaped (a double-forked daemon) is
not seen once it has left the tree.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

from nipype_carbon.measure.procfs import ProcessStat, children_by_scan, process_stat


def _rusage_cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _maxrss_b(who: int) -> int:
    # ru_maxrss is in kilobytes on Linux
    return int(resource.getrusage(who).ru_maxrss) * 1024


def _own_rss_b(pid: int) -> int:
    stat = process_stat(pid)
    return stat.rss_b if stat is not None else 0


def _children_from_proc(pid: int) -> list[int] | None:
    """Direct children from /proc/PID/task/TID/children (Linux 3.5+), or None if unsupported."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    children: list[int] = []
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                children += [int(c) for c in handle.read().split()]
        except FileNotFoundError:
            if tid == tasks[0] and not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended meanwhile
            return None if tid == tasks[0] else children
        except OSError:
            continue
    return children


def descendant_pids(pid: int) -> list[int]:
    """Live descendants of ``pid``.

    Reads only the tree's own ``/proc/PID/task/*/children`` files where the
    kernel offers them, rather than every process of the host: a sample then
    costs a few system calls, which matters when the measured work holds the
    GIL (each call that releases it may wait a switch interval to get it back).
    """
    found: list[int] = []
    stack = [pid]
    while stack:
        children = _children_from_proc(stack.pop())
        if children is None:
            return children_by_scan(pid)
        found += children
        stack += children
    return found


@dataclass
class TreeSample:
    """CPU seconds since the start, and the resident memory of the live tree now.

    ``own_cpu_s`` is the part spent by the measuring process itself (its threads).
    """

    cpu_s: float
    rss_b: int
    pids: set[int]
    own_cpu_s: float = 0.0


class ProcessTreeClock:
    """Measures CPU time of the calling process and its descendants since creation.

    Examples
    --------
    >>> clock = ProcessTreeClock()
    >>> _ = sum(i * i for i in range(200_000))
    >>> clock.sample().cpu_s > 0
    True
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._self0 = _rusage_cpu_s(resource.RUSAGE_SELF)
        self._reaped0 = _rusage_cpu_s(resource.RUSAGE_CHILDREN)
        self._children_maxrss0 = _maxrss_b(resource.RUSAGE_CHILDREN)
        # a live descendant is known by pid and start time (a pid may be reused)
        self._live0 = {(s.pid, s.started): s.cpu_s for s in self._live()}
        self._last_cpu_s = 0.0
        self.peak_rss_b = 0

    def _live(self) -> list[ProcessStat]:
        found = []
        for pid in descendant_pids(self.pid):
            stat = process_stat(pid)
            if stat is not None:  # else it exited meanwhile: counted once reaped
                found.append(stat)
        return found

    def sample(self, exclude_cpu_s: float = 0.0) -> TreeSample:
        """CPU seconds of the tree since creation, less ``exclude_cpu_s`` (the meter's own)."""
        own = _rusage_cpu_s(resource.RUSAGE_SELF) - self._self0
        reaped = _rusage_cpu_s(resource.RUSAGE_CHILDREN) - self._reaped0
        live = self._live()
        live_cpu = sum(s.cpu_s - self._live0.get((s.pid, s.started), 0.0) for s in live)
        cpu_s = max(self._last_cpu_s, own + reaped + live_cpu - exclude_cpu_s)
        self._last_cpu_s = cpu_s
        rss = _own_rss_b(self.pid) + sum(s.rss_b for s in live)
        self.peak_rss_b = max(self.peak_rss_b, rss)
        return TreeSample(
            cpu_s, rss, {self.pid} | {s.pid for s in live}, max(0.0, own - exclude_cpu_s)
        )

    def reaped_peak_rss_b(self) -> int:
        """Peak resident memory of a reaped child, if one peaked higher since creation."""
        now = _maxrss_b(resource.RUSAGE_CHILDREN)
        return now if now > self._children_maxrss0 else 0


class ProcessClock:
    """CPU time of the calling process alone (its threads), without descendants.

    Used for a scheduler whose worker processes are measured as nodes of their own.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._self0 = _rusage_cpu_s(resource.RUSAGE_SELF)
        self._last_cpu_s = 0.0
        self.peak_rss_b = 0

    def sample(self, exclude_cpu_s: float = 0.0) -> TreeSample:
        own = _rusage_cpu_s(resource.RUSAGE_SELF) - self._self0 - exclude_cpu_s
        self._last_cpu_s = max(self._last_cpu_s, own)
        rss = _own_rss_b(self.pid)
        self.peak_rss_b = max(self.peak_rss_b, rss)
        return TreeSample(self._last_cpu_s, rss, {self.pid}, self._last_cpu_s)

    def reaped_peak_rss_b(self) -> int:
        return 0
