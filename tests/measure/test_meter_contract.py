"""One contract, every meter: the fakes implement the real abstract class, so drift breaks here."""

from __future__ import annotations

import functools
import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest

from nipype_carbon.measure.meters import EnergyMeter, ModelMeter, RaplMeter
from nipype_carbon.measure.meters.nvml import NvmlMeter
from nipype_carbon.measure.meters.pyrapl import PyRaplMeter
from testkit.nvml import FakeGpu, FakeNvml
from testkit.powercap import intel_server
from testkit.pyrapl import FakeRaplSensor, ManualClock


def _rapl(tmp_path: Path) -> EnergyMeter:
    intel_server(tmp_path, sockets=2)
    return RaplMeter(tmp_path)


def _model(tmp_path: Path) -> EnergyMeter:
    return ModelMeter(declared_gpus=["NVIDIA L4"])


def _nvml(tmp_path: Path) -> EnergyMeter:
    fake = FakeNvml(
        [FakeGpu("GPU-11111111-2222", power_w=100.0), FakeGpu("GPU-3333", energy_counter=False)]
    )
    return NvmlMeter.probe(nvml=fake)


def _pyrapl(tmp_path: Path) -> EnergyMeter:
    factory = functools.partial(FakeRaplSensor, (40.0, 4.0), ManualClock())
    return PyRaplMeter(sensor_factory=factory, max_energy_range_uj=2**32)


METERS: dict[str, Callable[[Path], EnergyMeter]] = {
    "rapl": _rapl,
    "model": _model,
    "nvml": _nvml,
    "pyrapl": _pyrapl,
}


@pytest.fixture(params=sorted(METERS))
def meter(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> EnergyMeter:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return METERS[request.param](tmp_path)


def test_is_an_energy_meter_with_a_kind(meter: EnergyMeter) -> None:
    assert isinstance(meter, EnergyMeter)
    assert meter.kind in ("rapl", "model", "nvml", "pyrapl")


def test_domains_are_unique_prefixed_and_typed(meter: EnergyMeter) -> None:
    domains = meter.domains()
    names = [d.name for d in domains]
    assert domains and len(set(names)) == len(names)
    for d in domains:
        assert d.name.startswith(meter.kind + ":")
        assert d.component in ("cpu", "dram", "gpu") and d.kind in ("counter", "power")
        assert d.method == meter.kind


def test_read_gives_a_finite_non_negative_value_per_domain(meter: EnergyMeter) -> None:
    values = meter.read()
    assert set(values) == {d.name for d in meter.domains()}
    assert all(isinstance(v, float) and 0 <= v < float("inf") for v in values.values())


def test_baseline_only_for_own_domains(meter: EnergyMeter) -> None:
    assert set(meter.baseline_power_w()) <= {d.name for d in meter.domains()}


def test_info_is_json_for_the_session(meter: EnergyMeter) -> None:
    info = json.loads(json.dumps(meter.info().to_dict()))
    assert info["kind"] == meter.kind and len(info["domains"]) == len(meter.domains())


def test_travels_to_another_process(meter: EnergyMeter) -> None:
    copy = pickle.loads(pickle.dumps(meter))
    assert [d.name for d in copy.domains()] == [d.name for d in meter.domains()]
    assert set(copy.read()) == set(meter.read())
    copy.close()
    meter.close()


def test_gpu_use_never_raises(meter: EnergyMeter) -> None:
    uses = meter.gpu_use({1, 2, 3})
    assert all(0 <= u.util_percent <= 100 for u in uses)
