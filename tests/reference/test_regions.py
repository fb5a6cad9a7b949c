"""Regions as people name them: codes, names, aliases, search order, hints for where one is."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nipype_carbon.cli.main import main
from nipype_carbon.record.settings import CarbonSettings, SettingsError
from nipype_carbon.reference.grids import (
    AmbiguousRegionError,
    UnknownRegionError,
    intensity_table,
    lookup_region,
)
from testkit.sessions import NodeSpec, build_session


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A saved run of 40 nodes: with --top 40, rows of console output to fill a pipe's buffer."""
    specs = [NodeSpec(f"wf.step_{i}", i, 2, 1.0, 3) for i in range(40)]
    return build_session(specs).save(tmp_path / "session-1.jsonl")


TABLE = Path(__file__).resolve().parents[2] / "nipype_carbon/reference/data/grid_intensity.csv"


@pytest.mark.parametrize(
    ("named", "code"),
    [
        # ISO 3166: the United Kingdom's code is GB; UK is the name people type
        ("UK", "GB"), ("uk", "GB"), ("Great Britain", "GB"), ("united kingdom", "GB"),
        ("Quebec", "CA-QC"), ("Québec", "CA-QC"), ("QUEBEC", "CA-QC"), ("ca_qc", "CA-QC"),
        ("Germany", "DE"), ("germany", "DE"), ("USA", "US"), ("United States", "US"),
        ("Holland", "NL"), ("The Netherlands", "NL"), ("Czech Republic", "CZ"),
        ("New York", "US-NY"), ("British Columbia", "CA-BC"), ("fr", "FR"),
    ],
)  # fmt: skip
def test_regions_are_found_as_people_name_them(named: str, code: str) -> None:
    assert lookup_region(named).region == code


def test_a_name_two_zones_share_is_refused_naming_both() -> None:
    with pytest.raises(AmbiguousRegionError) as err:
        lookup_region("Georgia")  # the country (GE) and the US state (US-GA)
    assert "GE (Georgia)" in str(err.value) and "US-GA (Georgia)" in str(err.value)


def test_the_united_states_is_one_zone_and_says_what_egrid_covers() -> None:
    with TABLE.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    whole_country = {"united states", "united states of america", "usa", "us"}
    national = [r for r in rows if r["name"].lower().split(" (")[0] in whole_country]
    assert [r["zone"] for r in national] == ["US"]
    assert "US-XX" in national[0]["name"] and "eGRID" in national[0]["name"]
    assert not [r for r in rows if r["zone"].upper() == "US-USA"]
    assert all(r["source"] and r["licence"] for r in rows)
    assert lookup_region("US-usa").region == "US"  # sessions that recorded the old row


def test_hints_name_the_setting_in_plugin_args() -> None:
    with pytest.raises(SettingsError) as err:
        CarbonSettings.from_mapping({"region": "Atlantis"}, env={})
    assert "intensity_g_per_kwh" in str(err.value) and "--intensity" not in str(err.value)


def test_hints_name_the_option_on_the_command_line(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(run), "--region", "Quebek"]) == 2
    err = capsys.readouterr().err
    assert "CA-QC (Quebec)" in err and "--intensity" in err and "intensity_g_per_kwh" not in err


def test_uk_suggests_great_britain_when_misspelt() -> None:
    with pytest.raises(UnknownRegionError) as err:
        lookup_region("Untied Kingdom")
    assert err.value.suggestions[0] == "GB"


def _zones(out: str) -> list[str]:
    return [line.split()[0] for line in out.splitlines()[1:] if line and line[0].isupper()]


def test_regions_search_lists_the_exact_code_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions", "US"]) == 0
    zones = _zones(capsys.readouterr().out)
    states = [z for z in zones if z.startswith("US-")]
    assert zones[0] == "US" and zones[1 : 1 + len(states)] == states and len(states) == 51
    # Austria, Australia, Russia contain "us" in their names: after the United States
    assert {"AT", "AU", "RU"} <= set(zones[1 + len(states) :])
    assert main(["regions", "uk"]) == 0
    assert _zones(capsys.readouterr().out)[0] == "GB"


def test_regions_lists_every_zone_without_search(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["regions"]) == 0
    assert len(_zones(capsys.readouterr().out)) == len(intensity_table())


@pytest.mark.parametrize("command", [["regions"], ["regions", "US"], ["report", "RUN"]])
def test_a_closed_pipe_ends_quietly(command: list[str], run: Path) -> None:
    """``nipype-carbon regions | head``: no traceback, no "Broken pipe", status 141.

    The pipe's reading end is closed before the command starts, so its first write fails
    for certain (large output fails inside the command, small output at the final flush).
    """
    command = [str(run) if arg == "RUN" else arg for arg in command]
    script = "import sys; from nipype_carbon.cli.main import main; sys.exit(main())"
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, *command],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert (done.returncode, done.stderr) == (141, "")
