"""A full or read-only carbon directory: nothing recorded is lost, nothing runs unmetered.

The carbon directory is a tiny tmpfs (mounted here: the tests need root and are
skipped, with the reason, where mounting is not allowed).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session, load_session
from nipype_carbon.record.settings import SettingsError
from tests.faults.helpers import run_cli
from tests.plugin.workflows import burn_node, fast


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount tmpfs folders (``size``, read-only or not); unmount them afterwards."""
    mounted: list[Path] = []

    def mount(size: str = "64k", read_only: bool = False) -> Path:
        target = tmp_path / f"fs{len(mounted)}"
        target.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(target)
        return target

    yield mount
    for target in reversed(mounted):
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(folder: Path, leave_b: int = 0) -> Path:
    """Fill a file system with a filler file, then free ``leave_b`` bytes of it."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as err:
        assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_b))
    return filler


def _record(name: str, payload: int = 5000) -> NodeRecord:  # more than a page
    return NodeRecord(name, "ran", 0.0, 1.0, "h", extra={"pad": "p" * payload})


def test_a_full_disk_leaves_no_partial_line_and_the_lines_follow_once_there_is_room(
    tmpfs,
) -> None:
    folder = tmpfs("64k")
    session = Session.create(folder / "session.jsonl", metadata={"workflow": "w"})
    filler = fill(folder)
    names = [f"n{i}" for i in range(5)]
    for name in names:
        session.add_node(_record(name))
    assert len(session.unwritten) == len(names)  # none fitted
    lines = (folder / "session.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["type"] == "header"  # nothing half-written

    filler.unlink()
    session.add_node(_record("last"))
    assert session.unwritten == []
    loaded = load_session(folder / "session.jsonl")
    assert list(loaded.nodes) == [*names, "last"] and loaded.damaged == []


def test_a_short_write_is_cut_back_to_the_last_whole_line(tmpfs) -> None:
    folder = tmpfs("64k")
    session = Session.create(folder / "session.jsonl")
    session.add_node(_record("first", 10))
    fill(folder, leave_b=1000)  # room for part of the next line only
    session.add_node(_record("big", 20000))
    text = (folder / "session.jsonl").read_text()
    assert text.endswith("\n") and len(text.splitlines()) == 2  # header, first
    assert load_session(folder / "session.jsonl").damaged == []


def test_a_damaged_line_left_by_an_older_writer_is_followed_by_a_new_line(tmp_path: Path) -> None:
    session = Session.create(tmp_path / "session.jsonl")
    with open(tmp_path / "session.jsonl", "a") as handle:
        handle.write('{"type": "node", "na')  # what a crash mid-write leaves
    session.add_node(_record("after", 10))
    loaded = load_session(tmp_path / "session.jsonl")
    assert loaded.damaged == [(2, "not JSON")] and list(loaded.nodes) == ["after"]


def test_a_run_on_a_full_carbon_dir_says_record_lost_never_cached(tmpfs, tmp_path: Path) -> None:
    carbon = tmpfs("64k")
    wf = fast(
        __import__("nipype.pipeline.engine", fromlist=["Workflow"]).Workflow(
            "full", base_dir=str(tmp_path)
        )
    )
    wf.add_nodes([burn_node(f"b{i}", 0.05) for i in range(3)])
    # room for the session header only: every node's spool record fails
    fill(carbon, leave_b=4096)
    wf.run(plugin="CarbonLinear", plugin_args={"carbon_dir": str(carbon)})
    ran = {p.parent.name for p in (tmp_path / "full").glob("*/result_*.pklz")}
    assert ran == {"b0", "b1", "b2"}

    session = load_session(carbon)
    statuses = {n: r.status for n, r in session.nodes.items() if not n.endswith("(scheduler)")}
    assert {n.split(".")[-1] for n in statuses} == ran  # every node that ran is named
    assert set(statuses.values()) <= {"ran", "lost"} and "lost" in statuses.values()
    status, out, err = run_cli("report", str(carbon))
    assert status == 0 and "Traceback" not in out + err
    assert "killed or with their record lost" in out


def test_a_read_only_carbon_dir_is_refused_before_any_node_runs(tmpfs, tmp_path: Path) -> None:
    carbon = tmpfs("64k", read_only=True)
    wf = fast(pe.Workflow("ro", base_dir=str(tmp_path)))
    wf.add_nodes([burn_node("b", 0.05)])
    with pytest.raises(SettingsError, match=r"not writable.*choose a writable carbon_dir"):
        wf.run(plugin="CarbonLinear", plugin_args={"carbon_dir": str(carbon / "sub")})
    assert not list((tmp_path / "ro").glob("*/result_*.pklz"))  # nothing ran


def test_records_a_full_disk_held_back_stay_in_the_spool_and_are_written_at_the_end(
    tmpfs,
) -> None:
    from nipype_carbon.record.recorder import RunRecorder
    from nipype_carbon.record.settings import CarbonSettings
    from nipype_carbon.record.spool import write_record

    carbon = tmpfs("256k")
    recorder = RunRecorder(CarbonSettings(), carbon, {"workflow": "w"})
    recorder.start()
    names = [f"w.n{i}" for i in range(3)]
    for name in names:
        write_record(recorder.spool_dir, _record(name))
    filler = fill(carbon)
    recorder.drain()  # the session file cannot take them: they must not leave the spool
    assert len(list(recorder.spool_dir.glob("*.node.json"))) == len(names)
    assert len(recorder.path.read_text().splitlines()) == 1  # the header, nothing half-written
    filler.unlink()
    recorder.finish()
    session = load_session(recorder.path, spool=False)
    assert [n for n in session.nodes if n in names] == names
    assert session.status == "complete" and not recorder.spool_dir.exists()
