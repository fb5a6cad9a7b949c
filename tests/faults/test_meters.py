"""Meters that fail mid-run: the workflow finishes in time, and every format says so.

The real RAPL meter reads a fake powercap tree (40 W) that the test breaks while a node
runs: the counter file deleted or replaced by a named pipe (a read that never returns): the
meter is dropped and modelled; or jumping by 1e15 uJ (a billion joules in a quarter of a
second): the jump is modelled and named, and the counter read on.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest
from nipype.interfaces.utility import Function

from nipype_carbon.measure.guard import FROZEN_AFTER_S, Implausible, PlausibleCounter
from nipype_carbon.measure.measurement import Domain
from nipype_carbon.record.runs import session_files
from nipype_carbon.report import build_report
from nipype_carbon.report.formats import render_console, render_json
from testkit.powercap import FakePowercap
from tests.plugin import workflows

NAP_S = 2.0
BREAK_AFTER_S = 0.5


def nap(seconds):  # type: ignore[no-untyped-def]
    import time

    time.sleep(seconds)
    return seconds


def run_and_break(tmp_path: Path, how: str) -> tuple[Path, float]:
    tree = FakePowercap(tmp_path / "powercap")
    zone = tree.zone("intel-rapl:0", "package-0", power_w=40.0, range_uj=10**18)
    counter = zone.path / "energy_uj"

    def breaks() -> None:
        if how == "deleted":
            tree.stop_writing()  # the writer stops, then the file goes
            counter.unlink()
        elif how == "hangs":
            tree.stop_writing()
            fifo = counter.with_name("energy_uj.fifo")
            os.mkfifo(fifo)  # opening it for reading blocks until a writer comes: never
            fifo.replace(counter)  # in one step: no reader sees the file missing
        elif how == "jumps":
            zone.start_uj += 10**15

    wf = workflows.fast(pe.Workflow("faulty", base_dir=str(tmp_path)))
    node = pe.Node(Function(["seconds"], ["out"], nap), name="nap")
    node.inputs.seconds = NAP_S
    wf.add_nodes([node])
    timer = threading.Timer(BREAK_AFTER_S, breaks)

    def on_status(_node: object, status: str) -> None:
        if status == "start":
            timer.start()

    started = time.perf_counter()
    with tree:
        wf.run(
            plugin="CarbonLinear",
            plugin_args={
                "powercap_root": str(tree.root),
                "sample_interval_s": 0.25,
                "baseline_window_s": 0,
                "status_callback": on_status,
            },
        )
    timer.join()
    return tmp_path / "faulty" / "carbon", time.perf_counter() - started


@pytest.mark.parametrize("how", ["deleted", "hangs"])
def test_a_meter_failing_mid_node_is_reported_and_modelled(tmp_path: Path, how: str) -> None:
    carbon, took_s = run_and_break(tmp_path, how)
    # a hanging read costs the node at most one read timeout, never the run
    assert took_s < NAP_S + 10
    report = build_report(session_files(carbon)[-1])
    totals = json.loads(render_json(report))["totals"]
    (fault,) = totals["meter_faults"]
    assert fault["meter"] == "rapl" and fault["records"] >= 1 and fault["action"] == "dropped"
    reason = {"deleted": "cannot read", "hangs": "no answer"}[how]
    assert reason in fault["reason"]
    # after the fault the counter is modelled, and the report says how much: at least the
    # model's idle power over the rest of the nap (by hand from the model's own constants)
    (host,) = report.session.hosts.values()
    model = next(m for m in host.meters["meters"] if m["kind"] == "model")
    idle_w = model["details"]["cpu_idle_power_w"]
    assert totals["modelled_after_fault_j"] >= 0.8 * idle_w * (NAP_S - BREAK_AFTER_S - 0.5)
    console = render_console(report)
    assert "Meter fault: rapl" in console and "modelled where no meter could be read" in console
    # the measured part before the fault is the fake's 40 W, not lost
    assert totals["host_energy_j"] >= 0.9 * 40.0 * BREAK_AFTER_S


def test_a_counter_that_jumps_mid_node_is_named_and_followed_from_its_new_value(
    tmp_path: Path,
) -> None:
    """A billion joules in a quarter of a second: the jump's interval is modelled and named,
    the counter then read on (measured: the fake's 40 W), not dropped for the rest."""
    carbon, _ = run_and_break(tmp_path, "jumps")
    report = build_report(session_files(carbon)[-1])
    totals = json.loads(render_json(report))["totals"]
    (fault,) = totals["meter_faults"]
    assert fault["action"] == "kept" and "above" in fault["reason"]
    jumps = [g for g in totals["counter_glitches"] if g["kind"] == "jump"]
    assert len(jumps) == 1 and jumps[0]["end"] - jumps[0]["start"] < 1.0
    duration_s = totals["wall_time_s"]
    assert totals["host_energy_j"] == pytest.approx(40.0 * duration_s, rel=0.2)
    assert 0 < totals["modelled_after_fault_j"] < 40.0 * 1.0
    assert "Counter glitch: rapl:package-0 on" in render_console(report)


def test_counter_checks_by_hand() -> None:
    domain = Domain("rapl:package-0", "cpu", "counter", "rapl", wrap_j=100.0, power_bound_w=50.0)
    check = PlausibleCounter(domain)
    assert check.check(0.0, 90.0) is None
    assert check.check(1.0, 10.0) is None  # 20 J across a wrap in 1 s: fine
    assert check.check(2.0, 5.0) is None  # 95 J across a wrap in 1 s (a stalled reader): 95 W
    assert "fell" in str(check.check(2.05, 1.0))  # a wrap would mean 96 J in 50 ms: it fell
    assert check.check(3.05, 40.0) is None  # and it goes on from there: 39 J in 1 s
    check = PlausibleCounter(domain)
    check.check(0.0, 0.0)
    assert "above" in str(check.check(0.1, 60.0))  # 600 W against a bound of 10 x 50 W
    check = PlausibleCounter(domain)
    check.check(0.0, 1.0)
    check.check(1.0, 1.0)
    assert "frozen" in str(check.check(1.0 + FROZEN_AFTER_S, 1.0))
    assert check.check(2.0 + FROZEN_AFTER_S, 1.0) is None  # said once
    with pytest.raises(Implausible, match="outside its range 0-100"):
        PlausibleCounter(domain).check(0.0, 1e9)  # a first reading no counter can give
    with pytest.raises(Implausible, match="nan"):
        check.check(9.0, float("nan"))
