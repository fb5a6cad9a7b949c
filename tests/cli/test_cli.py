"""The command line, in-process: doctor, regions, errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nipype_carbon.cli.main import main
from testkit.powercap import intel_server


def test_doctor_says_what_it_looked_for_and_what_the_model_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIPYPE_CARBON_POWERCAP_ROOT", str(tmp_path))
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert f"absent: no RAPL package zone under {tmp_path}" in out
    assert "NVML" in out and "pyRAPL" in out
    assert "CPU rated power" in out and "J per busy CPU-second" in out
    assert "0.3725 W/GB" in out and "world average" in out


def test_doctor_with_rapl_measures_cpu_and_dram(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    intel_server(tmp_path)
    assert main(["doctor", "--powercap-root", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["methods"] == {"cpu": "rapl", "dram": "rapl"}
    assert report["meters"]["rapl"].startswith("available: rapl:package-0")


def test_doctor_cpu_override_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--cpu-tdp-w", "125"]) == 0
    assert "125 W (user setting cpu_tdp_w)" in capsys.readouterr().out


def test_bad_region_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", "--region", "Atlantis"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nipype-carbon doctor: unknown region") and "\n" not in err
    assert "intensity" not in err  # doctor takes no intensity: no hint at one


def test_doctor_takes_regions_as_people_name_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--region", "UK"]) == 0
    assert "Grid: GB, " in capsys.readouterr().out  # the United Kingdom's ISO code


def test_regions_lists_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "CA-"]) == 0
    out = capsys.readouterr().out
    assert "CA-QC" in out and "Green Algorithms" in out and "CC BY 4.0" in out


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_console_script_and_module_entry_point() -> None:
    for command in (
        ["nipype-carbon", "--version"],
        [sys.executable, "-m", "nipype_carbon", "--version"],
    ):
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        assert out.startswith("nipype-carbon ")
