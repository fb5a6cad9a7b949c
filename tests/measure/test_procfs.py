"""The /proc readers kept open: current values, a forked child's own descriptor, a
descriptor closed under them."""

from __future__ import annotations

import os
from pathlib import Path

from nipype_carbon.measure import procfs
from nipype_carbon.measure.procfs import KeptOpen


def test_each_read_is_the_file_now(tmp_path: Path) -> None:
    path = tmp_path / "counter"
    path.write_bytes(b"cpu  1 2 3\n")
    kept = KeptOpen(str(path))
    assert kept.read() == b"cpu  1 2 3\n"
    with open(path, "r+b") as handle:  # the same file changed in place, as /proc changes
        handle.write(b"cpu  7 8 9\n")
    assert kept.read() == b"cpu  7 8 9\n"


def test_descriptor_closed_under_it_is_reopened(tmp_path: Path) -> None:
    path = tmp_path / "counter"
    path.write_bytes(b"one\n")
    kept = KeptOpen(str(path))
    kept.read()
    assert kept._fd is not None
    os.close(kept._fd)  # a library closing every descriptor
    assert kept.read() == b"one\n"


def test_forked_child_reads_with_its_own_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "counter"
    path.write_bytes(b"parent\n")
    kept = KeptOpen(str(path))
    kept.read()
    parents_fd = kept._fd
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's descriptor was dropped at the fork
        try:
            ok = kept._fd is None and kept.read() == b"parent\n"
            os.write(write_end, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write_end)
    assert os.read(read_end, 1) == b"1"
    os.waitpid(pid, 0)
    os.close(read_end)
    assert kept._fd == parents_fd and kept.read() == b"parent\n"


def test_host_counters_agree_with_a_fresh_read() -> None:
    """The kept readers give what reading the whole file gives (memory within what moves
    between two reads; busy CPU time only grows)."""
    info = procfs.meminfo_b()
    fresh = info["MemTotal"] - info["MemAvailable"]
    assert abs(procfs.memory_used_b() - fresh) < 0.05 * info["MemTotal"]
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    busy_ticks = sum(int(fields[i]) for i in (1, 2, 3, 6, 7))  # user nice system irq softirq
    assert procfs.busy_cpu_s() >= busy_ticks / procfs.CLOCK_TICKS
