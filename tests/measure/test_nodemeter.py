"""NodeMeter: exact tree CPU, never raising, every start method, concurrent attribution."""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from nipype_carbon import NodeRecord, Session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.measure.measurement import Domain, HostNow, Measurement
from nipype_carbon.measure.meters import EnergyMeter, ModelMeter
from nipype_carbon.measure.nodemeter import SAMPLER_THREAD_NAME, NodeMeter
from tests import workloads


def test_short_lived_child_counts_for_its_parent() -> None:
    """Acceptance: a command-line child that burns 1 CPU-second counts for its parent unit."""
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=0.2) as meter:
        child_s = workloads.burn_in_child(1.0)
    m = meter.measurement
    assert m is not None and child_s >= 1.0
    assert child_s <= m.cpu_s <= child_s + 0.1  # the child's, plus this process's small share
    assert m.peak_rss_b > 0


def test_many_50ms_children_all_count() -> None:
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=0.05) as meter:
        children_s = sum(workloads.burn_in_child(0.05) for _ in range(6))
    assert meter.measurement is not None
    assert children_s <= meter.measurement.cpu_s <= children_s + 0.1


def test_samples_are_a_time_series_of_host_counters() -> None:
    m = workloads.measured("cpu", 0.6, interval_s=0.1)
    samples = m["samples"]
    assert len(samples["t"]) >= 4
    assert samples["t"] == sorted(samples["t"])
    assert samples["cpu_s"][-1] == pytest.approx(m["cpu_s"])
    assert len(samples["domains"]["model:cpu"]) == len(samples["t"])
    assert samples["host_busy_cpu_s"][-1] - samples["host_busy_cpu_s"][0] >= 0.5


class ExplodingMeter(EnergyMeter):
    """A meter that works once, then fails: the work must not notice."""

    kind = "exploding"

    def __init__(self) -> None:
        self.reads = 0

    def domains(self) -> list[Domain]:
        return [Domain("exploding:x", "cpu", "counter", "exploding")]

    def read(self, now: HostNow | None = None) -> dict[str, float]:
        self.reads += 1
        if self.reads > 1:
            raise OSError("device went away")
        return {"exploding:x": 1.0}


def test_a_failing_meter_never_reaches_the_work() -> None:
    with NodeMeter(meters=[ExplodingMeter(), ModelMeter()], sample_interval_s=0.05) as meter:
        workloads.burn_cpu_s(0.2)
    m = meter.measurement
    assert m is not None and m.cpu_s > 0.15
    assert any("device went away" in e for e in m.errors)
    column = m.samples["domains"]["exploding:x"]
    assert column[0] == 1.0 and column[-1] is None and len(column) == len(m.samples["t"])


def test_an_exception_in_the_work_propagates_and_is_measured() -> None:
    meter = NodeMeter(meters=[ModelMeter()], sample_interval_s=0.05)
    with pytest.raises(ZeroDivisionError), meter:
        workloads.burn_cpu_s(0.1)
        _ = 1 / 0
    assert meter.measurement is not None and meter.measurement.cpu_s >= 0.09
    assert not [t for t in threading.enumerate() if t.name == SAMPLER_THREAD_NAME]


def test_meter_cpu_is_kept_apart_from_the_node() -> None:
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=0.01) as meter:
        import time

        time.sleep(0.5)
    m = meter.measurement
    assert m is not None
    assert m.meter_cpu_s > 0
    assert m.cpu_s < 0.05  # sleeping costs nothing; the sampler's CPU is not the node's


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_works_under_every_start_method(method: str) -> None:
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        m = pool.submit(workloads.measured, "child", 0.3, 0.1).result(timeout=120)
    assert 0.3 <= m["cpu_s"] <= 0.6  # the child's 0.3 s, its start-up and the worker's share
    assert Measurement.from_dict(m).samples["t"]


def _session_of(measurements: dict[str, dict[str, Any]]) -> Session:
    session = Session()
    for name, m in measurements.items():
        session.add_node(NodeRecord.from_measurement(name, Measurement.from_dict(m)))
    return session


def test_two_concurrent_processes_2_to_1_get_dynamic_energy_2_to_1() -> None:
    """Acceptance: CPU times 2:1 in two concurrent processes give dynamic energy 2:1 (±10 %)."""
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        long = pool.submit(workloads.measured, "cpu", 1.6)
        short = pool.submit(workloads.measured, "cpu", 0.8)
        ms = {"long": long.result(timeout=120), "short": short.result(timeout=120)}
    result = attribute_energy(_session_of(ms))
    cpu_ratio = ms["long"]["cpu_s"] / ms["short"]["cpu_s"]
    energy_ratio = result.nodes["long"].energy_cpu_j / result.nodes["short"].energy_cpu_j
    detail = f"cpu {cpu_ratio:.3f}, energy {energy_ratio:.3f}, {result.hosts}, {ms}"
    assert cpu_ratio == pytest.approx(2.0, rel=0.1), detail
    assert energy_ratio == pytest.approx(2.0, rel=0.1), detail
    assert result.attributed_energy_j + result.unattributed_energy_j == pytest.approx(
        result.energy_j
    )


def test_progress_hands_over_what_was_measured_so_far() -> None:
    """Refreshed once the work has lasted one interval, then each time it lasts a quarter
    longer: over 0.6 s at 0.05 s, at about 0.05, 0.1, 0.15, 0.2, 0.25, 0.31, 0.39, 0.49 s
    (fewer on a loaded host, where samples come late; never more than 13)."""
    seen: list[Measurement] = []
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=0.05, on_progress=seen.append) as m:
        workloads.burn_cpu_s(0.6)
    final = m.measurement
    assert final is not None and 2 <= len(seen) <= 13
    rows = [len(p.samples["t"]) for p in seen]
    assert rows == sorted(rows) and rows[-1] < len(final.samples["t"])
    for p in seen:
        assert p.start == final.start and p.end == p.samples["t"][-1] <= final.end
        assert 0.0 <= p.cpu_s <= final.cpu_s
        n = len(p.samples["t"])  # a copy: the sampler went on without changing it
        assert all(len(c) == n for c in p.samples["domains"].values())
    assert seen[-1].cpu_s > seen[0].cpu_s


def test_short_work_starts_no_sampler_thread() -> None:
    """Work shorter than one interval has its first and last samples and no thread."""
    names: list[str] = []
    with NodeMeter(meters=[ModelMeter()], sample_interval_s=5.0) as meter:
        names += [t.name for t in threading.enumerate()]
    assert SAMPLER_THREAD_NAME not in names
    assert meter.measurement is not None and len(meter.measurement.samples["t"]) == 2
