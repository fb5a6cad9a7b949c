"""Checks on what a session file holds, line by line, before anything is computed from it.

A session is read from disk, perhaps written by another version, edited by hand
or damaged. Each parsed line is checked here: the types of its fields, numbers
that are finite and in range (times are epoch seconds up to :data:`MAX_TIME_S`,
amounts are not negative), baselines that are not negative. A line that fails
raises :class:`LineError` naming the field, and the session loader skips it and
names it with the file and line number. One bad reading spoils only itself: an
energy reading outside its counter's range (a counter that jumped) or a power
reading no hardware gives is left out of its column (``None``, as a reading a
meter could not take), and a note naming it is added to ``notes``.

Examples
--------
>>> node_record({"name": "a", "status": "ran", "start": 0, "end": 1, "host": "h"}).status
'ran'
>>> node_record({"name": "a", "status": "ran", "start": "noon", "end": 1, "host": "h"})
Traceback (most recent call last):
...
nipype_carbon.record.validate.LineError: field 'start' must be a number, got 'noon'
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.record.records import STATUSES, HostRecord, NodeRecord
from nipype_carbon.record.settings import IDLE_MODES, RANGES, SettingsError, check_number

#: sample columns every measurement holds (numbers, one per sample)
SAMPLE_COLUMNS = ("t", "cpu_s", "rss_b", "host_busy_cpu_s", "host_mem_b")
#: the latest time a session may hold, epoch seconds (the year 2286): later is damage
MAX_TIME_S = 1e10
#: the most any amount in a session may be (bytes, CPU-seconds): more is damage
MAX_AMOUNT = 2.0**62
#: the most power a power reading may show, in watts (no node draws a megawatt)
MAX_POWER_W = 1e6


class LineError(NipypeCarbonError, ValueError):
    """A line of a session whose content cannot be used; the message names the field."""


def _number(
    value: Any, name: str, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LineError(f"field {name!r} must be a number, got {value!r:.60}")
    if not math.isfinite(value):
        raise LineError(f"field {name!r} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise LineError(f"field {name!r} must be >= {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise LineError(f"field {name!r} must be <= {maximum:g}, got {value!r}")
    return float(value)


def _time(value: Any, name: str) -> float:
    """Epoch seconds (or seconds from 0 in a synthetic session), up to :data:`MAX_TIME_S`."""
    return _number(value, name, minimum=0.0, maximum=MAX_TIME_S)


def _numbers(
    values: list[Any], name: str, minimum: float | None = None, maximum: float | None = None
) -> None:
    """Every value a finite number in range: checked at C speed, value by value only to
    name a bad one."""
    if values and set(map(type, values)) <= {int, float}:
        try:
            low, high = min(values), max(values)
            if (
                math.isfinite(math.fsum(values))
                and (minimum is None or low >= minimum)
                and (maximum is None or high <= maximum)
            ):
                return
        except OverflowError:
            pass
    for value in values:
        _number(value, name, minimum, maximum)
    # finite values whose sum overflows are fine


def _typed(value: Any, name: str, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool):
        raise LineError(f"field {name!r} must be {what}, got {value!r:.60}")
    return value


def _fields(line: dict[str, Any], record: type) -> dict[str, Any]:
    known = {f.name for f in dataclasses.fields(record)}
    data = {k: v for k, v in line.items() if k != "type"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise LineError(f"unknown field(s) {unknown} in a {record.__name__}")
    return data


def check_header(header: Any) -> None:
    """The header's fields: metadata and settings objects, a creation time."""
    if "metadata" in header:
        _typed(header["metadata"], "metadata", dict, "an object")
        if "start" in header["metadata"]:
            _time(header["metadata"]["start"], "metadata.start")
    if "settings" in header:
        settings = _typed(header["settings"], "settings", dict, "an object")
        for key in RANGES:
            if settings.get(key) is not None:
                try:
                    check_number(f"settings.{key}", settings[key], key)
                except SettingsError as err:
                    raise LineError(f"field {err}") from None
        for key in ("region", "idle", "carbon_dir", "powercap_root"):
            if settings.get(key) is not None:
                _typed(settings[key], f"settings.{key}", str, "a string or null")
        if settings.get("idle") is not None and settings["idle"] not in IDLE_MODES:
            raise LineError(f"field 'settings.idle' must be one of {IDLE_MODES}")
    if "created" in header:
        _time(header["created"], "created")
    if "tool" in header:
        _typed(header["tool"], "tool", dict, "an object")


