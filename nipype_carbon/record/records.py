"""The record types of a session: one node's record, one host's record.

A :class:`NodeRecord` holds what the engine knows of a unit of work (name,
interface, status) and, for a node that ran, the raw
:class:`~nipype_carbon.measure.measurement.Measurement` its node meter took.
A :class:`HostRecord` holds a host's facts and meters. Both are plain data,
written and read by :mod:`nipype_carbon.record.session`: on the wire and in
memory a measurement stays the dict the node meter made (nothing is copied),
and its keys are spelled here only (and checked in
:mod:`~nipype_carbon.record.validate`): the other stages read it through
:attr:`NodeRecord.measured`, a :class:`Measured` view, and a host's meters
through :class:`HostRecord`'s accessors.

Examples
--------
>>> record = NodeRecord("wf.a", "ran", 0.0, 1.0, "h")
>>> record.measured is None, record.cpu_s
(True, 0.0)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any, Literal, get_args

from nipype_carbon.measure.measurement import Domain, Measurement

#: a node's status in a session: ``ran``, ``cached`` (an earlier run's result reused),
#: ``failed``, ``skipped`` (not run because a node before it failed), ``killed`` (its
#: process ended before the node did) and ``lost`` (it ran, but its record never arrived);
#: ``running`` only for a provisional record in the spool, replaced when the node ends
NodeStatus = Literal["ran", "cached", "failed", "skipped", "killed", "lost", "running"]
#: the ``kind`` of the scheduler's own record: the engine's work, not a node of the workflow
ORCHESTRATION = "orchestration"
#: the status of a provisional record in the spool, replaced when the node ends
RUNNING: NodeStatus = "running"
#: the statuses a session holds
STATUSES: tuple[NodeStatus, ...] = tuple(s for s in get_args(NodeStatus) if s != RUNNING)


@dataclass(frozen=True)
class ModelConstants:
    """What a host's model meter assumed: idle CPU power (all packages), joules per busy
    CPU-second, memory power, and the rated power and fractions they came from."""

    cpu_idle_w: float
    j_per_busy_cpu_s: float
    dram_w: float
    has_cpu_idle: bool = True
    cpu_tdp_w: float | None = None
    cpu_tdp_source: str = "unknown source"
    cpu_idle_fraction: float | None = None
    memory_w_per_gb: float | None = None


@dataclass(frozen=True)
class Fault:
    """A meter fault in one node: the meter ``dropped`` for the rest of it, a reading ``left
    out``, or a glitch whose reading was ``kept`` for the host's timeline to judge."""

    meter: str
    reason: str
    action: str = "dropped"
    t: float | None = None
    domains: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        t = data.get("t")
        return cls(
            meter=str(data.get("meter")),
            reason=str(data.get("reason")),
            action=str(data.get("action", "dropped")),
            t=float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None,
            domains=tuple(str(d) for d in data.get("domains") or ()),
        )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _float(value: Any) -> float:
    return _number(value) or 0.0


