"""A counter that jumps, resets, freezes or hangs mid-run, read by several processes.

The emulated package counter follows the host's real load (``IDLE_W`` plus
``J_PER_CPU_S`` per busy CPU-second of the whole host), so each node's true CPU
energy is ``J_PER_CPU_S`` x its CPU seconds. A chain of nodes runs under
CarbonMultiProc (each node in a worker process, the scheduler metering the
driver); as the sleeping node starts the counter is broken, and as the first
short node starts it is mended (freeze, hang). Whatever happens, the session
renders, the glitch is named with the energy modelled in its place, the nodes
before and after it get their truth, the nodes it touched say they are part
modelled, and no node gets energy it did not cause: the sleeping node, which
burns nothing, gets next to nothing (it once got 898 J after a hang).
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nipype.pipeline.engine as pe
import pytest
from nipype.interfaces.utility import Function

from nipype_carbon import load_session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.record.runs import session_files
from testkit.powercap import FakeZone, LoadFollowingPowercap, LoadFollowingProcess
from testkit.scenario import IDLE_W, J_PER_CPU_S, burn_thread, nap
from tests.faults.helpers import run_cli
from tests.plugin import workflows

#: the chain: (name, function, seconds)
CHAIN = [
    ("burn1", burn_thread, 1.5),
    ("pause", nap, 1.0),  # so the glitch falls two bins after burn1 ends
    ("sleep", nap, 3.0),
    ("burn2", burn_thread, 1.0),
    *((f"short{i}", burn_thread, 0.1) for i in range(4)),
    ("burn3", burn_thread, 1.5),
]
#: how far a node's CPU energy may be from its truth on a loaded 2-core host (the emulator's
#: writer shares the driver's process; its file lags the load by a few ticks)
TOLERANCE = 0.25
BREAK_AT, MEND_AT = "sleep", "short0"
#: what the report calls each glitch
SAID = {"jump": "jumped", "reset": "was reset", "freeze": "froze", "stop": "froze", "hang": ""}


def chain(base_dir: Path) -> pe.Workflow:
    wf = workflows.fast(pe.Workflow("glitch", base_dir=str(base_dir)))
    nodes = []
    for name, function, seconds in CHAIN:
        node = pe.Node(Function(["seconds", "_"], ["out"], _with_input(function)), name=name)
        node.inputs.seconds = seconds
        nodes.append(node)
    for a, b in itertools.pairwise(nodes):
        wf.connect(a, "out", b, "_")
    nodes[0].inputs._ = 0
    return wf


def _with_input(function: Callable[[float], float]) -> Callable[..., float]:
    """The function with an ignored second input, so the nodes can be chained."""
    if function is nap:

        def napping(seconds, _):  # type: ignore[no-untyped-def]
            import time

            time.sleep(seconds)
            return seconds

        return napping

    def burning(seconds, _):  # type: ignore[no-untyped-def]
        import time

        start = time.thread_time()
        while time.thread_time() - start < seconds:
            pass
        return seconds

    return burning


def breaker(tree: LoadFollowingPowercap, zone: FakeZone, how: str) -> Callable[[Any, str], None]:
    """A status callback that breaks the counter as the sleeping node starts and mends it
    as the first short node starts."""
    counter = zone.path / "energy_uj"

    def on_status(node: Any, status: str) -> None:
        if status != "start":
            return
        if node.name == BREAK_AT:
            if how == "jump":
                tree.jump(zone, 10**15)  # a billion joules, and on from there
            elif how == "reset":
                tree.reset(zone)
            elif how in ("freeze", "stop"):
                tree.freeze(zone)
            elif how == "hang":
                tree.freeze(zone)
                fifo = counter.with_name("energy_uj.fifo")
                os.mkfifo(fifo)  # a read of it blocks: no writer ever comes
                fifo.replace(counter)
        elif node.name == MEND_AT and how in ("freeze", "stop", "hang"):
            tree.thaw(zone, stopped=how == "stop")  # (a hang: the new file replaces the pipe)

    return on_status


def run(tmp_path: Path, how: str) -> tuple[Path, float]:
    """Run the chain with the counter broken as ``how`` says; its carbon directory, and the
    seconds the emulated counter drew for (the test's own clock)."""
    root = tmp_path / "powercap"
    tree = LoadFollowingProcess(root, IDLE_W, J_PER_CPU_S, range_uj=10**18)
    (zone,) = tree.zones
    started = time.monotonic()
    with tree:
        chain(tmp_path).run(
            plugin="CarbonMultiProc",
            plugin_args={
                "n_procs": 2,
                "powercap_root": str(root),
                "sample_interval_s": 0.25,
                "cpu_baseline_w": IDLE_W,  # calibrated: the test need not wait for a quiet host
                "status_callback": breaker(tree, zone, how),
            },
        )
    return tmp_path / "glitch" / "carbon", time.monotonic() - started


@pytest.mark.parametrize("how", ["jump", "reset", "freeze", "stop", "hang"])
def test_a_counter_glitch_is_named_modelled_and_charged_to_no_node(
    tmp_path: Path, how: str
) -> None:
    carbon, drawn_s = run(tmp_path, how)
    status, out, err = run_cli("report", str(carbon))
    assert status == 0 and "Traceback" not in out + err, err
    path = session_files(carbon)[-1]
    session = load_session(path)
    assert session.status == "complete" and not session.damaged
    result = attribute_energy(session)
    (host,) = result.hosts.values()
    kinds = {g["kind"] for g in host.glitches}
    expected = {"jump": "jump", "reset": "reset", "freeze": "frozen", "stop": "frozen"}
    if how in expected:
        assert expected[how] in kinds, host.glitches
        assert SAID[how] in out, out
    else:  # a hang: the reads time out, the meter is dropped, the rest modelled or spread
        faults = [
            f for r in session.nodes.values() for f in (r.measurement or {}).get("faults", [])
        ]
        assert any("no answer" in str(f["reason"]) for f in faults), faults
    assert run_cli("report", str(carbon), "-o", str(tmp_path / "r.json"))[0] == 0
    totals = json.loads((tmp_path / "r.json").read_text())["totals"]
    if how in expected:
        assert totals["modelled_after_fault_j"] > 0 and totals["counter_glitches"]
    # nothing like the jump's billion joules reaches the run's energy: at most the host's
    # idle power and both CPUs busy, over the time the emulated counter drew (the test's
    # clock: the run's meters read from before its first node to after its last, longer
    # than its nodes' wall time, and other processes may keep both CPUs busy throughout),
    # with room for the model's own error over the span it modelled
    most_j = (IDLE_W + 2 * J_PER_CPU_S) * drawn_s
    assert 0 < totals["host_energy_j"] <= 1.2 * most_j, (totals["host_energy_j"], most_j)

    model = next(m for m in session.hosts[host.host].meters["meters"] if m["kind"] == "model")
    model_k = model["details"]["joules_per_busy_cpu_s"]
    by_name = {name.split(".")[-1]: node for name, node in result.nodes.items()}
    for name, node in by_name.items():
        if name not in dict((c[0], c) for c in CHAIN):
            continue
        truth_j = J_PER_CPU_S * node.cpu_s
        # no node gets energy it did not cause: at most its truth, or the model's figure
        # where its span was modelled (with room for the model's own baseline error)
        assert node.energy_cpu_j <= max(truth_j, model_k * node.cpu_s) * 1.3 + 1.0, (name, node)
    for name in ("pause", "sleep"):  # they burn nothing
        assert by_name[name].energy_cpu_j < 1.0, by_name[name]
    # the nodes well before the glitch are measured, and get their truth
    first = by_name["burn1"]
    assert "model" not in first.methods["cpu"]
    assert first.energy_cpu_j == pytest.approx(J_PER_CPU_S * first.cpu_s, rel=TOLERANCE)
    if how in ("jump", "reset", "freeze", "stop"):
        last = by_name["burn3"]  # after the glitch: measured again
        assert "model" not in last.methods["cpu"], last
        assert last.energy_cpu_j == pytest.approx(J_PER_CPU_S * last.cpu_s, rel=TOLERANCE)
    if how in ("freeze", "stop"):  # seconds modelled: the nodes there say so
        touched = [n for n, e in by_name.items() if e.methods.get("cpu", "").endswith("+model")]
        assert touched, "no node says it was part modelled"
