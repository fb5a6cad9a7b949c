"""Checks on what a session file holds, line by line, before anything is computed from it.

A session is read from disk, perhaps written by another version, edited by hand
or damaged. Each parsed line is checked here: the types of its fields, numbers
that are finite, baselines that are not negative, energy counters that never go
backwards except by a wrap. A line that fails raises :class:`LineError` naming
the field, and the session loader adds the file and line number.

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
import itertools
import math
from typing import Any

from nipype_carbon.record.records import STATUSES, HostRecord, NodeRecord
from nipype_carbon.record.settings import IDLE_MODES, RANGES, SettingsError, check_number

#: sample columns every measurement holds (numbers, one per sample)
SAMPLE_COLUMNS = ("t", "cpu_s", "rss_b", "host_busy_cpu_s", "host_mem_b")


class LineError(ValueError):
    """A line of a session whose content cannot be used; the message names the field."""


def _number(value: Any, name: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LineError(f"field {name!r} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise LineError(f"field {name!r} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise LineError(f"field {name!r} must be >= {minimum:g}, got {value!r}")
    return float(value)


def _numbers(values: list[Any], name: str) -> None:
    """Every value a finite number: checked at C speed, value by value only to name a bad one."""
    if set(map(type, values)) <= {int, float}:
        try:
            if math.isfinite(math.fsum(values)):
                return
        except OverflowError:
            pass
    for value in values:
        _number(value, name)
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
            _number(header["metadata"]["start"], "metadata.start")
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
        _number(header["created"], "created")
    if "tool" in header:
        _typed(header["tool"], "tool", dict, "an object")


def node_record(line: dict[str, Any]) -> NodeRecord:
    """A node line as a record, or :class:`LineError` naming the field that is wrong."""
    data = _fields(line, NodeRecord)
    for name in ("name", "status", "start", "end", "host"):
        if name not in data:
            raise LineError(f"field {name!r} is missing")
    _typed(data["name"], "name", str, "a string")
    if data["status"] not in STATUSES:
        raise LineError(f"field 'status' must be one of {STATUSES}, got {data['status']!r:.40}")
    _number(data["start"], "start")
    _number(data["end"], "end")
    _typed(data["host"], "host", str, "a string")
    for name in ("interface", "workflow"):
        _typed(data.get(name, ""), name, str, "a string")
    _typed(data.get("extra", {}), "extra", dict, "an object")
    if data.get("error") is not None:
        _typed(data["error"], "error", str, "a string or null")
    if data.get("measurement") is not None:
        check_measurement(data["measurement"])
    return NodeRecord(**data)


def check_measurement(m: Any) -> None:
    """A node's raw measurement: numbers finite, sample columns lists, counters increasing."""
    _typed(m, "measurement", dict, "an object or null")
    for name in ("start", "end", "cpu_s", "peak_rss_b", "sample_interval_s"):
        if name in m:
            _number(m[name], f"measurement.{name}", minimum=0 if name != "start" else None)
    host = _typed(m.get("host"), "measurement.host", dict, "an object")
    _typed(host.get("name"), "measurement.host.name", str, "a string")
    _typed(m.get("meters", {}), "measurement.meters", dict, "an object")
    _baseline(m.get("baseline_power_w", {}), "measurement.baseline_power_w")
    samples = _typed(m.get("samples"), "measurement.samples", dict, "an object")
    for name in SAMPLE_COLUMNS:
        column = _typed(samples.get(name), f"measurement.samples.{name}", list, "a list")
        _numbers(column, f"measurement.samples.{name}")
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
    _counters(m)


def _baseline(values: Any, name: str) -> None:
    _typed(values, name, dict, "an object")
    for domain, watts in values.items():
        _number(watts, f"{name}.{domain}", minimum=0)


def _counters(m: dict[str, Any]) -> None:
    """Energy counters stay in their range, and go backwards only if they have one (a wrap)."""
    wraps: dict[str, float | None] = {}
    meters = _typed(m["meters"].get("meters", []), "measurement.meters.meters", list, "a list")
    for meter in meters:
        meter = _typed(meter, "measurement.meters.meters[]", dict, "an object")
        domains = _typed(meter.get("domains", []), "measurement.meters.domains", list, "a list")
        for domain in domains:
            domain = _typed(domain, "measurement.meters.domains[]", dict, "an object")
            wrap = domain.get("wrap_j")
            if wrap is not None:
                _number(wrap, "measurement.meters.domains[].wrap_j", minimum=0)
            if domain.get("kind") == "counter":
                wraps[str(domain.get("name"))] = wrap
    for name, column in m["samples"].get("domains", {}).items():
        field = f"measurement.samples.domains.{name}"
        _typed(column, field, list, "a list")
        values = [v for v in column if v is not None]
        _numbers(values, field)
        if name not in wraps:
            continue
        wrap = wraps[name]
        if wrap:
            outside = [v for v in values if not -1e-9 <= v <= wrap * (1 + 1e-9)]
            if outside:
                raise LineError(
                    f"field {field!r}: counter reads {outside[0]:g}, outside its range 0-{wrap:g}"
                )
            continue
        for before, after in itertools.pairwise(values):
            if after < before:
                raise LineError(
                    f"field {field!r}: counter decreases from {before:g} to {after:g}, "
                    "and it has no range to wrap at"
                )


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
