"""Damaged and malformed session files through every command, in-process.

Each case edits one field of a valid session (built by the public API) into
something a session never holds. A damaged header (or a file that is no session) is
refused by every command: one line, exit 2, no traceback. A damaged line after it
spoils only itself: every command still renders the run, and the report names the
line and the field (the line skipped, or the one reading left out).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.spool import write_record
from testkit.sessions import NodeSpec, build_session
from tests.faults.helpers import run_cli

Lines = list[dict[str, Any]]


def valid_lines() -> Lines:
    session = build_session(
        [NodeSpec("wf.a", 0.0, 4.0, 1.0, 5), NodeSpec("wf.b", 1.0, 4.0, 0.5, 5)]
    )
    session.add_edges([("wf.a", "wf.b")])
    session.created = 1.8e9
    session.events[-1]["time"] = 1.8e9
    return [json.loads(json.dumps(line)) for line in session._lines()]


def _node(lines: Lines) -> dict[str, Any]:
    return next(line for line in lines if line["type"] == "node")


def _set(path: str, value: Any, kind: str = "node") -> Callable[[Lines], None]:
    """Set a dotted field of the first line of ``kind``."""

    def edit(lines: Lines) -> None:
        line = next(line for line in lines if line["type"] == kind)
        *parents, last = path.split(".")
        for key in parents:
            line = line[key]
        if value is _DELETE:
            del line[last]
        else:
            line[last] = value

    return edit


_DELETE = object()


def _decreasing(lines: Lines) -> None:
    """10 J backwards on a counter that has no range to wrap at."""
    node = _node(lines)
    node["measurement"]["meters"]["meters"][0]["domains"][0]["wrap_j"] = None
    column = node["measurement"]["samples"]["domains"]["synthetic:cpu"]
    column[2] = column[1] - 10.0


def _beyond_range(lines: Lines) -> None:
    """A reading above the counter's range (1e6 J): no counter can read that."""
    _node(lines)["measurement"]["samples"]["domains"]["synthetic:cpu"][1] = 1e15


def _shorter(*column: str) -> Callable[[Lines], None]:
    """Drop the last value of one sample column of the first node."""

    def edit(lines: Lines) -> None:
        samples = _node(lines)["measurement"]["samples"]
        for key in column:
            samples = samples[key]
        samples.pop()

    return edit


#: (name, edit, what the message must say): the header, refused
HEADER_CASES: list[tuple[str, Callable[[Lines], None], str]] = [
    ("metadata a list", _set("metadata", [1, 2], "header"), "line 1: field 'metadata'"),
    ("settings a string", _set("settings", "x", "header"), "line 1: field 'settings'"),
    ("schema_version 0", _set("schema_version", 0, "header"), "schema_version"),
    ("schema_version -1", _set("schema_version", -1, "header"), "schema_version"),
    ("schema_version true", _set("schema_version", True, "header"), "schema_version"),
    ("pue infinite", _set("settings.pue", float("inf"), "header"), "settings.pue must be"),
    ("intensity NaN", _set("settings.intensity_g_per_kwh", float("nan"), "header"), "intensity"),
    ("region a number", _set("settings.region", 5, "header"), "field 'settings.region'"),
    ("idle unknown", _set("settings.idle", "bogus", "header"), "field 'settings.idle'"),
    ("created a word", _set("created", "yesterday", "header"), "field 'created'"),
    ("created far ahead", _set("created", 1e308, "header"), "field 'created' must be <="),
    ("tool a list", _set("tool", [], "header"), "field 'tool'"),
]

