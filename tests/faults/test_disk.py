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

from nipype_carbon.record.reader import load_session
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
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


def _stays_unwritable(how: str, carbon: Path) -> Callable[[object, str], None]:
    """A status callback that, as the first node starts, fills the carbon directory's file
    system (leaving no room) or remounts it read-only, for the rest of the run."""
    done: list[bool] = []

    def on_status(_node: object, status: str) -> None:
        if status != "start" or done:
            return
        done.append(True)
        if how == "full":
            fill(carbon)
        else:
            subprocess.run(["mount", "-o", "remount,ro", str(carbon)], check=True)

    return on_status


@pytest.mark.parametrize("how", ["full", "read-only"])
def test_a_run_whose_carbon_dir_stays_unwritable_loses_no_node_record(
    tmpfs, tmp_path: Path, how: str
) -> None:
    carbon = tmpfs("256k")
    wf = fast(pe.Workflow("full", base_dir=str(tmp_path)))
    wf.add_nodes([burn_node(f"b{i}", 0.05) for i in range(8)])
    wf.run(
        plugin="CarbonMultiProc",
        plugin_args={
            "n_procs": 2,
            "carbon_dir": str(carbon),
            "status_callback": _stays_unwritable(how, carbon),
        },
    )
    ran = {p.parent.name for p in (tmp_path / "full").glob("*/result_*.pklz")}
    assert len(ran) == 8  # nipype's own results: the truth of what ran

    # most records never reached the carbon directory; a report of it has every node all the same
    on_disk = load_session(carbon, spool=False)
    assert len(on_disk.nodes) < 8 and on_disk.end_event is None
    session = load_session(carbon)
    nodes = {n.split(".")[-1]: r for n, r in session.nodes.items() if not r.is_engine}
    assert set(nodes) == ran and {r.status for r in nodes.values()} == {"ran"}
    assert all(r.measurement for r in nodes.values())
    assert session.status == "complete" and session.missing_nodes() == []
    status, out, err = run_cli("report", str(carbon))
    assert status == 0 and "Traceback" not in out + err
    assert "merged from the held folder" in out.splitlines()[0]

    # once there is room, collect writes it all where it belongs, and nothing is left held
    if how == "full":
        (carbon / "filler").unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(carbon)], check=True)
    status, out, err = run_cli("collect", str(carbon))
    assert status == 0, err
    written = load_session(carbon, spool=False)
    assert {n.split(".")[-1] for n, r in written.nodes.items() if not r.is_engine} == ran
    assert written.status == "complete" and written.problems() == []
    assert load_session(carbon).merged_from_held == 0


def test_a_run_whose_records_reach_no_folder_names_the_nodes_it_lacks(tmp_path: Path) -> None:
    """Without the held folder (every folder of the user's full too), the report of the
    carbon directory names each node that left no record, and why."""
    from nipype_carbon.record.recorder import RunRecorder
    from nipype_carbon.record.settings import CarbonSettings

    recorder = RunRecorder(CarbonSettings(), tmp_path / "carbon", {"workflow": "w"})
    recorder.start()
    recorder.expect(["w.a", "w.b", "w.c"])
    assert recorder.session is not None
    recorder.session.add_node(NodeRecord("w.a", "ran", 0.0, 1.0, "h"))
    recorder.finish()
    session = load_session(recorder.path)
    assert session.missing_nodes() == ["w.b", "w.c"]
    status, out, _ = run_cli("report", str(recorder.path))
    assert status == 0
    assert "2 node(s) of the workflow have no record (w.b, w.c): none arrived" in out


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
