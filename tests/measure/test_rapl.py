"""The RAPL meter against fake powercap trees laid out as the kernel lays them out."""

from __future__ import annotations

import multiprocessing
import os
import stat
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from nipype_carbon import NodeRecord, Session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.analyse.counters import counter_energy
from nipype_carbon.measure.measurement import Domain
from nipype_carbon.measure.meters import (
    MeterAbsent,
    MeterPermissionDenied,
    RaplMeter,
    select_meters,
)
from nipype_carbon.measure.meters.rapl import POWERCAP_ROOT_ENV, discover_zones
from nipype_carbon.measure.nodemeter import NodeMeter
from testkit.powercap import FakePowercap, intel_server


def test_reads_packages_and_dram_but_not_core_psys_or_mmio(tmp_path: Path) -> None:
    intel_server(tmp_path, sockets=2)
    meter = RaplMeter(tmp_path)
    names = sorted(d.name for d in meter.domains())
    assert names == ["rapl:dram-0", "rapl:dram-1", "rapl:package-0", "rapl:package-1"]
    components = {d.name: d.component for d in meter.domains()}
    assert components["rapl:dram-0"] == "dram" and components["rapl:package-1"] == "cpu"
    skipped = " ".join(meter.skipped)
    assert "core" in skipped and "psys" in skipped and "mmio" in skipped


def test_wrap_range_is_read_in_joules(tmp_path: Path) -> None:
    FakePowercap(tmp_path).zone("intel-rapl:0", "package-0", range_uj=65_532_610_987)
    (domain,) = RaplMeter(tmp_path).domains()
    assert domain.wrap_j == pytest.approx(65_532.610987)
    assert domain.kind == "counter" and domain.method == "rapl"


def test_amd_tree_without_dram_is_read(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.zone("intel-rapl:0", "package-0", start_uj=5_000_000)
    tree.zone("intel-rapl:0/intel-rapl:0:0", "core")
    meter = RaplMeter(tmp_path)
    assert meter.read() == {"rapl:package-0": pytest.approx(5.0)}


def test_no_package_zone_is_absent_with_the_root_named(tmp_path: Path) -> None:
    FakePowercap(tmp_path).zone("intel-rapl:0", "psys")
    with pytest.raises(MeterAbsent, match=str(tmp_path)):
        RaplMeter(tmp_path)


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    intel_server(tmp_path)
    monkeypatch.setenv(POWERCAP_ROOT_ENV, str(tmp_path))
    chosen = select_meters(use=("rapl",))
    assert chosen.methods() == {"cpu": "rapl", "dram": "rapl"}
    assert [m.kind for m in chosen.meters] == ["rapl"]


def test_missing_rapl_falls_back_to_model_and_says_why(tmp_path: Path) -> None:
    chosen = select_meters(powercap_root=tmp_path, use=("rapl",))
    assert chosen.methods() == {"cpu": "model", "dram": "model"}
    assert chosen.skipped["rapl"].startswith("absent: no RAPL package zone")


def _open_as_nobody(root: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    os.setgid(65534)
    os.setuid(65534)
    try:
        RaplMeter(root)
        queue.put("opened")
    except MeterPermissionDenied as err:
        queue.put(f"denied|{err.fix}")
    except Exception as err:  # pragma: no cover - reported to the parent
        queue.put(f"other|{type(err).__name__}: {err}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_root_only_counters_are_no_permission_with_the_fix() -> None:
    root = Path(tempfile.mkdtemp(prefix="powercap-"))
    root.chmod(0o755)
    FakePowercap(root).zone("intel-rapl:0", "package-0")
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o444)
    (root / "intel-rapl:0" / "energy_uj").chmod(stat.S_IRUSR)  # 0400, as since 2020
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_open_as_nobody, args=(str(root), queue))
    child.start()
    child.join(30)
    outcome = queue.get(timeout=5)
    assert outcome.startswith("denied|"), outcome
    assert "chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj" in outcome


def test_known_power_with_wraps_through_the_public_api(tmp_path: Path) -> None:
    """Acceptance: a package at 50 W wrapping every 2 s reads as 50 W within 2 %."""
    tree = FakePowercap(tmp_path)
    tree.zone("intel-rapl:0", "package-0", power_w=50.0, range_uj=100_000_000)  # 100 J
    tree.zone("intel-rapl:0/intel-rapl:0:0", "core", power_w=40.0, range_uj=100_000_000)
    with tree:
        time.sleep(0.05)
        with NodeMeter(meters=[RaplMeter(tmp_path)], sample_interval_s=0.25) as meter:
            time.sleep(5.0)
    assert meter.measurement is not None
    session = Session()
    session.add_node(NodeRecord.from_measurement("sleeper", meter.measurement))
    result = attribute_energy(session)
    host = next(iter(result.hosts.values()))
    assert host.wraps >= 2
    assert host.measured_j["cpu"] / host.duration_s == pytest.approx(50.0, rel=0.02)
    assert result.nodes["sleeper"].methods == {"cpu": "rapl"}


def test_stale_readings_across_a_wrap_add_no_energy() -> None:
    """Readings merged from two processes, one a little stale, around a wrap at 60 J.

    By hand: the counter goes 59.0 -> 59.9 -> (wrap) 60.2 -> 60.3 -> 90 -> 119 -> 121,
    so 62 J in all; the stale 59.95 read by the other process adds nothing.
    """
    values = np.array([59.0, 59.9, 0.2, 59.95, 0.3, 30.0, 59.0, 1.0])
    found = counter_energy(np.zeros(len(values)), values, _counter(60.0), timed=False)
    assert found.energy_j.sum() == pytest.approx(62.0)
    assert found.wraps == 2 and (found.energy_j >= 0).all() and not found.glitches


def test_wraps_across_long_gaps_are_placed_by_the_counters_power() -> None:
    """A 60 J counter at a steady 40 W, read every 0.25 s, then not for 1.2 s (a stalled reader:
    48 J passed, more than half the range), then every 0.25 s again: 40 W x 3.2 s = 128 J.

    By value alone the reading after the gap (counter at 2.0 J, 46 J below the last) is nearest
    the last one as a stale reading; by the counter's power it is one wrap on.
    """
    t = np.array([0.0, 0.25, 0.5, 0.75, 1.0, 2.2, 2.45, 2.7, 2.95, 3.2])
    values = (40.0 * t + 8.0) % 60.0
    found = counter_energy(t, values, _counter(60.0, bound_w=50.0))
    assert found.energy_j.sum() == pytest.approx(128.0)
    assert found.wraps == 2 and not found.glitches
    by_value = counter_energy(np.zeros(len(t)), values, _counter(60.0), timed=False)
    assert by_value.energy_j.sum() == pytest.approx(128.0 - 60.0)  # lost without times


def _counter(wrap_j: float, bound_w: float | None = None) -> Domain:
    return Domain("rapl:package-0", "cpu", "counter", "rapl", wrap_j=wrap_j, power_bound_w=bound_w)


def test_each_die_of_a_package_is_counted_once(tmp_path: Path) -> None:
    tree = FakePowercap(tmp_path)
    tree.zone("intel-rapl:0", "package-0-die-0", 40.0)
    tree.zone("intel-rapl:1", "package-0-die-1", 40.0)  # the same package seen from its die
    tree.zone("intel-rapl:2", "package-1-die-0", 40.0)
    zones, skipped = discover_zones(tmp_path)
    assert sorted(name for name, _, _ in zones) == ["package-0-die-0", "package-1-die-0"]
    assert any("another die" in reason for reason in skipped)