def node_record(
    line: Any, statuses: tuple[str, ...] = STATUSES, notes: list[str] | None = None
) -> NodeRecord:
    """A node line as a record, or :class:`LineError` naming the field that is wrong;
    readings left out of its measurement are named in ``notes``."""
    _typed(line, "record", dict, "an object")
    data = _fields(line, NodeRecord)
    for name in ("name", "status", "start", "end", "host"):
        if name not in data:
            raise LineError(f"field {name!r} is missing")
    _typed(data["name"], "name", str, "a string")
    if data["status"] not in statuses:
        raise LineError(f"field 'status' must be one of {statuses}, got {data['status']!r:.40}")
    _time(data["start"], "start")
    _time(data["end"], "end")
    if data["end"] < data["start"]:
        raise LineError(f"field 'end' ({data['end']!r}) is before 'start' ({data['start']!r})")
    _typed(data["host"], "host", str, "a string")
    for name in ("interface", "workflow"):
        _typed(data.get(name, ""), name, str, "a string")
    _typed(data.get("extra", {}), "extra", dict, "an object")
    if data.get("error") is not None:
        _typed(data["error"], "error", str, "a string or null")
    if data.get("measurement") is not None:
        check_measurement(data["measurement"], notes)
    return NodeRecord(**data)


#: per measurement field: its range (times, then amounts)
_MEASUREMENT_RANGES = {
    "start": (0.0, MAX_TIME_S),
    "end": (0.0, MAX_TIME_S),
    "cpu_s": (0.0, MAX_AMOUNT),
    "meter_cpu_s": (0.0, MAX_AMOUNT),
    "own_cpu_s": (0.0, MAX_AMOUNT),
    "inherited_cpu_s": (0.0, MAX_AMOUNT),
    "peak_rss_b": (0.0, MAX_AMOUNT),
    "sample_interval_s": (0.0, 1e6),
}
#: per sample column: its range
_COLUMN_RANGES = {
    "t": (0.0, MAX_TIME_S),
    "cpu_s": (0.0, MAX_AMOUNT),
    "rss_b": (0.0, MAX_AMOUNT),
    "host_busy_cpu_s": (0.0, MAX_AMOUNT),
    "host_mem_b": (0.0, MAX_AMOUNT),
}


def check_measurement(m: Any, notes: list[str] | None = None) -> None:
    """A node's raw measurement: numbers finite and in range, sample columns lists of one
    value per sample; readings out of their domain's range left out (see the module)."""
    _typed(m, "measurement", dict, "an object or null")
    for name, (low, high) in _MEASUREMENT_RANGES.items():
        if name in m:
            _number(m[name], f"measurement.{name}", low, high)
    host = _typed(m.get("host"), "measurement.host", dict, "an object")
    _typed(host.get("name"), "measurement.host.name", str, "a string")
    _typed(m.get("meters", {}), "measurement.meters", dict, "an object")
    _baseline(m.get("baseline_power_w", {}), "measurement.baseline_power_w")
    samples = _typed(m.get("samples"), "measurement.samples", dict, "an object")
    for name in SAMPLE_COLUMNS:
        column = _typed(samples.get(name), f"measurement.samples.{name}", list, "a list")
        _numbers(column, f"measurement.samples.{name}", *_COLUMN_RANGES[name])
    rows = len(samples["t"])
    for group in ("domains", "gpu"):
        columns = _typed(samples.get(group, {}), f"measurement.samples.{group}", dict, "an object")
        for name, column in columns.items():
            _typed(column, f"measurement.samples.{group}.{name}", list, "a list")
    lengths = {name: len(samples[name]) for name in SAMPLE_COLUMNS}
    lengths.update({f"domains.{k}": len(v) for k, v in samples.get("domains", {}).items()})
    lengths.update({f"gpu.{k}": len(v) for k, v in samples.get("gpu", {}).items()})
    uneven = sorted(k for k, n in lengths.items() if n != rows)
    if uneven:
        raise LineError(
            f"field 'measurement.samples': column(s) {uneven} do not have one value per "
            f"sample time ({rows})"
        )
    _readings(m, notes if notes is not None else [])