#: (name, edit, what the report must say of the line): a line after the header, skipped
CASES: list[tuple[str, Callable[[Lines], None], str]] = [
    ("start noon", _set("start", "noon"), "field 'start' must be a number"),
    ("start null", _set("start", None), "field 'start' must be a number"),
    ("end NaN", _set("end", float("nan")), "field 'end' must be a finite number"),
    ("samples missing", _set("measurement.samples", _DELETE), "field 'measurement.samples'"),
    ("samples null", _set("measurement.samples", None), "field 'measurement.samples'"),
    ("measurement a string", _set("measurement", "lots"), "field 'measurement'"),
    ("a sample column null", _set("measurement.samples.t", None), "measurement.samples.t"),
    ("a sample a string", _set("measurement.samples.cpu_s", ["1", 2]), "measurement.samples.cpu_s"),
    ("cpu_s infinite", _set("measurement.cpu_s", float("inf")), "measurement.cpu_s"),
    ("negative cpu_s", _set("measurement.cpu_s", -3.0), "measurement.cpu_s' must be >= 0"),
    ("end far ahead", _set("end", 1e308), "field 'end' must be <= 1e+10"),
    ("end before start", _set("end", -1.0), "field 'end' must be >= 0"),
    ("negative baseline", _set("baseline_power_w.synthetic:cpu", -50.0, "host"), "baseline"),
    ("host info a list", _set("info", [], "host"), "field 'info'"),
    ("status unknown", _set("status", "exploded"), "field 'status' must be one of"),
    ("name a number", _set("name", 7), "field 'name' must be a string"),
    ("extra a list", _set("extra", []), "field 'extra'"),
    ("unknown field", _set("colour", "red"), "unknown field(s) ['colour']"),
    ("edges not pairs", _set("edges", [["a"]], "edges"), "field 'edges'"),
    ("event time a string", _set("time", "now", "event"), "field 'time'"),
    ("uneven columns", _shorter("t"), "do not have one value per sample time"),
    ("a domain column short", _shorter("domains", "synthetic:cpu"), "['domains.synthetic:cpu']"),
    ("meters a number", _set("measurement.meters.meters", 5), "measurement.meters.meters"),
    ("baseline a word", _set("measurement.baseline_power_w", {"x": "y"}), "baseline_power_w.x"),
]

#: raw files, not edits of a valid session
RAW = [
    ("empty", "", "empty"),
    ("not JSON", "hello\n", "not a nipype-carbon session"),
    ("binary", "\x00\xff\xfe garbage", "not a nipype-carbon session"),
    ("a JSON string", '"session"\n', "not a nipype-carbon session"),
    ("deep nesting", "[" * 100_000 + "\n", "not a nipype-carbon session"),
]


def _write(folder: Path, text: str) -> Path:
    carbon = folder / "carbon"
    carbon.mkdir(parents=True)
    path = carbon / "session-20260101T000000-1.jsonl"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    # a record waiting in the spool, so that `collect` reads the session too
    write_record(path.with_suffix(".spool"), NodeRecord("wf.late", "ran", 0.0, 1.0, "h"))
    return path


def _commands(path: Path, out: Path) -> list[list[str]]:
    return [
        ["report", str(path)],
        ["report", str(path.parent)],
        *(
            ["report", str(path), "-o", str(out / f"r.{ext}")]
            for ext in ("json", "csv", "md", "html")
        ),
        ["graph", str(path), "-o", str(out / "g.dot")],
        ["compare", str(path), str(path)],
        ["collect", str(path.parent)],
    ]


def _assert_refused(path: Path, out: Path, expected: str) -> None:
    for command in _commands(path, out):
        status, stdout, stderr = run_cli(*command)
        assert "Traceback" not in stdout + stderr, command
        assert status == 2, (command, stdout, stderr)
        message = stderr.strip()
        assert "\n" not in message and message.startswith(f"nipype-carbon {command[0]}: ")
        assert expected in message, (command, message)


def _changed_line(lines: Lines, fresh: Lines) -> int:
    pairs = zip(lines, fresh, strict=True)
    (changed,) = [i for i, (a, b) in enumerate(pairs, 1) if json.dumps(a) != json.dumps(b)]
    return changed


@pytest.mark.parametrize(
    ("name", "edit", "expected"), HEADER_CASES, ids=[c[0] for c in HEADER_CASES]
)
def test_a_malformed_header_is_refused_by_every_command_naming_line_and_field(
    tmp_path: Path, name: str, edit: Callable[[Lines], None], expected: str
) -> None:
    lines, fresh = valid_lines(), valid_lines()
    edit(lines)
    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in lines))
    _assert_refused(path, tmp_path, expected)
    assert _changed_line(lines, fresh) == 1


