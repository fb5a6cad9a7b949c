"""The Carbon plugins on real nipype workflows: records, costs, failures, caching, settings."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

import nipype_carbon  # noqa: F401 - registers the Carbon plugins
from nipype_carbon import SettingsError, load_session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.plugin import CarbonPlugin
from nipype_carbon.report import build_report
from nipype_carbon.report.formats import render_console
from nipype_carbon.report.html import render_html
from nipype_carbon.report.units import energy
from testkit.powercap import FakePowercap
from tests.plugin import workflows

#: the most CPU a worker spends on one node outside the node's own work (unpickling, hashing
#: inputs, writing results; more for the first node of a fresh worker process). A fixed cost:
#: what grows with a node's wall time (nipype polling a child's output) is measured instead,
#: by ``workflows.SelfTimedCommandLine``.
WORKER_OVERHEAD_S = 0.4


def assert_cli_cost(session, node_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The command-line node's CPU: at least its child's (as the child counted it), at most
    what the kernel counted for the worker and the child over the run, plus the fixed cost."""
    cpu_s = session.nodes["known.cli"].measurement["cpu_s"]
    child, run = workflows.child_cpu_s(node_dir), workflows.interface_cpu_s(node_dir)
    assert child >= 0.8  # the command-line child's CPU counts for its node
    assert child <= cpu_s <= run + WORKER_OVERHEAD_S, (child, cpu_s, run)


def _session(base: Path, workflow: str):  # type: ignore[no-untyped-def]
    return load_session(base / workflow / "carbon")


def test_known_cpu_costs_land_on_the_right_nodes_with_two_workers(tmp_path: Path) -> None:
    wf = workflows.known_costs(tmp_path)
    wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": 2, "sample_interval_s": 0.2})
    session = _session(tmp_path, "known")
    cpu = {n: r.measurement["cpu_s"] for n, r in session.nodes.items() if r.measurement}
    # each node's CPU: its known cost (the burner thread's own CPU), plus the worker's fixed
    # cost for that node
    known = {"known.burn_a": 1.0, "known.burn_b": 0.5, "known.after": 0.4}
    for name, cost_s in known.items():
        assert cost_s <= cpu[name] <= cost_s + WORKER_OVERHEAD_S, (name, cpu[name])
    assert_cli_cost(session, tmp_path / "known" / "cli")
    cli = session.nodes["known.cli"].interface
    assert cli == "tests.plugin.workflows.SelfTimedCommandLine"
    assert session.nodes["known.burn_a"].extra["function"] == "burn"
    assert ("known.burn_a", "known.after") in session.edges
    result = attribute_energy(session)
    energy = {n: e.energy_cpu_j for n, e in result.nodes.items()}
    ratio = cpu["known.burn_a"] / cpu["known.burn_b"]
    assert energy["known.burn_a"] / energy["known.burn_b"] == pytest.approx(ratio, rel=0.1)
    assert energy["known.burn_a"] > energy["known.burn_b"] > 0
    assert {e.method for n, e in result.nodes.items() if n in cpu} == {"model"}
    scheduler = session.nodes["known.(scheduler)"]
    assert scheduler.extra["kind"] == "orchestration" and scheduler.measurement["cpu_s"] > 0


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_multiproc_under_every_start_method(tmp_path: Path, method: str) -> None:
    wf = workflows.known_costs(tmp_path)
    wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": 2, "mp_context": method})
    session = _session(tmp_path, "known")
    ran = {n for n, r in session.nodes.items() if r.status == "ran" and r.measurement}
    assert {"known.burn_a", "known.burn_b", "known.cli", "known.after"} <= ran
    assert_cli_cost(session, tmp_path / "known" / "cli")


def test_linear_records_every_node_and_outputs_match_the_base_plugin(tmp_path: Path) -> None:
    plain = workflows.expansions(tmp_path / "plain").run(plugin="Linear")
    metered = workflows.expansions(tmp_path / "carbon").run(plugin="CarbonLinear")
    plain_nodes = {n.itername: _outputs(n) for n in plain.nodes()}
    metered_nodes = {n.itername: _outputs(n) for n in metered.nodes()}
    assert plain_nodes == metered_nodes
    session = _session(tmp_path / "carbon", "expand")
    names = set(session.nodes)
    assert set(plain_nodes) <= names  # every execution-graph node
    assert {f"expand.mapped._mapped{i}" for i in range(3)} <= names  # MapNode children
    assert session.nodes["expand.mapped._mapped2"].extra["mapnode_parent"] == "expand.mapped"
    assert any(n.startswith("expand.join") for n in names)  # the JoinNode
    assert all(r.status == "ran" for n, r in session.nodes.items() if n in plain_nodes)


