"""Attribution against a truth the code does not compute: a powercap emulator.

The emulated package counter follows the host's real load (known idle power
plus known joules per busy CPU-second of the whole host, parsed from
/proc/stat by the emulator itself), so a node's true CPU energy is
``J_PER_CPU_S`` x its CPU seconds and the true baseline is ``IDLE_W``. Other
processes start keeping both CPUs busy after the run has begun: busy energy
must still go to the nodes that caused it, not become "idle".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nipype_carbon import load_session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.record.runs import session_files
from testkit.scenario import (
    IDLE_W,
    LOAD_AFTER_S,
    QUIET,
    errors,
    host_utilisation,
    run_nipype,
    run_pydra,
)
from tests.plugin import workflows

TOLERANCE = 0.10
PLUGINS = ["CarbonMultiProc", "CarbonLinear"]


def require_quiet_host() -> None:
    if host_utilisation() > QUIET:
        pytest.skip(
            "the host is busy before the run: no reading can tell its baseline from busy "
            "power (the calibrated tests cover a host busy throughout)"
        )


def check_truth(carbon_dir: Path, cli_dir: Path | None = None) -> None:
    found = errors(carbon_dir)
    cpu = {k: v for k, v in found.items() if not k.startswith("baseline")}
    assert len(cpu) == 2, found  # the burner and the command-line node
    assert all(abs(e) <= TOLERANCE for e in found.values()), found
    session = load_session(session_files(carbon_dir)[-1])
    result = attribute_energy(session)
    burn = next(r for r in session.nodes.values() if r.name.endswith(".burn")).measurement
    # its known cost: the task burns until its clock reads 2 s, a clock that, in a worker
    # process, also runs for the meter's sampler thread (left out of cpu_s, kept apart)
    assert burn["cpu_s"] + burn["meter_cpu_s"] >= 2.0 - 0.01
    if cli_dir is not None:
        cli = result.nodes["truth.cli"]
        assert cli.cpu_s >= workflows.child_cpu_s(cli_dir)
        assert result.nodes["truth.nap"].cpu_s < 0.2  # asleep in the driver, beside the pool


@pytest.mark.parametrize("plugin", PLUGINS)
def test_nodes_get_their_true_cpu_energy_when_the_host_gets_busy(
    tmp_path: Path, plugin: str
) -> None:
    """Quiet before the run, loaded from 1.5 s in: the baseline is measured and fitted."""
    require_quiet_host()
    carbon = run_nipype(tmp_path, plugin, LOAD_AFTER_S)
    check_truth(carbon, tmp_path / "truth" / "cli")


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_calibrated_baseline_splits_a_host_busy_throughout(tmp_path: Path, plugin: str) -> None:
    """Other processes may load the host before and during the run: with the baseline
    measured on a quiet host (``cpu_baseline_w``), nodes still get their true energy."""
    carbon = run_nipype(tmp_path, plugin, 0.0, cpu_baseline_w=IDLE_W)
    check_truth(carbon, tmp_path / "truth" / "cli")


def test_pydra_carbon_worker_gets_the_truth_when_the_host_gets_busy(tmp_path: Path) -> None:
    require_quiet_host()
    check_truth(run_pydra(tmp_path, LOAD_AFTER_S))


def test_pydra_carbon_worker_with_a_calibrated_baseline(tmp_path: Path) -> None:
    check_truth(run_pydra(tmp_path, 0.0, cpu_baseline_w=IDLE_W))


def test_doctor_calibrates_a_quiet_host_and_runs_use_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """doctor --calibrate on the quiet emulated host keeps about 12 W; a later run on a host
    busy throughout takes it as its baseline (labelled so) and gets the truth."""
    require_quiet_host()
    from nipype_carbon.cli.main import main
    from testkit.powercap import LoadFollowingProcess

    monkeypatch.setenv("NIPYPE_CARBON_CALIBRATION", str(tmp_path / "calibration.json"))
    with LoadFollowingProcess(tmp_path / "cal-powercap", IDLE_W, 9.0):
        status = main(
            ["doctor", "--powercap-root", str(tmp_path / "cal-powercap"), "--calibrate", "2"]
        )
    out = capsys.readouterr()
    if status == 2 and "busy while calibrating" in out.err:
        pytest.skip("the host got busy while calibrating")
    assert status == 0, out
    carbon = run_nipype(tmp_path / "run", "CarbonMultiProc", 0.0)
    found = errors(carbon)
    assert "baseline (calibrated)" in found, found
    assert all(abs(e) <= TOLERANCE for e in found.values()), found
