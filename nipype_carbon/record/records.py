"""The record types of a session: one node's record, one host's record.

A :class:`NodeRecord` holds what the engine knows of a unit of work (name,
interface, status) and, for a node that ran, the raw
:class:`~nipype_carbon.measure.measurement.Measurement` its node meter took.
A :class:`HostRecord` holds a host's facts and meters. Both are plain data,
written and read by :mod:`nipype_carbon.record.session`.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field, fields
from typing import Any

from nipype_carbon.measure.measurement import Measurement

#: a node's status in a session: ``ran``, ``cached`` (an earlier run's result reused),
#: ``failed``, ``skipped`` (not run because a node before it failed), ``killed`` (its
#: process ended before the node did) and ``lost`` (it ran, but its record never arrived)
#: the ``kind`` of the scheduler's own record: the engine's work, not a node of the workflow
ORCHESTRATION = "orchestration"
STATUSES = ("ran", "cached", "failed", "skipped", "killed", "lost")
#: the status of a provisional record in the spool, replaced when the node ends
RUNNING = "running"


@dataclass
class NodeRecord:
    """One unit of work: what the engine knows, and what the node meter measured."""

    name: str
    status: str
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
    """A host the run used, its meters and any baseline power known for it."""

    name: str
    info: dict[str, Any]
    meters: dict[str, Any]
    baseline_power_w: dict[str, float] = field(default_factory=dict)
