"""A run killed from outside: SIGKILL or SIGTERM to the process that drives the workflow.

The truth is what the test did and what nipype wrote on its own: the nodes whose
result files exist finished; the node whose process the test killed was killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nipype_carbon.record.reader import load_session
from tests.faults.helpers import finished_nodes, run_cli, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def victim(tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """Start the driver workflow in its own process group; kill the group afterwards."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(plugin: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.driver", plugin, str(tmp_path)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "driver.err", "wb"),  # noqa: SIM115 - the child owns it
            start_new_session=True,
        )
        procs.append(proc)
        wf = tmp_path / "victim"
        wait_for(
            lambda: (
                proc.poll() is not None
                or ("quick" in finished_nodes(wf) and (tmp_path / "slow.pid").exists())
            ),
            what=f"quick to finish and slow to start ({(tmp_path / 'driver.err')})",
        )
        assert proc.poll() is None, (tmp_path / "driver.err").read_text()
        return proc

    yield start, tmp_path  # type: ignore[misc]
    for proc in procs:
        with_group_killed(proc)


def with_group_killed(proc: subprocess.Popen[bytes]) -> None:
    """Kill the driver's process group (the driver and any orphaned worker)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)


def _slow_pid(base: Path) -> int:
    return int((base / "slow.pid").read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().rsplit(")", 1)[1].split()[0] == "Z"


def _carbon(base: Path) -> Path:
    return base / "victim" / "carbon"


@pytest.mark.parametrize("plugin", ["Linear", "MultiProc"])
def test_sigkill_of_the_driver_leaves_an_interrupted_run_with_every_finished_node(
    victim, plugin: str
) -> None:
    start, base = victim
    proc = start(plugin)
    finished = finished_nodes(base / "victim")
    os.kill(proc.pid, signal.SIGKILL)
    with_group_killed(proc)  # and the orphaned worker running `slow`, if any
    wait_for(lambda: _gone(_slow_pid(base)), what="slow's process to end")

    session = load_session(_carbon(base))
    assert session.status == "interrupted"
    for name in finished:
        assert session.nodes[f"victim.{name}"].status == "ran"
    # slow was running when its process died: a killed record, not nothing
    assert session.nodes["victim.slow"].status == "killed"
    assert "victim.after" not in session.nodes

    status, out, err = run_cli("report", str(_carbon(base)))
    assert status == 0, err
    assert "Run INTERRUPTED" in out and "Traceback" not in out + err
    # slow's record never reached the session file: the report merged it from the spool
    assert "victim.slow" not in load_session(_carbon(base), spool=False).nodes
    assert f"{session.merged_from_spool} record(s) merged from the spool" in out
    for ext in ("json", "md", "html", "dot"):
        command = "graph" if ext == "dot" else "report"
        status, _, err = run_cli(command, str(_carbon(base)), "-o", str(base / f"r.{ext}"))
        assert status == 0, err
    totals = json.loads((base / "r.json").read_text())["totals"]
    assert totals["run_status"] == "interrupted"
    assert totals["nodes_by_status"].get("killed") == 1
    assert "Run INTERRUPTED (no end event" in (base / "r.md").read_text()
    assert '<p class="alert" id="nc-run-status"><b>Run interrupted' in (base / "r.html").read_text()
    assert "<B>run interrupted (no end event" in (base / "r.dot").read_text()


def test_sigterm_writes_the_end_event_then_the_driver_dies_as_before(victim) -> None:
    start, base = victim
    proc = start("MultiProc")
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=120) == -signal.SIGTERM  # the default action still happens
    session = load_session(_carbon(base), spool=False)
    end = session.end_event
    assert end is not None and end["status"] == "interrupted" and end["signal"] == "SIGTERM"
    assert session.status_text() == "interrupted (SIGTERM)"
    assert session.nodes["victim.quick"].status == "ran"


def test_sigint_ends_the_session_as_interrupted_and_raises_keyboardinterrupt(victim) -> None:
    start, base = victim
    proc = start("Linear")
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=120) != 0
    assert b"KeyboardInterrupt" in (base / "driver.err").read_bytes()
    session = load_session(_carbon(base), spool=False)
    assert session.status == "interrupted"
    assert session.end_event["signal"] == "SIGINT"  # type: ignore[index]


def test_compare_never_names_an_interrupted_run_least_energy(victim, tmp_path: Path) -> None:
    start, base = victim
    proc = start("Linear")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    complete = tmp_path / "complete"
    from tests.plugin.workflows import known_costs

    known_costs(complete).run(plugin="CarbonLinear", plugin_args={"region": "GB"})
    runs = [str(_carbon(base)), str(complete / "known" / "carbon")]
    status, out, err = run_cli("compare", *runs)
    assert status == 0, err
    assert "Incomplete runs" in out and "victim: run interrupted" in out
    assert "No verdict" in out and "used the least energy" not in out
    status, out, _ = run_cli("compare", *runs, "--allow-incomplete")
    assert "victim used the least energy" in out  # it did less work: only when asked


def _measured_so_far(base: Path) -> bool:
    """Whether slow's provisional record holds a measurement yet (after one interval)."""
    for path in _carbon(base).glob("*.spool/*.running.json"):
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("measurement"):
                return True
    return False


def test_a_worker_killed_mid_node_leaves_a_killed_record(victim) -> None:
    start, base = victim
    proc = start("MultiProc")
    slow = _slow_pid(base)
    assert slow != proc.pid  # the node runs in a MultiProc worker
    wait_for(lambda: _measured_so_far(base), what="slow to have been measured for a while")
    killed_at = time.time()
    os.kill(slow, signal.SIGKILL)
    wait_for(lambda: _gone(slow), what="the worker to die")
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)  # nipype may stop on a broken pool, or wait for ever
    with_group_killed(proc)
    session = load_session(_carbon(base))
    assert session.nodes["victim.slow"].status == "killed"
    assert session.nodes["victim.quick"].status == "ran"
    assert session.nodes["victim.slow"].extra["worker_pid"] == slow
    # what was measured before the kill is kept: its start, its samples, its CPU so far
    record = session.nodes["victim.slow"]
    measurement = record.measurement
    assert measurement is not None and "up to" in (record.error or "")
    assert len(measurement["samples"]["t"]) >= 2 and measurement["cpu_s"] >= 0.0
    assert record.start < record.end <= killed_at
    assert measurement["samples"]["t"][0] == pytest.approx(record.start)