def _baseline(values: Any, name: str) -> None:
    _typed(values, name, dict, "an object")
    for domain, watts in values.items():
        _number(watts, f"{name}.{domain}", minimum=0)


def _readings(m: dict[str, Any], notes: list[str]) -> None:
    """Each meter reading a number or None; one outside what its domain can read (a counter
    beyond its range or below zero, power below zero or above :data:`MAX_POWER_W`) is left
    out (None) and named in ``notes``. A counter that falls is the timeline's to judge (a
    wrap, a reset), not a damaged line."""
    ranges: dict[str, tuple[float, float]] = {}
    meters = _typed(m["meters"].get("meters", []), "measurement.meters.meters", list, "a list")
    for meter in meters:
        meter = _typed(meter, "measurement.meters.meters[]", dict, "an object")
        domains = _typed(meter.get("domains", []), "measurement.meters.domains", list, "a list")
        for domain in domains:
            domain = _typed(domain, "measurement.meters.domains[]", dict, "an object")
            wrap = domain.get("wrap_j")
            if wrap is not None:
                _number(wrap, "measurement.meters.domains[].wrap_j", minimum=0)
            high = wrap * (1 + 1e-9) if wrap else MAX_AMOUNT
            if domain.get("kind") == "power":
                high = MAX_POWER_W
            ranges[str(domain.get("name"))] = (-1e-9, high)
    for name, column in m["samples"].get("domains", {}).items():
        field = f"measurement.samples.domains.{name}"
        _typed(column, field, list, "a list")
        _numbers([v for v in column if v is not None], field)
        low, high = ranges.get(name, (-1e-9, MAX_AMOUNT))
        bad = [i for i, v in enumerate(column) if v is not None and not low <= v <= high]
        if not bad:
            continue
        notes.append(
            f"{field} reads {column[bad[0]]:g} ({len(bad)} reading(s)), outside its range "
            f"0-{high:g}: left out"
        )
        for i in bad:
            column[i] = None


def host_record(line: dict[str, Any]) -> HostRecord:
    """A host line as a record, or :class:`LineError`."""
    data = _fields(line, HostRecord)
    _typed(data.get("name"), "name", str, "a string")
    info = _typed(data.get("info"), "info", dict, "an object")
    if "memory_total_b" in info:
        _number(info["memory_total_b"], "info.memory_total_b", minimum=1)
    if "logical_cpus" in info:
        _number(info["logical_cpus"], "info.logical_cpus", minimum=1)
    _typed(data.get("meters"), "meters", dict, "an object")
    _baseline(data.get("baseline_power_w", {}), "baseline_power_w")
    return HostRecord(**data)


def edge_pairs(line: dict[str, Any]) -> list[tuple[str, str]]:
    """An edges line as pairs of record names, or :class:`LineError`."""
    edges = _typed(line.get("edges"), "edges", list, "a list of [from, to] pairs")
    pairs = []
    for edge in edges:
        pair = isinstance(edge, list) and len(edge) == 2
        if not (pair and all(isinstance(e, str) for e in edge)):
            raise LineError(f"field 'edges' must hold [from, to] name pairs, got {edge!r:.60}")
        pairs.append((edge[0], edge[1]))
    return pairs


def event(line: dict[str, Any]) -> dict[str, Any]:
    """An event line (``kind``, ``time``, data), or :class:`LineError`."""
    _typed(line.get("kind"), "kind", str, "a string")
    _number(line.get("time"), "time")
    return {k: v for k, v in line.items() if k != "type"}
