"""PyRaplMeter over a fake pyRAPL sensor: layout, units, ranges, errors, pickling."""

from __future__ import annotations

import functools
import multiprocessing
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from nipype_carbon.measure.meters.base import MeterAbsent, MeterBroken, MeterPermissionDenied
from nipype_carbon.measure.meters.pyrapl import FALLBACK_RANGE_UJ, PyRaplMeter
from testkit.pyrapl import FakeRaplSensor, ManualClock, RaisingFactory

REPO = Path(__file__).resolve().parents[2]


def two_sockets(clock: ManualClock, **options: object) -> functools.partial[FakeRaplSensor]:
    """pkg0 40 W, dram0 4 W, pkg1 60 W, dram1 not read."""
    return functools.partial(FakeRaplSensor, (40.0, 4.0, 60.0, None), clock, **options)


def test_layout_maps_to_package_and_dram_domains(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    meter = PyRaplMeter(two_sockets(clock), powercap_root=str(tmp_path))
    domains = {d.name: d for d in meter.domains()}
    assert sorted(domains) == ["pyrapl:dram-0", "pyrapl:package-0", "pyrapl:package-1"]
    assert domains["pyrapl:package-1"].component == "cpu"
    assert domains["pyrapl:dram-0"].component == "dram"
    assert {(d.kind, d.method) for d in domains.values()} == {("counter", "pyrapl")}
    before_j = meter.read()
    clock.advance(10.0)
    after_j = meter.read()
    assert before_j["pyrapl:package-0"] == pytest.approx(1000.0)  # 1e9 uJ
    rates_w = {name: (after_j[name] - before_j[name]) / 10.0 for name in after_j}
    assert rates_w == pytest.approx(
        {"pyrapl:package-0": 40.0, "pyrapl:dram-0": 4.0, "pyrapl:package-1": 60.0}
    )


def test_given_range_sets_wrap(tmp_path: Path) -> None:
    meter = PyRaplMeter(two_sockets(ManualClock(0.0)), 262_143_328_850, str(tmp_path))
    assert [d.wrap_j for d in meter.domains()] == pytest.approx([262_143.328850] * 3)
    assert set(meter.details()["wrap_source"].values()) == {"given"}


def test_range_read_from_powercap_else_assumed(tmp_path: Path) -> None:
    package = tmp_path / "intel-rapl:0"
    dram = package / "intel-rapl:0:1"
    dram.mkdir(parents=True)
    (package / "name").write_text("package-0\n")
    (package / "max_energy_range_uj").write_text("262143328850\n")
    (dram / "name").write_text("dram\n")
    (dram / "max_energy_range_uj").write_text("65712999613\n")
    meter = PyRaplMeter(two_sockets(ManualClock(0.0)), powercap_root=str(tmp_path))
    wrap_j = {d.name: d.wrap_j for d in meter.domains()}
    assert wrap_j["pyrapl:package-0"] == pytest.approx(262_143.328850)
    assert wrap_j["pyrapl:dram-0"] == pytest.approx(65_712.999613)
    assert wrap_j["pyrapl:package-1"] == pytest.approx(FALLBACK_RANGE_UJ / 1e6)
    sources = meter.details()["wrap_source"]
    assert (sources["pyrapl:package-0"], sources["pyrapl:package-1"]) == ("sysfs", "assumed")


def test_values_are_raw_and_wrap_with_the_counter(tmp_path: Path) -> None:
    clock = ManualClock(0.0)
    factory = functools.partial(FakeRaplSensor, (100.0, None), clock, 0.0, 2**32)
    meter = PyRaplMeter(factory, 2**32, str(tmp_path))
    clock.advance(50.0)  # 5000 J drawn, past the 4294.97 J range
    assert meter.read()["pyrapl:package-0"] == pytest.approx(5000.0 - 2**32 / 1e6)


def test_permission_error_says_how_to_open_the_files() -> None:
    error = PermissionError(13, "Permission denied", "/sys/class/powercap/intel-rapl:0/energy_uj")
    with pytest.raises(MeterPermissionDenied) as caught:
        PyRaplMeter.probe(RaisingFactory(error))
    assert caught.value.fix == "sudo chmod -R a+r /sys/class/powercap/intel-rapl"


def test_pyrapl_cannot_record_is_absent() -> None:
    exceptions = pytest.importorskip("pyRAPL.exception")
    for error in (
        exceptions.PyRAPLCantInitDeviceAPI(),
        exceptions.PyRAPLCantRecordEnergyConsumption(None),
    ):
        with pytest.raises(MeterAbsent):
            PyRaplMeter.probe(RaisingFactory(error))


def test_nothing_read_is_absent_and_read_errors_are_broken(tmp_path: Path) -> None:
    with pytest.raises(MeterAbsent):
        PyRaplMeter.probe(functools.partial(FakeRaplSensor, (None, None)))
    meter = PyRaplMeter.probe(two_sockets(ManualClock(0.0)), powercap_root=str(tmp_path))
    meter._open().read_error = OSError(5, "Input/output error")
    with pytest.raises(MeterBroken):
        meter.read()


def test_missing_pyrapl_is_absent_with_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pyRAPL", None)
    monkeypatch.setitem(sys.modules, "pyRAPL.sensor", None)
    with pytest.raises(MeterAbsent) as caught:
        PyRaplMeter.probe()
    assert caught.value.fix == 'pip install "nipype-carbon[rapl]"'


def test_real_pyrapl_import_is_quiet_and_absent_without_rapl() -> None:
    pytest.importorskip("pyRAPL")
    if Path("/sys/class/powercap/intel-rapl").exists():
        pytest.skip("this host has RAPL")
    script = (
        "import logging\n"
        "from nipype_carbon.measure.meters.base import MeterAbsent\n"
        "from nipype_carbon.measure.meters.pyrapl import PyRaplMeter\n"
        "try:\n    PyRaplMeter.probe()\n"
        "except MeterAbsent as err:\n    print('absent', len(logging.getLogger().handlers))\n"
        "import sys\nprint('imported' if 'pyRAPL' in sys.modules else 'not imported', "
        "'pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    # found absent without importing pyRAPL (and the pandas it imports) at all
    assert done.stdout.split("\n")[:2] == ["absent 0", "not imported False"]
    assert "pymongo" not in done.stderr


def test_pickle_round_trip_and_spawned_process(tmp_path: Path) -> None:
    meter = PyRaplMeter.probe(two_sockets(ManualClock(0.0)), powercap_root=str(tmp_path))
    copy = pickle.loads(pickle.dumps(meter))
    assert copy.domains() == meter.domains()
    assert copy.read() == meter.read()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        assert pool.submit(meter.read).result() == meter.read()