def _assert_rendered(path: Path, out: Path) -> None:
    for command in _commands(path, out):
        status, stdout, stderr = run_cli(*command)
        assert "Traceback" not in stdout + stderr, command
        assert status == 0, (command, stdout, stderr)


@pytest.mark.parametrize(("name", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_line_spoils_only_itself_and_every_format_names_it(
    tmp_path: Path, name: str, edit: Callable[[Lines], None], expected: str
) -> None:
    lines, fresh = valid_lines(), valid_lines()
    edit(lines)
    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in lines))
    _assert_rendered(path, tmp_path)
    said = f"line {_changed_line(lines, fresh)}: "
    status, out, _ = run_cli("report", str(path))
    head = out.splitlines()[0]
    assert status == 0 and head.startswith("Run") and said in head and expected in head
    notes = json.loads((tmp_path / "r.json").read_text())["totals"]["run_notes"]
    assert any(said in note and expected in note for note in notes)
    for ext in ("md", "html"):
        text = (tmp_path / f"r.{ext}").read_text()
        assert said in text, ext


def test_one_counter_reading_beyond_its_range_is_left_out_and_named(tmp_path: Path) -> None:
    """A counter that jumped past its range (1e6 J) in one reading: that reading goes, the
    rest of the node's measurement stays."""
    lines, fresh = valid_lines(), valid_lines()
    _beyond_range(lines)
    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in lines))
    _assert_rendered(path, tmp_path)
    _, out, _ = run_cli("report", str(path))
    line = _changed_line(lines, fresh)
    assert f"1 value(s) left out (line {line}: " in out.splitlines()[0]
    assert "reads 1e+15 (1 reading(s)), outside its range 0-1e+06: left out" in out
    from nipype_carbon.record.reader import load_session

    session, control = load_session(path), load_session(_write(tmp_path / "c", _text(fresh)))
    assert set(session.nodes) == set(control.nodes)  # no node lost
    kept = session.nodes["wf.a"].measurement["samples"]["domains"]["synthetic:cpu"]  # type: ignore[index]
    assert kept[1] is None and kept[0] is not None


def _text(lines: Lines) -> str:
    return "".join(json.dumps(line) + "\n" for line in lines)


@pytest.mark.parametrize(("name", "text", "expected"), RAW, ids=[r[0] for r in RAW])
def test_a_file_that_is_no_session_is_refused_by_every_command(
    tmp_path: Path, name: str, text: str, expected: str
) -> None:
    _assert_refused(_write(tmp_path, text), tmp_path, expected)


def test_what_loading_does_not_foresee_is_still_one_line_without_traceback(
    tmp_path: Path,
) -> None:
    """A host without its memory size passes the checks; attribution needs it."""
    lines = valid_lines()
    _set("info.memory_total_b", _DELETE, "host")(lines)
    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in lines))
    for command in _commands(path, tmp_path)[:-1]:  # collect needs no attribution
        status, stdout, stderr = run_cli(*command)
        assert status == 2 and "Traceback" not in stdout + stderr
        assert stderr.count("\n") == 1 and "KeyError: 'memory_total_b'" in stderr


def test_a_valid_session_passes_every_command(tmp_path: Path) -> None:
    """The control: the same commands on the unedited session succeed."""
    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in valid_lines()))
    for command in _commands(path, tmp_path):
        status, _, stderr = run_cli(*command)
        assert status == 0, (command, stderr)


def test_json_output_is_strict_when_a_figure_is_not_finite(tmp_path: Path) -> None:
    """Loading refuses non-finite input; a figure that still overflows is written null."""
    from nipype_carbon.report.formats import render_json
    from nipype_carbon.report.model import build_report

    path = _write(tmp_path, "".join(json.dumps(line) + "\n" for line in valid_lines()))
    report = build_report(path)
    report.totals.emissions_g = float("inf")  # as a huge energy times intensity would give
    report.nodes.loc[0, "energy_j"] = float("nan")
    data = json.loads(
        render_json(report), parse_constant=lambda c: pytest.fail(f"non-strict JSON: {c}")
    )
    assert data["totals"]["emissions_g"] is None and data["nodes"][0]["energy_j"] is None
    assert sorted(data["totals"]["non_finite"]) == ["nodes[0].energy_j", "totals.emissions_g"]
