"""Properties of attribution (Hypothesis) and a few exact cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nipype_carbon.analyse.attribution import attribute_energy
from testkit.sessions import NodeSpec, build_session

node_specs = st.lists(
    st.builds(
        NodeSpec,
        name=st.just(""),
        start=st.floats(0, 20),
        duration=st.floats(0.2, 10),
        cpu_rate=st.floats(0, 2),
        samples=st.integers(2, 8),
        rss_b=st.floats(0, 8e9),
    ),
    min_size=1,
    max_size=6,
)


def _named(specs: list[NodeSpec]) -> list[NodeSpec]:
    for i, spec in enumerate(specs):
        spec.name = f"node{i}"
    return specs


@settings(max_examples=60, deadline=None)
@given(node_specs, st.floats(0, 2), st.sampled_from(["separate", "shared"]))
def test_attributed_plus_unattributed_is_measured(specs, other_rate, idle) -> None:
    session = build_session(_named(specs), other_rate=other_rate)
    result = attribute_energy(session, idle=idle)
    assert result.attributed_energy_j + result.unattributed_energy_j == pytest.approx(
        result.energy_j, rel=1e-9, abs=1e-6
    )


@settings(max_examples=60, deadline=None)
@given(node_specs, st.floats(0, 2), st.sampled_from(["separate", "shared"]))
def test_no_negative_shares(specs, other_rate, idle) -> None:
    result = attribute_energy(build_session(_named(specs), other_rate=other_rate), idle=idle)
    for node in result.nodes.values():
        for value in (node.energy_cpu_j, node.energy_dram_j, node.energy_gpu_j, node.energy_idle_j):
            assert value >= -1e-9
    for host in result.hosts.values():
        assert all(v >= -1e-6 for v in host.unattributed_j.values())


@settings(max_examples=40, deadline=None)
@given(node_specs, st.randoms())
def test_order_of_records_does_not_matter(specs, rnd: random.Random) -> None:
    specs = _named(specs)
    first = attribute_energy(build_session(specs))
    shuffled = list(specs)
    rnd.shuffle(shuffled)
    second = attribute_energy(build_session(shuffled))
    for name, node in first.nodes.items():
        assert second.nodes[name].energy_j == pytest.approx(node.energy_j, rel=1e-9, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(st.floats(0.1, 2), st.floats(0.5, 10), st.integers(2, 10))
def test_a_lone_node_gets_all_dynamic_energy(rate, duration, samples) -> None:
    spec = NodeSpec("alone", 1.0, duration, rate, samples)
    result = attribute_energy(build_session([spec], idle_w=10.0, j_per_cpu_s=5.0))
    host = result.hosts["h"]
    assert result.nodes["alone"].energy_cpu_j == pytest.approx(5.0 * rate * duration, rel=1e-6)
    assert host.unattributed_j["cpu"] == pytest.approx(0.0, abs=1e-6)
    assert host.unattributed_j["idle"] == pytest.approx(10.0 * duration, rel=1e-6)


def test_shared_idle_goes_to_running_nodes_equally() -> None:
    specs = [NodeSpec("a", 0.0, 4.0, 1.0, 5), NodeSpec("b", 0.0, 4.0, 0.25, 5)]
    result = attribute_energy(build_session(specs, idle_w=10.0), idle="shared")
    assert result.nodes["a"].energy_idle_j == pytest.approx(20.0)
    assert result.nodes["b"].energy_idle_j == pytest.approx(20.0)
    assert result.nodes["a"].energy_cpu_j == pytest.approx(4 * result.nodes["b"].energy_cpu_j)


def test_other_processes_keep_their_dynamic_energy_unattributed() -> None:
    specs = [NodeSpec("a", 0.0, 4.0, 1.0, 9)]
    result = attribute_energy(build_session(specs, other_rate=1.0, j_per_cpu_s=5.0))
    assert result.nodes["a"].energy_cpu_j == pytest.approx(20.0, rel=1e-6)
    assert result.hosts["h"].unattributed_j["cpu"] == pytest.approx(20.0, rel=1e-6)


def test_dram_follows_resident_memory() -> None:
    gib = 1024**3
    specs = [
        NodeSpec("a", 0.0, 2.0, 1.0, 3, rss_b=4 * gib),
        NodeSpec("b", 0.0, 2.0, 1.0, 3, rss_b=gib),
    ]
    result = attribute_energy(build_session(specs))
    # 6 W for 16 GiB installed: a node holding 4 GiB for 2 s gets 6 * 4/16 * 2 = 3 J
    assert result.nodes["a"].energy_dram_j == pytest.approx(3.0)
    assert result.nodes["b"].energy_dram_j == pytest.approx(0.75)


def test_counter_wrap_is_undone_on_the_merged_timeline() -> None:
    # 1e6 J range; idle 10 W over a long run wraps the synthetic counter
    specs = [NodeSpec("a", 99_990.0, 20.0, 1.0, 41), NodeSpec("b", 99_995.0, 20.0, 1.0, 41)]
    result = attribute_energy(build_session(specs, idle_w=10.0, j_per_cpu_s=5.0))
    host = result.hosts["h"]
    assert host.wraps == 1
    assert host.measured_j["cpu"] == pytest.approx(25 * 10.0 + 5.0 * 40.0, rel=1e-6)


def test_baseline_is_fitted_when_unknown_and_utilisation_varies() -> None:
    specs = [NodeSpec("a", 0.0, 5.0, 4.0, 6), NodeSpec("b", 5.0, 5.0, 0.5, 6)]
    result = attribute_energy(build_session(specs, idle_w=12.0, baseline_w=None))
    host = result.hosts["h"]
    assert host.baseline_power_w["synthetic:cpu"] == pytest.approx(12.0, rel=1e-3)
    assert host.baseline_method["synthetic:cpu"].startswith("fitted")


def test_unknown_idle_mode_is_an_error() -> None:
    with pytest.raises(ValueError, match="separate"):
        attribute_energy(build_session([NodeSpec("a", 0, 1, 1, 2)]), idle="everything")


def test_shared_idle_goes_to_the_nodes_not_the_scheduler() -> None:
    """Two records run the whole time; one is the scheduler. With idle shared, the node gets
    all of the baseline (10 W x 10 s = 100 J by hand) and the scheduler none of it."""
    specs = [
        NodeSpec("wf.node", 0.0, 10.0, 0.5, 11),
        NodeSpec("wf.(scheduler)", 0.0, 10.0, 0.1, 11),
    ]
    session = build_session(specs, idle_w=10.0, baseline_w=10.0)
    session.nodes["wf.(scheduler)"].extra["kind"] = "orchestration"
    result = attribute_energy(session, idle="shared")
    assert result.nodes["wf.(scheduler)"].energy_idle_j == 0.0
    assert result.nodes["wf.node"].energy_idle_j == pytest.approx(100.0, rel=1e-6)


@pytest.mark.parametrize("exclusive", [False, True])
def test_modelled_memory_counts_what_the_nodes_used_unless_the_host_was_the_runs(
    exclusive: bool,
) -> None:
    """6 W for 16 GB installed; one node holds 2 GB for 10 s. By hand: the node's memory
    energy is 6 x 2/16 x 10 = 7.5 J; the run's memory energy is that, or all 60 J of the
    installed memory when the host ran nothing else (52.5 J then unclaimed)."""
    spec = NodeSpec("wf.node", 0.0, 10.0, 0.5, 11, rss_b=2 * 1024**3)
    session = build_session([spec])
    session.settings["exclusive_host"] = exclusive
    result = attribute_energy(session)
    host = next(iter(result.hosts.values()))
    assert result.nodes["wf.node"].energy_dram_j == pytest.approx(7.5, rel=1e-6)
    assert host.measured_j["dram"] == pytest.approx(60.0 if exclusive else 7.5, rel=1e-6)
    assert host.unattributed_j["dram"] == pytest.approx(52.5 if exclusive else 0.0, abs=1e-6)


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 0, 1)])
def test_overlapping_nodes_split_by_hand(order: tuple[int, int, int]) -> None:
    """Three nodes overlap in part (the split is made one node at a time, over its own bins).

    10 W idle, 5 J per CPU-second, 6 W of memory for 16 GiB, each node holding 8 GiB.
    a runs 0-10 s at 1 CPU, b 2-6 s at 0.5, c 5-10 s at 2. By hand, CPU: 5 J x CPU-s
    (a 50, b 10, c 50 J). Shared idle (10 W among the nodes running): 0-2 s a alone 20 J;
    2-5 s a, b 15 J each; 5-6 s all three 10/3 J each; 6-10 s a, c 20 J each. Memory:
    each node's 8 GiB over max(16 GiB, what the running nodes hold): 0-2 s a 6 x 1/2 x 2
    = 6 J (6 J nobody's); 2-5 s a, b 9 J each; 5-6 s 2 J each (24 GiB held); 6-10 s a, c
    12 J each.
    """
    gib = 1024**3
    specs = [
        NodeSpec("a", 0.0, 10.0, 1.0, 21, rss_b=8 * gib),
        NodeSpec("b", 2.0, 4.0, 0.5, 9, rss_b=8 * gib),
        NodeSpec("c", 5.0, 5.0, 2.0, 11, rss_b=8 * gib),
    ]
    session = build_session([specs[i] for i in order], idle_w=10.0, j_per_cpu_s=5.0)
    result = attribute_energy(session, idle="shared")
    nodes, host = result.nodes, result.hosts["h"]
    expected = {  # cpu, idle, dram
        "a": (50.0, 20.0 + 15.0 + 10.0 / 3 + 20.0, 6.0 + 9.0 + 2.0 + 12.0),
        "b": (10.0, 15.0 + 10.0 / 3, 9.0 + 2.0),
        "c": (50.0, 10.0 / 3 + 20.0, 2.0 + 12.0),
    }
    for name, (cpu_j, idle_j, dram_j) in expected.items():
        assert nodes[name].energy_cpu_j == pytest.approx(cpu_j, rel=1e-9)
        assert nodes[name].energy_idle_j == pytest.approx(idle_j, rel=1e-9)
        assert nodes[name].energy_dram_j == pytest.approx(dram_j, rel=1e-9)
    assert host.unattributed_j["cpu"] == pytest.approx(0.0, abs=1e-9)
    assert host.unattributed_j["idle"] == pytest.approx(0.0, abs=1e-9)
    assert host.measured_j["dram"] == pytest.approx(54.0, rel=1e-9)  # 60 J less the 6 J unused
