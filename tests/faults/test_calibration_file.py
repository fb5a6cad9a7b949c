"""A calibration file that cannot be right costs one logged line, never a run or a report."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest

from nipype_carbon.measure import calibration
from nipype_carbon.measure.calibration import (
    Calibration,
    load_calibrations,
    read_calibrations,
    save_calibration,
)
from nipype_carbon.measure.host import host_name
from nipype_carbon.record.runs import session_files, session_header
from nipype_carbon.report.model import build_report
from testkit.powercap import intel_server
from testkit.sessions import NodeSpec, build_session
from tests.faults.helpers import run_cli
from tests.plugin.workflows import burn_node, fast

GOOD = {
    "cpu_baseline_w": 61.2,
    "utilisation": 0.01,
    "seconds": 30.0,
    "measured": "x",
    "method": "rapl",
}
REDO = (
    "entry ignored: rerun `nipype-carbon doctor --calibrate 30` on that host, or delete the entry"
)
REDO_FILE = (
    "ignored: point NIPYPE_CARBON_CALIBRATION at a regular file (or move this one away), "
    "then rerun `nipype-carbon doctor --calibrate 30`"
)


@pytest.fixture(autouse=True)
def _warnings_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calibration, "_warned", set())


def _file(tmp_path: Path, hosts: object) -> Path:
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(hosts), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"cpu_baseline_w": "abc"},
            "cpu_baseline_w 'abc' is not a number of watts from 0 to 5,000",
        ),
        ({"cpu_baseline_w": -50}, "cpu_baseline_w -50 is not a number of watts from 0 to 5,000"),
        ({"cpu_baseline_w": 1e9}, "cpu_baseline_w 1000000000.0 is not a number of watts"),
        ({"cpu_baseline_w": float("nan")}, "cpu_baseline_w nan is not a number of watts"),
        ({"cpu_baseline_w": True}, "cpu_baseline_w True is not a number of watts"),
        ({}, "cpu_baseline_w None is not a number of watts"),
        ({**GOOD, "utilisation": 5}, "utilisation 5 is not a share from 0 to 1"),
        ({**GOOD, "seconds": float("inf")}, "seconds inf is not a duration over 0 s, up to a day"),
        ({**GOOD, "measured": 12}, "measured 12 is not a one-line text of at most 100 characters"),
        ({**GOOD, "method": "a\nb"}, "method 'a\\nb' is not a one-line text"),
        ("61.2", "the entry is str, not an object"),
    ],
)
def test_a_bad_entry_is_left_out_with_one_line_naming_file_host_field_and_fix(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, entry: object, problem: str
) -> None:
    path = _file(tmp_path, {"node1": entry, "node2": GOOD})
    with caplog.at_level(logging.WARNING, "nipype_carbon.measure.calibration"):
        assert load_calibrations(path) == {"node2": GOOD}
        assert load_calibrations(path) == {"node2": GOOD}  # warned once, not at every run
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith(f"nipype-carbon: calibration file {path}: host 'node1': {problem}")
    assert line.endswith(REDO) and "\n" not in line


def test_only_the_fields_doctor_writes_are_kept(tmp_path: Path) -> None:
    path = _file(tmp_path, {"node1": {**GOOD, "junk": "x" * 10_000}})
    assert load_calibrations(path) == {"node1": GOOD}


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda tmp: Path("/dev/zero"), "/dev/zero is a character device, not a regular file"),
        (lambda tmp: Path("/dev/full"), "/dev/full is a character device, not a regular file"),
        (lambda tmp: tmp, "is a folder, not a regular file"),
        (lambda tmp: _fifo(tmp), "is a named pipe, not a regular file"),
        (lambda tmp: _sized(tmp, 2 << 20), "is larger than 1 MB: not read"),
        (lambda tmp: _text(tmp, "{not json"), "is not JSON (Expecting property name"),
        (lambda tmp: _text(tmp, "[" * 100_000), "is not JSON (nested too deeply)"),
        (lambda tmp: _text(tmp, "[1, 2]"), "holds no object of hosts"),
        (lambda tmp: _text(tmp, '{"a": 1}', b"\xff"), "is not JSON ('utf-8' codec can't decode"),
    ],
)
def test_a_file_that_is_no_calibration_file_is_refused_at_once_in_one_line(
    tmp_path: Path, make, what: str
) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)
    started = time.monotonic()
    kept, problems = read_calibrations(path)
    assert time.monotonic() - started < 5.0  # never waited on, never read whole
    assert kept == {}
    [line] = problems
    assert line.startswith("calibration file ") and what in line, line
    assert line.endswith(REDO_FILE) and "\n" not in line


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "fifo")
    return tmp / "fifo"


def _sized(tmp: Path, size: int) -> Path:
    path = tmp / "big.json"
    with path.open("wb") as handle:
        handle.truncate(size)
    return path


def _text(tmp: Path, text: str, tail: bytes = b"") -> Path:
    path = tmp / "calibration.json"
    path.write_bytes(text.encode() + tail)
    return path


def test_a_missing_file_is_no_calibration_and_no_warning(tmp_path: Path) -> None:
    assert read_calibrations(tmp_path / "none.json") == ({}, [])


def test_save_replaces_a_planted_link_and_never_writes_through_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    target = tmp_path / "calibration.json"
    target.symlink_to(victim)
    save_calibration("node1", Calibration(**GOOD), target)
    assert victim.read_text() == "precious\n"
    assert not target.is_symlink() and json.loads(target.read_text()) == {"node1": GOOD}


def test_save_keeps_other_hosts_good_entries_and_drops_bad_ones(tmp_path: Path) -> None:
    path = _file(tmp_path, {"old": GOOD, "bad": {"cpu_baseline_w": "abc"}})
    save_calibration("node1", Calibration(**{**GOOD, "cpu_baseline_w": 40.0}), path)
    assert set(json.loads(path.read_text())) == {"old", "node1"}


def test_save_refuses_a_device_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        save_calibration("node1", Calibration(**GOOD), Path("/dev/full"))
    assert str(caught.value).startswith("/dev/full is a character device, not a calibration file")


# -- a run, and its report, with a bad calibration file --------------------------------------


def _bad_files(tmp: Path) -> dict[str, Path]:
    folder = tmp / "folder.json"
    folder.mkdir()
    abc = tmp / "abc.json"
    abc.write_text(json.dumps({host_name(): {"cpu_baseline_w": "abc"}}), encoding="utf-8")
    return {"device": Path("/dev/zero"), "folder": folder, "abc": abc}


@pytest.mark.parametrize("kind", ["device", "folder", "abc"])
def test_a_run_with_a_bad_calibration_file_completes_and_its_session_renders(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    path = _bad_files(tmp_path)[kind]
    monkeypatch.setenv("NIPYPE_CARBON_CALIBRATION", str(path))
    wf = fast(pe.Workflow("cal", base_dir=str(tmp_path)))
    wf.add_nodes([burn_node("b", 0.05)])
    with caplog.at_level(logging.WARNING, "nipype_carbon.measure.calibration"):
        wf.run(plugin="CarbonLinear")
    [warning] = [r.getMessage() for r in caplog.records if "calibration file" in r.getMessage()]
    assert str(path) in warning and "\n" not in warning
    [session] = session_files(tmp_path / "cal" / "carbon")
    assert session_header(session)["metadata"]["calibrations"] == {}  # nothing bad recorded
    status, out, err = run_cli("report", str(session))
    assert status == 0, err
    assert "Traceback" not in out + err and "cal.b" in out


@pytest.mark.parametrize("value", ["abc", -50, float("nan"), 1e9])
def test_an_older_session_holding_a_bad_calibration_renders_and_says_it_was_ignored(
    tmp_path: Path, value: object
) -> None:
    session = build_session([NodeSpec("n", 0.0, 10.0, 1.0, 11)], baseline_w=None)
    session.metadata["calibrations"] = {"h": {"cpu_baseline_w": value, "measured": "then"}}
    path = session.save(tmp_path / "session-old.jsonl")
    status, out, err = run_cli("report", str(path))
    assert status == 0, err
    assert "Traceback" not in out + err
    report = build_report(path)
    method = report.result.hosts["h"].baseline_method["synthetic:cpu"]
    assert "calibrated" not in method.split(" (recorded")[0], method
    assert method.endswith(
        f"(recorded calibration of h {value!r:.20} ignored: not a number of watts from 0 to 5,000)"
    )
    assert report.result.hosts["h"].baseline_power_w["synthetic:cpu"] >= 0


def test_a_good_calibration_in_a_session_is_still_used(tmp_path: Path) -> None:
    session = build_session([NodeSpec("n", 0.0, 10.0, 1.0, 11)], baseline_w=None)
    session.metadata["calibrations"] = {"h": {**GOOD, "cpu_baseline_w": 10.0, "measured": "then"}}
    report = build_report(session)
    assert report.result.hosts["h"].baseline_method["synthetic:cpu"].startswith("calibrated:")
    assert report.result.hosts["h"].baseline_power_w["synthetic:cpu"] == pytest.approx(10.0)


# -- doctor ----------------------------------------------------------------------------------


def _doctor(*args: str, calibration_file: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NIPYPE_CARBON_CALIBRATION": calibration_file}
    return subprocess.run(
        [sys.executable, "-m", "nipype_carbon", "doctor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_doctor_with_a_device_as_calibration_file_returns_promptly_and_says_so() -> None:
    done = _doctor(calibration_file="/dev/full")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "calibration file /dev/full is a character device, not a regular file" in done.stdout


@pytest.mark.parametrize("where", ["/dev/full", "folder"])
def test_doctor_calibrate_refuses_a_file_it_cannot_replace_before_measuring(
    tmp_path: Path, where: str
) -> None:
    intel_server(tmp_path / "powercap")
    target = tmp_path if where == "folder" else Path(where)
    started = time.monotonic()
    done = _doctor(
        "--powercap-root",
        str(tmp_path / "powercap"),
        "--calibrate",
        "30",
        calibration_file=str(target),
    )
    assert time.monotonic() - started < 30  # not the 30 s of measuring
    assert done.returncode == 2 and "Traceback" not in done.stderr
    kind = "a folder" if where == "folder" else "a character device"
    assert done.stderr == (
        f"nipype-carbon doctor: {target} is {kind}, not a calibration file: point "
        "NIPYPE_CARBON_CALIBRATION at a regular file (or move this one away), then rerun "
        "`nipype-carbon doctor --calibrate 30`\n"
    )