def _outputs(node) -> dict:  # type: ignore[no-untyped-def]
    outputs = node.result.outputs
    values = outputs.trait_get() if hasattr(outputs, "trait_get") else outputs.dictcopy()
    return {k: v for k, v in values.items() if not k.startswith("trait")}


def test_expansions_under_multiproc(tmp_path: Path) -> None:
    workflows.expansions(tmp_path).run(plugin="CarbonMultiProc", plugin_args={"n_procs": 2})
    session = _session(tmp_path, "expand")
    children = [r for n, r in session.nodes.items() if "._mapped" in n]
    assert len(children) == 3 and all(r.status == "ran" and r.measurement for r in children)
    plus = [n for n in session.nodes if n.startswith("expand.plus")]
    assert len(plus) == 2  # one per iterable value


def test_a_rerun_records_a_mapnode_found_whole_in_the_cache_as_a_mapnode(
    tmp_path: Path,
) -> None:
    """The scheduler finds the whole MapNode cached (its run is never called): its record
    still says it is a MapNode, so it is counted as its children, not as a node of its own."""
    args = {"n_procs": 2}
    workflows.expansions(tmp_path).run(plugin="CarbonMultiProc", plugin_args=args)
    time.sleep(1.1)  # session files are named by the second
    workflows.expansions(tmp_path).run(plugin="CarbonMultiProc", plugin_args=args)
    rerun = load_session(sorted((tmp_path / "expand" / "carbon").glob("session-*.jsonl"))[-1])
    parent = rerun.nodes["expand.mapped"]
    assert parent.status == "cached" and parent.extra.get("mapnode") is True


