"""One run, one file; "the" run of a folder is the one that started last."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nipype.pipeline.engine as pe

from nipype_carbon.record.reader import load_session
from nipype_carbon.record.recorder import RunRecorder
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.runs import session_files
from nipype_carbon.record.settings import CarbonSettings
from nipype_carbon.record.spool import write_record
from tests.faults.helpers import run_cli
from tests.plugin.workflows import burn_node, fast


def test_two_recorders_in_the_same_second_write_two_files(tmp_path: Path) -> None:
    settings = CarbonSettings()
    first = RunRecorder(settings, tmp_path, {"workflow": "one"})
    second = RunRecorder(settings, tmp_path, {"workflow": "two"})
    assert first.path == second.path  # the same name is free for both until one takes it
    for recorder in (first, second):
        recorder.start()
    assert first.path != second.path and first.spool_dir != second.spool_dir
    for recorder, name in ((first, "one.a"), (second, "two.a")):
        write_record(recorder.context.spool_dir, NodeRecord(name, "ran", 0.0, 1.0, "h"))
        recorder.finish()
    one, two = load_session(first.path), load_session(second.path)
    assert (one.metadata["workflow"], two.metadata["workflow"]) == ("one", "two")
    assert "one.a" in one.nodes and "two.a" not in one.nodes
    assert "two.a" in two.nodes and "one.a" not in two.nodes


def _header(path: Path, start: float) -> None:
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["metadata"]["start"] = start
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")


def test_the_newest_run_is_chosen_by_recorded_start_not_file_time(tmp_path: Path) -> None:
    settings = CarbonSettings()
    paths = []
    for name in ("older", "newer"):
        recorder = RunRecorder(settings, tmp_path, {"workflow": name})
        recorder.start()
        recorder.finish()
        paths.append(recorder.path)
    older, newer = paths
    _header(older, 1_000.0)
    _header(newer, 2_000.0)
    now = time.time()
    os.utime(older, (now + 60, now + 60))  # as `collect` on the older run would leave it
    assert session_files(tmp_path) == [older, newer]
    status, out, err = run_cli("report", str(tmp_path))
    assert status == 0, err
    assert f"session: {newer}" in out
    assert f"1 other run(s) in {tmp_path}: {older.name}" in err


def test_report_finds_the_carbon_directory_below_a_base_dir(tmp_path: Path) -> None:
    wf = fast(pe.Workflow("below", base_dir=str(tmp_path / "work")))
    wf.add_nodes([burn_node("b", 0.05)])
    wf.run(plugin="CarbonLinear")
    status, out, err = run_cli("report", str(tmp_path))
    assert status == 0, err
    assert f"carbon directory {tmp_path / 'work' / 'below' / 'carbon'}" in err
    assert "below.b" in out


def test_report_lists_the_carbon_directories_when_there_are_several(tmp_path: Path) -> None:
    for name in ("first", "second"):
        recorder = RunRecorder(CarbonSettings(), tmp_path / name / "carbon", {"workflow": name})
        recorder.start()
        recorder.finish()
    status, _, err = run_cli("report", str(tmp_path))
    assert status == 2
    assert "2 carbon directories below" in err
    assert str(tmp_path / "first" / "carbon") in err and str(tmp_path / "second" / "carbon") in err


def test_collect_names_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    status, _, err = run_cli("collect", str(tmp_path / "nonexistent"))
    assert status == 2 and "does not exist" in err and "\n" not in err.strip()
