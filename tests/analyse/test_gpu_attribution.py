"""GPU energy through the real NVML meter (on a fake NVML) and attribution by utilisation."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from nipype_carbon import NodeRecord, Session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.measure.meters import ModelMeter
from nipype_carbon.measure.meters.nvml import NvmlMeter
from nipype_carbon.measure.nodemeter import NodeMeter
from testkit.nvml import FakeGpu, FakeNvml, FakeSample

UUID = "GPU-5f1b7c2a-0000-1111-2222-333344445555"


def test_gpu_energy_is_split_by_the_nodes_share_of_utilisation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    gpu = FakeGpu(UUID, power_w=50.0)  # idle at first
    nvml = FakeNvml([gpu])
    meter = NvmlMeter.probe(nvml=nvml)
    other_pid = 999_999  # another user's process on the same GPU
    busy = threading.Timer(0.5, nvml.set_power, args=(0, 250.0))
    child = None
    try:
        with NodeMeter(meters=[meter, ModelMeter()], sample_interval_s=0.1) as node:
            # the node's work: a child process it starts, which uses the GPU
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3)"])
            gpu.samples = [FakeSample(child.pid, 1, 75), FakeSample(other_pid, 1, 25)]
            busy.start()
            time.sleep(1.5)
    finally:
        busy.join()
        if child is not None:
            child.kill()
            child.wait()
    assert node.measurement is not None
    rows = node.measurement.samples["gpu"][UUID]
    assert rows[-1][:2] == [75.0, 100.0]  # the node's processes, all processes
    session = Session()
    session.add_node(NodeRecord.from_measurement("train", node.measurement))
    result = attribute_energy(session)
    host = next(iter(result.hosts.values()))
    gpu_j = host.measured_j["gpu"]
    assert gpu_j == pytest.approx(50 * 0.5 + 250 * 1.0, rel=0.1)
    assert host.baseline_power_w["nvml:0"] == pytest.approx(50.0, rel=0.1)
    dynamic_j = gpu_j - host.baseline_power_w["nvml:0"] * host.duration_s
    assert result.nodes["train"].energy_gpu_j == pytest.approx(0.75 * dynamic_j, rel=0.1)
    assert result.nodes["train"].methods["gpu"] == "nvml"


def test_a_modelled_gpu_is_charged_to_the_node_running() -> None:
    """A declared 100-W GPU and one node for about a second: by hand, the node gets
    100 W x its duration of GPU energy, none of it left as idle."""
    session = Session()
    meter = NodeMeter(meters=[ModelMeter(declared_gpus=["Lab GPU=100"])], sample_interval_s=0.1)
    with meter:
        time.sleep(1.0)
    assert meter.measurement is not None
    session.add_node(NodeRecord.from_measurement("wf.gpu_step", meter.measurement))
    result = attribute_energy(session)
    node = result.nodes["wf.gpu_step"]
    duration = meter.measurement.end - meter.measurement.start
    assert node.energy_gpu_j == pytest.approx(100.0 * duration, rel=0.02)
    assert next(iter(result.hosts.values())).unattributed_j["gpu"] == pytest.approx(0.0, abs=1e-6)