def test_a_failed_node_keeps_its_energy_and_the_run_fails_as_before(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        workflows.failing(tmp_path).run(plugin="CarbonMultiProc", plugin_args={"n_procs": 2})
    session = _session(tmp_path, "failing")
    bad = session.nodes["failing.bad"]
    assert bad.status == "failed" and "fails on purpose" in (bad.error or "")
    assert bad.measurement["cpu_s"] >= 0.25
    assert "failing.later" not in session.nodes  # never ran, as with MultiProc
    assert attribute_energy(session).nodes["failing.bad"].energy_cpu_j > 0
    assert session.events[-1]["kind"] == "end" and session.events[-1]["status"] == "failed"


@pytest.mark.parametrize("plugin", ["CarbonLinear", "CarbonMultiProc"])
def test_a_rerun_records_cached_nodes_and_where_their_energy_was_spent(
    tmp_path: Path, plugin: str
) -> None:
    workflows.known_costs(tmp_path).run(plugin=plugin)
    time.sleep(1.1)  # session files are named by the second
    workflows.known_costs(tmp_path).run(plugin=plugin)
    carbon = tmp_path / "known" / "carbon"
    first, second = sorted(carbon.glob("session-*.jsonl"))
    rerun = load_session(second)
    for name in ("known.burn_a", "known.burn_b", "known.cli", "known.after"):
        assert rerun.nodes[name].status == "cached"
        assert rerun.nodes[name].measurement is None
    sources = next(e for e in rerun.events if e["kind"] == "cached_energy_sources")
    assert sources["sessions"]["known.burn_a"] == first.name
    # the rerun's report says nothing ran, names what was reused, and projects nothing from it
    report, paid = build_report(second), build_report(first)
    reused = ("known.burn_a", "known.burn_b", "known.cli", "known.after")
    spent_j = paid.nodes.set_index("node").loc[list(reused), "energy_j"].sum()
    assert report.totals.energy_avoided_by_caching_j == pytest.approx(spent_j)
    text = render_console(report, subjects=40_000)
    assert f"Nothing ran: 4 node(s) reused (energy avoided {energy(spent_j)}," in text
    assert "Projection to 40,000 subjects refused" in text and "x this run" not in text
    assert "100.0%" not in text and "(scheduler)" not in text.split("Hottest nodes")[1]
    assert "Nothing ran" not in render_console(paid)
    page = render_html(report)
    assert 'id="nc-nothing-ran"' in page and "None: nothing ran" in page
    assert 'id="nc-nothing-ran"' not in render_html(paid)


def test_bad_settings_stop_the_run_before_any_node(tmp_path: Path) -> None:
    wf = workflows.known_costs(tmp_path)
    with pytest.raises(SettingsError, match="CA-QC"):
        wf.run(plugin="CarbonMultiProc", plugin_args={"region": "CA-QB"})
    with pytest.raises(SettingsError, match="pue"):
        wf.run(plugin="CarbonLinear", plugin_args={"pue": -1})
    assert not (tmp_path / "known").exists()


def test_settings_from_the_environment_and_carbon_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIPYPE_CARBON_REGION", "FR")
    wf = workflows.known_costs(tmp_path)
    wf.run(plugin="CarbonLinear", plugin_args={"carbon_dir": str(tmp_path / "elsewhere")})
    session = load_session(tmp_path / "elsewhere")
    assert session.settings["region"] == "FR"


def test_instance_form_wraps_a_users_own_plugin(tmp_path: Path) -> None:
    from nipype.pipeline.plugins import LinearPlugin

    class MyPlugin(LinearPlugin):
        pass

    seen: list[tuple[str, str]] = []
    runner = CarbonPlugin(
        MyPlugin, plugin_args={"status_callback": lambda n, s: seen.append((n.name, s))}
    )
    workflows.known_costs(tmp_path).run(plugin=runner)
    session = _session(tmp_path, "known")
    assert session.metadata["plugin"] == "MyPlugin"
    assert ("burn_a", "end") in seen and session.nodes["known.burn_a"].status == "ran"


@pytest.mark.parametrize(
    ("power_w", "range_j", "interval_s"),
    [(40.0, 60.0, 0.25), (30.0, 50.0, 1.0)],  # wraps every 1.5 s and 1.7 s
)
def test_fake_rapl_power_times_duration_labelled_rapl(
    tmp_path: Path, power_w: float, range_j: float, interval_s: float
) -> None:
    tree = FakePowercap(tmp_path / "powercap")
    tree.zone("intel-rapl:0", "package-0", power_w=power_w, range_uj=int(range_j * 1e6))
    tree.zone("intel-rapl:0/intel-rapl:0:0", "core", power_w=power_w * 0.75)
    with tree:
        workflows.known_costs(tmp_path).run(
            plugin="CarbonMultiProc",
            plugin_args={
                "n_procs": 2,
                "powercap_root": str(tree.root),
                "sample_interval_s": interval_s,
            },
        )
    session = _session(tmp_path, "known")
    result = attribute_energy(session)
    host = next(iter(result.hosts.values()))
    assert host.measured_j["cpu"] / host.duration_s == pytest.approx(power_w, rel=0.03)
    assert host.wraps >= 1
    for name in ("known.burn_a", "known.cli"):
        assert result.nodes[name].methods["cpu"] == "rapl"
        assert result.nodes[name].methods["dram"] == "model"


def test_a_meter_that_breaks_mid_run_does_not_fail_the_workflow(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tree = FakePowercap(tmp_path / "powercap")
    tree.zone("intel-rapl:0", "package-0", power_w=20.0)
    wf = workflows.known_costs(tmp_path)
    killer = threading.Timer(0.3, shutil.rmtree, args=(tree.root,))

    def on_status(node: object, status: str) -> None:
        if status == "start" and not killer.is_alive() and tree.root.exists():
            killer.start()  # the counters vanish while the first node runs

    with caplog.at_level(logging.WARNING):
        wf.run(
            plugin="CarbonLinear",
            plugin_args={
                "powercap_root": str(tree.root),
                "sample_interval_s": 0.1,
                "status_callback": on_status,
            },
        )
    killer.join()
    session = _session(tmp_path, "known")
    assert all(r.status == "ran" for n, r in session.nodes.items())
    broken = [r for r in session.nodes.values() if r.extra.get("meter_errors")]
    assert broken and "meter rapl failed" in broken[0].extra["meter_errors"][0]
