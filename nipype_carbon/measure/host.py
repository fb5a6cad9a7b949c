"""Facts about the host: CPU model, logical CPUs, memory, busy CPU time.

Busy CPU time is read from the kernel's cumulative counters (``/proc/stat``,
see :mod:`~nipype_carbon.measure.procfs`), so readings taken in different
processes of one host lie on one timeline.
"""

from __future__ import annotations

import os
import platform
import socket
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from nipype_carbon.measure import procfs


def host_name() -> str:
    """The short host name, as SLURM and users know it."""
    return socket.gethostname().split(".")[0] or platform.node()


def cpu_brand() -> str:
    """The CPU model name as the kernel reports it (``model name`` in /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Processor", "cpu model"):
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


@dataclass(frozen=True)
class HostInfo:
    """What a session keeps about each host it ran on."""

    name: str
    cpu_model: str
    logical_cpus: int
    physical_cpus: int
    memory_total_b: int
    platform: str
    packages: int = 1  # CPU sockets

    @classmethod
    def collect(cls) -> HostInfo:
        """This host's facts (cached per process)."""
        return _collect_host(os.getpid())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=4)
def _collect_host(pid: int) -> HostInfo:
    cores, packages = procfs.cpu_topology()
    return HostInfo(
        name=host_name(),
        cpu_model=cpu_brand(),
        logical_cpus=os.cpu_count() or 1,
        physical_cpus=cores,
        packages=packages,
        memory_total_b=procfs.memory_total_b(),
        platform=platform.platform(),
    )