class Measured:
    """A typed view of a node's raw measurement (the dict a session holds: not copied).

    Sample columns are lists, one value per sample time; a domain's column holds None
    where its meter gave no reading.
    """

    __slots__ = ("data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    # -- the node's own figures ---------------------------------------------
    @property
    def cpu_s(self) -> float:
        return float(self.data.get("cpu_s", 0.0))

    @property
    def peak_rss_b(self) -> float:
        return float(self.data.get("peak_rss_b", 0) or 0)

    @property
    def peak_rss_raw(self) -> Any:
        """The peak memory as recorded (for checks of its type)."""
        return self.data.get("peak_rss_b")

    @property
    def own_cpu_s(self) -> float:
        return float(self.data.get("own_cpu_s", 0.0))

    @property
    def meter_cpu_s(self) -> float:
        return float(self.data.get("meter_cpu_s", 0.0))

    @property
    def pid(self) -> int | None:
        pid = self.data.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def start(self) -> float:
        return float(self.data["start"])

    @property
    def end(self) -> float:
        return float(self.data["end"])

    @property
    def faults(self) -> list[Fault]:
        """Meters dropped or misread while measuring."""
        return [Fault.from_dict(f) for f in self.data.get("faults") or [] if isinstance(f, dict)]

    # -- the host, as the node's process saw it -----------------------------
    @property
    def host(self) -> dict[str, Any]:
        return dict(self.data["host"])

    def host_record(self) -> HostRecord:
        """The host this measurement was taken on, with its meters."""
        host = self.data["host"]
        return HostRecord(
            host["name"], host, self.data["meters"], self.data.get("baseline_power_w", {})
        )

    # -- samples --------------------------------------------------------------
    @property
    def _samples(self) -> dict[str, Any]:
        return self.data["samples"]

    @property
    def n_samples(self) -> int:
        return len(self._samples["t"])

    @property
    def t(self) -> list[float]:
        return self._samples["t"]

    @property
    def sample_cpu_s(self) -> list[float]:
        return self._samples["cpu_s"]

    @property
    def sample_rss_b(self) -> list[float]:
        return self._samples["rss_b"]

    @property
    def host_busy_cpu_s(self) -> list[float]:
        return self._samples["host_busy_cpu_s"]

    def domain_column(self, name: str) -> list[float | None]:
        """A meter domain's readings (None where it gave none, or holds no column)."""
        column = self._samples.get("domains", {}).get(name)
        return column if column is not None else [None] * self.n_samples

    @property
    def gpu_columns(self) -> dict[str, list[Any]]:
        """Per GPU device, rows of [own utilisation %, total utilisation %, memory bytes]."""
        return dict(self._samples.get("gpu", {}))

    def set_cpu(self, cpu_s: list[float]) -> None:
        """Replace the node's CPU series (and its totals) by ``cpu_s`` (the scheduler's,
        less the nodes it ran itself)."""
        self._samples["cpu_s"] = cpu_s
        self.data["cpu_s"] = self.data["own_cpu_s"] = float(cpu_s[-1]) if cpu_s else 0.0


@dataclass
class NodeRecord:
    """One unit of work: what the engine knows, and what the node meter measured."""

    name: str
    status: NodeStatus
    start: float
    end: float
    host: str
    _: KW_ONLY
    interface: str = ""
    workflow: str = ""
    measurement: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def is_engine(self) -> bool:
        """Whether this is the engine's own record (the scheduler), not a node's."""
        return bool(self.extra.get("kind") == ORCHESTRATION)

    @property
    def measured(self) -> Measured | None:
        """The measurement, typed (None when the node was not measured)."""
        return Measured(self.measurement) if self.measurement else None

    @property
    def has_samples(self) -> bool:
        return bool(self.measurement) and Measured(self.measurement).n_samples >= 1  # type: ignore[arg-type]

    @property
    def cpu_s(self) -> float:
        """CPU seconds measured (0 when not measured)."""
        return Measured(self.measurement).cpu_s if self.measurement else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict, for JSON: shallow (the measurement is shared, not copied:
        a deep copy of its samples cost about a millisecond a node)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_measurement(cls, name: str, measurement: Measurement, **fields: Any) -> NodeRecord:
        """A record for a measured node; host and meters go to the session's host table."""
        data = measurement.to_dict()
        host = data["host"]["name"]
        fields.setdefault("status", "ran")
        return cls(
            name=name,
            start=measurement.start,
            end=measurement.end,
            host=host,
            measurement=data,
            **fields,
        )


@dataclass
class HostRecord:
    """A host the run used, its meters and any baseline power known for it.

    ``meters`` is what the host's processes selected: ``{"meters": [meter, ...],
    "skipped": {...}}``, each meter ``{"kind", "domains": [...], "details": {...}}``.
    """

    name: str
    info: dict[str, Any]
    meters: dict[str, Any]
    baseline_power_w: dict[str, float] = field(default_factory=dict)

    @property
    def meter_list(self) -> list[dict[str, Any]]:
        """Each meter the host's processes used (kind, domains, details)."""
        return list(self.meters.get("meters", []))

    def domains(self) -> list[Domain]:
        """Every domain of every meter, as its meter declared it."""
        return [Domain.from_dict(d) for m in self.meter_list for d in m["domains"]]

    def domain_names(self) -> set[str]:
        return {d["name"] for m in self.meter_list for d in m["domains"]}

    def meter_details(self, kind: str) -> dict[str, Any] | None:
        """The details (constants) of the host's meter of ``kind`` (None: none)."""
        found = (m.get("details", {}) for m in self.meter_list if m.get("kind") == kind)
        return next(found, None)

    def with_meters(self, extra: list[dict[str, Any]], baselines: dict[str, float]) -> HostRecord:
        """This host with meters and baselines added (a later process's)."""
        meters = {**self.meters, "meters": [*self.meter_list, *extra]}
        return HostRecord(self.name, self.info, meters, {**self.baseline_power_w, **baselines})

    def meters_with_new_domains(self, other: HostRecord) -> list[dict[str, Any]]:
        """Meters of ``other`` holding a domain this host lacks."""
        names = self.domain_names()
        return [m for m in other.meter_list if any(d["name"] not in names for d in m["domains"])]

    def model_constants(self) -> ModelConstants | None:
        """The constants the host's model meter worked with (None: it had none)."""
        details = self.meter_details("model")
        if not details:
            return None
        return ModelConstants(
            cpu_idle_w=_float(details.get("cpu_idle_power_w")),
            j_per_busy_cpu_s=_float(details.get("joules_per_busy_cpu_s")),
            dram_w=_float(details.get("dram_power_w")),
            has_cpu_idle="cpu_idle_power_w" in details,
            cpu_tdp_w=_number(details.get("cpu_tdp_w")),
            cpu_tdp_source=str(details.get("cpu_tdp_source", "unknown source")),
            cpu_idle_fraction=_number(details.get("cpu_idle_fraction")),
            memory_w_per_gb=_number(details.get("memory_w_per_gb")),
        )

    @property
    def memory_total_b(self) -> float:
        return float(self.info["memory_total_b"])

    @property
    def installed_memory_b(self) -> float:
        """The host's memory as recorded, 0 when it was not (for what a report says)."""
        return _float(self.info.get("memory_total_b"))

    @property
    def logical_cpus(self) -> int:
        return int(self.info.get("logical_cpus", 1))

    @property
    def cpu_model(self) -> str | None:
        model = self.info.get("cpu_model")
        return str(model) if model else None

    def summary(self) -> Iterator[tuple[str, str]]:
        """``(meter kind, domain name)`` of each domain, for a methods paragraph."""
        for meter in self.meter_list:
            for domain in meter.get("domains", []):
                yield str(meter.get("kind")), str(domain.get("name"))
