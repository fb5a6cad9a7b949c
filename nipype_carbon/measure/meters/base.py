"""The meter interface: what every energy meter of the host offers.

A meter reads *host* counters and knows nothing of workflows. Each meter
exposes one or more :class:`Domain` objects (a RAPL package, a DRAM zone, a
GPU, a modelled CPU) and :meth:`EnergyMeter.read` returns one value per domain:

- for a ``counter`` domain, the cumulative energy in joules as the hardware
  counter reads it (it may wrap at :attr:`Domain.wrap_j`);
- for a ``power`` domain, the instantaneous power in watts.

Values are raw on purpose: readings taken in different processes of one host
(MultiProc workers, SLURM jobs) are merged on one timeline at attribution time,
where wraparound is undone once for all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.measure.measurement import Domain, HostNow


class MeterUnavailable(NipypeCarbonError):
    """A meter cannot be used on this host. Subclasses say why."""

    reason: ClassVar[str] = "unavailable"

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix

    def describe(self) -> str:
        text = f"{self.reason}: {self}"
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class MeterAbsent(MeterUnavailable):
    """The hardware or the vendor library is not there."""

    reason = "absent"


class MeterPermissionDenied(MeterUnavailable):
    """The hardware is there but this user may not read it."""

    reason = "no permission"


class MeterBroken(MeterUnavailable):
    """The hardware is there but reading it fails or gives nonsense."""

    reason = "broken"


@dataclass
class GpuProcessUse:
    """Use of one GPU by a set of processes at one instant."""

    device: str
    util_percent: float
    total_util_percent: float
    memory_b: int = 0


@dataclass
class MeterInfo:
    """What a meter says about itself, kept in the session as provenance."""

    kind: str
    domains: list[Domain]
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "domains": [d.to_dict() for d in self.domains],
            "details": self.details,
        }


class EnergyMeter(ABC):
    """Abstract base of every meter.

    Subclasses must be picklable (a node meter travels to worker processes)
    and must open vendor handles lazily, once per process.
    """

    kind: ClassVar[str] = "abstract"

    @abstractmethod
    def domains(self) -> list[Domain]:
        """The domains this meter reads."""

    @abstractmethod
    def read(self, now: HostNow | None = None) -> dict[str, float]:
        """One value per domain name: joules for counters, watts for power.

        ``now`` is the sample's clock and busy CPU, for meters that model from
        them; read them afresh when it is None.
        """

    def baseline_power_w(self) -> dict[str, float]:
        """Baseline (idle) power per domain where the meter knows it exactly."""
        return {}

    def gpu_use(self, pids: set[int]) -> list[GpuProcessUse]:
        """Use of each GPU of this meter by the given processes."""
        return []

    def info(self) -> MeterInfo:
        """Provenance of this meter for the session."""
        return MeterInfo(kind=self.kind, domains=self.domains(), details=self.details())

    def details(self) -> dict[str, Any]:
        """Constants and settings this meter uses, for the record."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release vendor handles."""
