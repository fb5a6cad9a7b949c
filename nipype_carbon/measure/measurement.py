"""What the measure stage hands up: what a meter domain is, what a node meter saw.

Plain data types only, so the record and analyse stages read them without
importing a meter or the node meter.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

Component = Literal["cpu", "dram", "gpu"]
DomainKind = Literal["counter", "power"]

COMPONENTS: tuple[Component, ...] = ("cpu", "dram", "gpu")


@dataclass(frozen=True)
class Domain:
    """One thing a meter measures.

    Parameters
    ----------
    name : str
        Unique on the host, prefixed by the meter kind (``rapl:package-0``).
    component : {"cpu", "dram", "gpu"}
        Which energy component the domain belongs to.
    kind : {"counter", "power"}
        Cumulative energy in joules, or instantaneous power in watts.
    method : str
        How the value is obtained: ``rapl``, ``pyrapl``, ``nvml`` or ``model``.
    wrap_j : float or None
        Range of a counter in joules, after which it starts again at zero.
    device : str or None
        Identifier of the device (GPU UUID, RAPL zone path) where it helps.
    power_bound_w : float or None
        The most power the domain can draw (a RAPL zone's ``max_power``), where known.
    """

    name: str
    component: Component
    kind: DomainKind
    method: str
    wrap_j: float | None = None
    device: str | None = None
    #: the most power the domain can draw, where known (sets how often a counter is read)
    power_bound_w: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Domain:
        return cls(**data)


#: assumed most power of a counter domain whose bound is unknown, for the sampling interval
DEFAULT_POWER_BOUND_W = 1000.0


def wrap_safe_interval_s(domains: list[Domain], wanted_s: float) -> float:
    """The sampling interval: ``wanted_s``, or shorter so no counter can wrap twice unseen.

    A counter of range ``wrap_j`` at most ``P`` watts wraps once every
    ``wrap_j / P`` seconds; reading it at least twice as often leaves every
    wrap visible. RAPL's ranges are large (about 262 kJ: minutes at full power).
    """
    interval = wanted_s
    for domain in domains:
        if domain.kind == "counter" and domain.wrap_j:
            bound = domain.power_bound_w or DEFAULT_POWER_BOUND_W
            interval = min(interval, domain.wrap_j / (2.0 * bound))
    return max(interval, 0.001)


@dataclass(frozen=True)
class HostNow:
    """One instant of the host: the clock and busy CPU, read once per sample.

    A node meter reads them once and hands them to every meter, so a modelled
    counter and the timeline's busy CPU can never disagree within a sample.
    """

    t: float
    busy_cpu_s: float


@dataclass
class Measurement:
    """What a NodeMeter saw: raw, nothing attributed yet.

    ``samples`` is columnar: ``t`` (epoch seconds), ``cpu_s`` (tree CPU since
    start), ``rss_b``, ``host_busy_cpu_s``, ``host_mem_b``, then one column per
    meter domain under ``domains`` and the tree's GPU utilisation under ``gpu``.
    """

    host: dict[str, Any]
    pid: int
    start: float
    end: float
    cpu_s: float
    meter_cpu_s: float
    peak_rss_b: int
    sample_interval_s: float
    samples: dict[str, Any]
    meters: dict[str, Any]
    baseline_power_w: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    own_cpu_s: float = 0.0
    #: CPU spent meanwhile by processes an earlier node left running (orphans): not this node's
    inherited_cpu_s: float = 0.0
    #: meters dropped while measuring: which, when (epoch s) and why
    faults: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (shallow: the sample columns are shared, not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measurement:
        return cls(**data)
