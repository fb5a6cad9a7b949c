"""NvmlMeter over a fake NVML: units, visible devices, errors, GPU use, pickling."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor

import pytest

from nipype_carbon.measure.meters.base import MeterAbsent, MeterBroken, MeterPermissionDenied
from nipype_carbon.measure.meters.nvml import NvmlMeter, parse_visible_devices
from testkit.nvml import (
    FakeGpu,
    FakeNvml,
    FakeNVMLError,
    FakeProcess,
    FakeSample,
    ManualClock,
)

UUID_A = "GPU-8a3f2b1c-0000-4000-8000-000000000001"
UUID_B = "GPU-12ab9c7d-0000-4000-8000-000000000002"
GIB = 2**30


@pytest.fixture(autouse=True)
def _no_cuda_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def nvml(clock: ManualClock) -> FakeNvml:
    """GPU 0 has an energy counter at 250 W; GPU 1 only samples power, 70 W."""
    return FakeNvml(
        [
            FakeGpu(UUID_A, power_w=250.0, power_limit_w=400.0),
            FakeGpu(UUID_B, name="Tesla P100", power_w=70.0, energy_counter=False),
        ],
        clock=clock,
    )


def test_counter_gpu_gives_joules_at_the_fake_power(nvml: FakeNvml, clock: ManualClock) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    domain = meter.domains()[0]
    assert (domain.name, domain.kind, domain.component) == ("nvml:0", "counter", "gpu")
    assert (domain.method, domain.device, domain.wrap_j) == ("nvml", UUID_A, None)
    before_j = meter.read()["nvml:0"]
    clock.advance(10.0)
    after_j = meter.read()["nvml:0"]
    assert before_j == pytest.approx(5.0e3)  # 5e6 mJ since driver load
    assert (after_j - before_j) / 10.0 == pytest.approx(250.0, rel=0.01)


def test_power_only_gpu_gives_watts(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    assert meter.domains()[1].kind == "power"
    assert meter.read()["nvml:1"] == pytest.approx(70.0)
    nvml.set_power(1, 123.4)
    assert meter.read()["nvml:1"] == pytest.approx(123.4)


def test_sampling_is_chosen_per_gpu_at_open(nvml: FakeNvml) -> None:
    nvml.fail("nvmlDeviceGetTotalEnergyConsumption", FakeNvml.NVML_ERROR_NOT_SUPPORTED, index=0)
    meter = NvmlMeter.probe(nvml=nvml)
    assert [d.kind for d in meter.domains()] == ["power", "power"]
    assert meter.read()["nvml:0"] == pytest.approx(250.0)


@pytest.mark.parametrize(
    ("env", "expected"),
    [("1", ["nvml:1"]), ("GPU-12ab", ["nvml:1"]), ("GPU-12AB9C7D,0", ["nvml:1", "nvml:0"])],
)
def test_cuda_visible_devices_selects_gpus(
    nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch, env: str, expected: list[str]
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    meter = NvmlMeter.probe(nvml=nvml)
    assert [d.name for d in meter.domains()] == expected
    assert sorted(meter.read()) == sorted(expected)


@pytest.mark.parametrize("env", ["", "-1", " -1,0"])
def test_cuda_visible_devices_hiding_all_gpus_is_absent(
    nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch, env: str
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", env)
    with pytest.raises(MeterAbsent, match="no GPU visible"):
        NvmlMeter.probe(nvml=nvml)


def test_visible_devices_argument_overrides_the_environment(
    nvml: FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    meter = NvmlMeter.probe(nvml=nvml, visible_devices=[1])
    assert [d.name for d in meter.domains()] == ["nvml:1"]


def test_parse_visible_devices_follows_cuda_rules() -> None:
    uuids = [UUID_A, UUID_B, "GPU-12ffffff-0000"]
    assert parse_visible_devices(None, uuids) == [0, 1, 2]
    assert parse_visible_devices("2,0,1", uuids) == [2, 0, 1]
    assert parse_visible_devices("0,-1,1", uuids) == [0]  # the list ends at an invalid entry
    assert parse_visible_devices("0,7,1", uuids) == [0]
    assert parse_visible_devices("GPU-12", uuids) == []  # ambiguous prefix
    assert parse_visible_devices("MIG-aaaa,1,1", uuids) == [1]
    assert parse_visible_devices("gpu-8a3f", uuids) == [0]


@pytest.mark.parametrize(
    ("code", "error", "fix"),
    [
        (FakeNvml.NVML_ERROR_NO_PERMISSION, MeterPermissionDenied, "/dev/nvidia"),
        (FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED, MeterAbsent, "driver"),
        (FakeNvml.NVML_ERROR_LIBRARY_NOT_FOUND, MeterAbsent, "libnvidia-ml"),
        (FakeNvml.NVML_ERROR_LIB_RM_VERSION_MISMATCH, MeterBroken, "reboot"),
    ],
)
def test_init_errors_are_translated_with_a_fix(
    nvml: FakeNvml, code: int, error: type[Exception], fix: str
) -> None:
    nvml.fail("nvmlInit", code)
    with pytest.raises(error) as caught:
        NvmlMeter.probe(nvml=nvml)
    assert fix in (getattr(caught.value, "fix", None) or "")


def test_unknown_errors_are_broken(nvml: FakeNvml) -> None:
    nvml.fail("nvmlDeviceGetCount", FakeNvml.NVML_ERROR_UNKNOWN)
    with pytest.raises(MeterBroken):
        NvmlMeter.probe(nvml=nvml)
    assert nvml.init_depth == 0  # the failed open shut NVML down again


def test_permission_denied_on_energy_is_not_taken_for_unsupported(nvml: FakeNvml) -> None:
    nvml.fail("nvmlDeviceGetTotalEnergyConsumption", FakeNvml.NVML_ERROR_NO_PERMISSION)
    with pytest.raises(MeterPermissionDenied):
        NvmlMeter.probe(nvml=nvml)


def test_read_error_is_broken(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    nvml.fail("nvmlDeviceGetTotalEnergyConsumption", FakeNvml.NVML_ERROR_GPU_IS_LOST, index=0)
    with pytest.raises(MeterBroken, match="GPU 0"):
        meter.read()


def test_gpu_without_energy_or_power_is_left_out(nvml: FakeNvml) -> None:
    nvml.gpus[1].power_reading = False
    meter = NvmlMeter.probe(nvml=nvml)
    assert [d.name for d in meter.domains()] == ["nvml:0"]
    assert meter.details()["unsupported_gpus"] == [UUID_B]
    nvml.gpus[0].energy_counter = nvml.gpus[0].power_reading = False
    with pytest.raises(MeterAbsent, match="energy or power"):
        NvmlMeter.probe(nvml=nvml)


def test_missing_bindings_are_absent_with_the_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    meter = NvmlMeter()  # constructing imports nothing
    with pytest.raises(MeterAbsent) as caught:
        meter.read()
    assert caught.value.fix == 'pip install "nipype-carbon[gpu]"'


def test_real_pynvml_without_a_driver_is_absent() -> None:
    pynvml = pytest.importorskip("pynvml")
    try:
        meter = NvmlMeter.probe(nvml=pynvml)
    except MeterAbsent as err:
        assert err.fix
        return
    meter.close()
    pytest.skip("this host has a working NVIDIA driver")


def test_gpu_use_splits_by_pid(nvml: FakeNvml) -> None:
    gpu = nvml.gpus[0]
    gpu.samples = [FakeSample(100, 1_000, 30), FakeSample(200, 1_000, 50)]
    gpu.samples.append(FakeSample(100, 2_000, 40))  # pid 100 averages 35
    gpu.compute_processes = [FakeProcess(100, GIB), FakeProcess(200, 2 * GIB)]
    gpu.graphics_processes = [FakeProcess(100, GIB), FakeProcess(300, None)]
    meter = NvmlMeter.probe(nvml=nvml)
    first, second = meter.gpu_use({100, 300})
    assert (first.device, first.util_percent, first.total_util_percent) == (UUID_A, 35.0, 85.0)
    assert first.memory_b == GIB
    assert (second.device, second.util_percent, second.memory_b) == (UUID_B, 0.0, 0)
    again = meter.gpu_use({200})[0]  # NOT_FOUND: no new sample, the last figures hold
    assert (again.util_percent, again.total_util_percent) == (50.0, 85.0)
    gpu.samples.append(FakeSample(200, 3_000, 10))  # a new sample replaces them
    latest = meter.gpu_use({200})[0]
    assert (latest.util_percent, latest.total_util_percent) == (10.0, 10.0)


def test_gpu_use_caps_utilisation_at_100(nvml: FakeNvml) -> None:
    nvml.gpus[0].samples = [FakeSample(1, 10, 70), FakeSample(2, 10, 60)]
    use = NvmlMeter.probe(nvml=nvml).gpu_use({1, 2})[0]
    assert (use.util_percent, use.total_util_percent) == (100.0, 100.0)


def test_gpu_use_never_raises(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    nvml.fail("nvmlDeviceGetComputeRunningProcesses", FakeNvml.NVML_ERROR_GPU_IS_LOST)
    nvml.fail("nvmlDeviceGetProcessUtilization", FakeNvml.NVML_ERROR_UNKNOWN)
    assert [use.memory_b for use in meter.gpu_use({1})] == [0, 0]
    nvml.fail("nvmlInit", FakeNvml.NVML_ERROR_DRIVER_NOT_LOADED)
    assert NvmlMeter(nvml=nvml).gpu_use({1}) == []


def test_details_name_the_gpus_and_their_sampling(nvml: FakeNvml) -> None:
    details = NvmlMeter.probe(nvml=nvml).details()
    assert details["driver_version"] == "550.54.15"
    first, second = details["gpus"]
    assert (first["uuid"], first["sampling"], first["power_limit_w"]) == (UUID_A, "counter", 400.0)
    assert (second["name"], second["sampling"]) == ("Tesla P100", "power")


def test_fake_requires_init_like_nvml(nvml: FakeNvml) -> None:
    with pytest.raises(FakeNVMLError) as caught:
        nvml.nvmlDeviceGetCount()
    assert caught.value.value == FakeNvml.NVML_ERROR_UNINITIALIZED


def test_close_shuts_down_only_what_this_process_opened(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    meter.close()
    assert (nvml.init_depth, nvml.shutdown_calls) == (0, 1)
    NvmlMeter(nvml=nvml).close()
    assert nvml.shutdown_calls == 1


def test_pickle_round_trip_reopens_lazily(nvml: FakeNvml, clock: ManualClock) -> None:
    meter = NvmlMeter.probe(nvml=nvml, visible_devices="0")
    copy = pickle.loads(pickle.dumps(meter))
    assert copy.domains() == meter.domains()
    assert copy.read() == pytest.approx(meter.read())


def test_real_module_travels_by_name() -> None:
    pynvml = pytest.importorskip("pynvml")
    state = NvmlMeter(nvml=pynvml).__getstate__()
    assert state["_nvml"] is None
    assert pickle.loads(pickle.dumps(NvmlMeter(nvml=pynvml)))._module() is pynvml


def test_meter_reads_in_a_spawned_process(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        child_pid = pool.submit(os.getpid).result()
        child_read = pool.submit(meter.read).result()
        child_domains = pool.submit(meter.domains).result()
    assert child_pid != os.getpid()
    assert child_domains == meter.domains()
    assert child_read == pytest.approx(meter.read())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_initialises_nvml_again(nvml: FakeNvml) -> None:
    meter = NvmlMeter.probe(nvml=nvml)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report how often NVML was initialised, then leave at once
        try:
            meter.read()
            os.write(write_fd, str(nvml.init_calls).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    reported = os.read(read_fd, 64)
    os.close(read_fd)
    os.waitpid(pid, 0)
    assert reported == b"2"
    assert nvml.init_calls == 1
