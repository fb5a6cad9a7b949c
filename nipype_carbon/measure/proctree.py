"""CPU time and memory of the work a node does: its process, or its thread, and its children.

A node's work happens in the process that runs it and in the processes it
starts (FSL, ANTs or MRtrix3 command-line tools). Sampling CPU% misses a
child that lives 50 ms; the kernel does not: when a child is reaped its CPU
time is added to the parent's ``RUSAGE_CHILDREN``. So a node's CPU time is

    own CPU + reaped children (RUSAGE_CHILDREN) + live descendants it started

each taken as a difference from the moment measurement started.

*Own CPU* is the whole process's (``RUSAGE_SELF``) for a node that has its
process to itself (a MultiProc worker, a batch job), and the node's own
thread plus any thread started while it ran for a node run inside the process
that drives the workflow (``thread_scope=True``: Linear, ``run_without_submitting``,
Pydra's debug worker), whose other threads and worker processes are not the node's.

*Descendants it started* exclude every process that was already there when
measurement started, with everything below it: a pool's worker processes, or a
child an earlier node left running. The CPU such a leftover child spends while
this node runs is kept apart as ``inherited_cpu_s`` (orphan CPU), never charged
to this node. A descendant re-parented to init before it is reaped (a
double-forked daemon) is not seen once it has left the tree.
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from dataclasses import dataclass

from nipype_carbon.measure.procfs import (
    CLOCK_TICKS,
    PAGE_B,
    KeptOpen,
    ProcessStat,
    children_by_scan,
    process_stat,
)


def _rusage_cpu_s(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _maxrss_b(who: int) -> int:
    # ru_maxrss is in kilobytes on Linux
    return int(resource.getrusage(who).ru_maxrss) * 1024


#: this process's resident pages: the second field of its own statm, kept open
_OWN_STATM = KeptOpen("/proc/self/statm", 256)


def _own_rss_b(pid: int) -> int:
    if pid == os.getpid():
        with contextlib.suppress(OSError, IndexError, ValueError):
            return int(_OWN_STATM.read().split()[1]) * PAGE_B
    stat = process_stat(pid)
    return stat.rss_b if stat is not None else 0


def _task_children(pid: int, tid: str) -> list[int] | None:
    """Direct children started by one thread, or None where the kernel does not say."""
    try:
        with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
            return [int(c) for c in handle.read().split()]
    except FileNotFoundError:
        return [] if not os.path.exists(f"/proc/{pid}/task/{tid}") else None
    except OSError:
        return []


def _children_from_proc(pid: int, tids: list[str] | None = None) -> list[int] | None:
    """Direct children from /proc/PID/task/TID/children (Linux 3.5+), or None if unsupported.

    ``tids`` limits them to the children those threads started.
    """
    if tids is None:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
    children: list[int] = []
    for tid in tids:
        found = _task_children(pid, tid)
        if found is None:
            return None
        children += found
    return children


def descendant_pids(
    pid: int, skip: frozenset[int] = frozenset(), tids: list[str] | None = None
) -> list[int]:
    """Live descendants of ``pid``, not descending into the processes in ``skip``.

    ``tids`` limits the top level to the children those threads of ``pid``
    started. Reads only the tree's own ``/proc/PID/task/*/children`` files where
    the kernel offers them, rather than every process of the host: a sample then
    costs a few system calls, which matters when the measured work holds the
    GIL (each call that releases it may wait a switch interval to get it back).
    """
    top = _children_from_proc(pid, tids)
    if top is None:
        return [p for p in children_by_scan(pid) if p not in skip]  # skip is best effort here
    found: list[int] = []
    stack = [c for c in top if c not in skip]
    while stack:
        child = stack.pop()
        found.append(child)
        children = _children_from_proc(child)
        stack += [c for c in children or [] if c not in skip]
    return found


def _task_cpu_s(pid: int, tid: str) -> float:
    """CPU seconds of one thread, from /proc/PID/task/TID/stat (0 once it has ended)."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return 0.0
    fields = text[text.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


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
    """CPU time and memory of the work done in this process since creation, children included.

    Parameters
    ----------
    thread_scope : bool
        Count only the creating thread (and threads started after it was
        created) as the node's own, and only children those threads start:
        for a node run inside the process that drives the workflow.

    Examples
    --------
    >>> clock = ProcessTreeClock()
    >>> _ = sum(i * i for i in range(200_000))
    >>> clock.sample().cpu_s > 0
    True
    """

    def __init__(self, thread_scope: bool = False) -> None:
        self.pid = os.getpid()
        self.thread_scope = thread_scope
        self._self0 = _rusage_cpu_s(resource.RUSAGE_SELF)
        self._reaped0 = _rusage_cpu_s(resource.RUSAGE_CHILDREN)
        self._children_maxrss0 = _maxrss_b(resource.RUSAGE_CHILDREN)
        if thread_scope:
            self._tid = str(threading.get_native_id())
            self._thread_clock = time.pthread_getcpuclockid(threading.get_ident())
            self._thread0 = time.clock_gettime(self._thread_clock)
            self._tasks0 = set(self._tasks())
        self._ignored: set[str] = set()
        # processes already there (a pool's workers, an earlier node's leftovers): not ours
        existing = [s for s in map(process_stat, descendant_pids(self.pid)) if s is not None]
        self._existing0 = {(s.pid, s.started): s.cpu_s for s in existing}
        self._existing_last = dict(self._existing0)
        self._existing_children = {(s.pid, s.started) for s in existing if s.parent == self.pid}
        self._skip = frozenset(s.pid for s in existing)
        self._reaped_existing_s = 0.0
        self._gone_spent_s = 0.0
        self._last_cpu_s = 0.0
        self.inherited_cpu_s = 0.0
        self.peak_rss_b = 0

    def ignore_thread(self, native_id: int) -> None:
        """Leave a thread out (the meter's own sampler) when only threads are counted."""
        self._ignored.add(str(native_id))

    def _tasks(self) -> list[str]:
        try:
            return os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return []

    def _own_cpu_s(self) -> tuple[float, list[str] | None]:
        """CPU of the node's own threads since creation, and the threads whose children count."""
        if not self.thread_scope:
            return _rusage_cpu_s(resource.RUSAGE_SELF) - self._self0, None
        new = [tid for tid in self._tasks() if tid not in self._tasks0 | self._ignored]
        own = time.clock_gettime(self._thread_clock) - self._thread0
        own += sum(_task_cpu_s(self.pid, tid) for tid in new)
        return own, [self._tid, *new]

    def _live(self, tids: list[str] | None) -> list[ProcessStat]:
        found = []
        for pid in descendant_pids(self.pid, self._skip, tids):
            stat = process_stat(pid)
            if stat is not None:  # else it exited meanwhile: counted once reaped
                found.append(stat)
        return found

    def _follow_existing(self) -> None:
        """Update what the processes already there have spent; note those that were reaped.

        A leftover child of this process that ends and is reaped while this node
        runs adds its whole CPU time to ``RUSAGE_CHILDREN``: that part is taken
        back out (as last seen; what it spent after the last sample stays in).
        """
        for key in list(self._existing_last):
            stat = process_stat(key[0])
            if stat is not None and stat.started == key[1]:
                self._existing_last[key] = stat.cpu_s
                continue
            last = self._existing_last.pop(key)
            self._gone_spent_s += last - self._existing0[key]
            if key in self._existing_children:
                self._reaped_existing_s += last
        if not self.thread_scope:  # in the driving process these are the pool's workers
            alive = sum(v - self._existing0[k] for k, v in self._existing_last.items())
            self.inherited_cpu_s = max(0.0, alive + self._gone_spent_s)

    def sample(self, exclude_cpu_s: float = 0.0) -> TreeSample:
        """CPU seconds of the node since creation, less ``exclude_cpu_s`` (the meter's own).

        With ``thread_scope``, the meter's thread is left out by :meth:`ignore_thread`
        instead, and ``exclude_cpu_s`` is not used.
        """
        if self.thread_scope:
            exclude_cpu_s = 0.0
        own, tids = self._own_cpu_s()
        if self._existing_last:
            self._follow_existing()
        reaped = _rusage_cpu_s(resource.RUSAGE_CHILDREN) - self._reaped0 - self._reaped_existing_s
        live = self._live(tids)
        cpu_s = max(self._last_cpu_s, own + reaped + sum(s.cpu_s for s in live) - exclude_cpu_s)
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
