"""Every number on the command line is checked as it is parsed: exit 2, one line naming the
option and what it accepts, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults.helpers import run_cli

ROWS = "must be a whole number from 1 to 100,000"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["report", "RUN", "--top", "0"], f"argument --top: {ROWS}, got '0'"),
        (["report", "RUN", "--top", "many"], f"argument --top: {ROWS}, got 'many'"),
        (["report", "RUN", "--top", "1e9"], f"argument --top: {ROWS}, got '1e9'"),
        (
            ["report", "RUN", "--cohort", "-5"],
            "argument --cohort: must be a whole number from 1 to 10,000,000, got '-5'",
        ),
        (["compare", "A", "B", "--top", "0"], f"argument --top: {ROWS}, got '0'"),
        (["run", "--top", "-1", "--", "true"], f"argument --top: {ROWS}, got '-1'"),
        (
            ["doctor", "--calibrate", "nan"],
            "argument --calibrate: must be a number from 1 to 3,600 s, got 'nan'",
        ),
        (
            ["doctor", "--calibrate", "inf"],
            "argument --calibrate: must be a number from 1 to 3,600 s, got 'inf'",
        ),
        (
            ["doctor", "--calibrate", "0"],
            "argument --calibrate: must be a number from 1 to 3,600 s, got '0'",
        ),
        (
            ["doctor", "--cpu-tdp-w", "-3"],
            "argument --cpu-tdp-w: must be a number from 1 to 1,000 W per package, got '-3'",
        ),
    ],
)
def test_a_number_out_of_range_is_exit_2_and_one_line_naming_option_and_range(
    args: list[str], line: str
) -> None:
    status, out, err = run_cli(*args)
    assert status == 2
    assert f"nipype-carbon {args[0]}: error: {line}\n" in err, err
    assert "Traceback" not in out + err


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["report", "RUN", "--pue", "nan"],
            "nipype-carbon report: --pue must be between 1.0 and 3.0",
        ),
        (
            ["graph", "RUN", "-o", "g.dot", "--intensity", "inf"],
            "nipype-carbon graph: --intensity must be between 0.0 and 2,000 g/kWh, got inf",
        ),
        (
            ["run", "--pue", "0.5", "--", "true"],
            "nipype-carbon run: --pue must be between 1.0 and 3.0, got 0.5",
        ),
    ],
)
def test_a_grid_number_out_of_range_is_one_line_naming_the_option(
    args: list[str], line: str
) -> None:
    status, out, err = run_cli(*args)
    assert status == 2 and err.startswith(line) and err.count("\n") == 1, err
    assert "Traceback" not in out + err


def test_run_with_a_file_as_carbon_dir_names_the_path_and_the_fix(tmp_path: Path) -> None:
    in_the_way = tmp_path / "passwd"
    in_the_way.write_text("root:x:0:0::/root:/bin/sh\n")
    status, out, err = run_cli("run", "--carbon-dir", str(in_the_way), "--no-report", "--", "true")
    assert status == 2 and out == ""
    assert err == (
        f"nipype-carbon run: carbon_dir {in_the_way}: {in_the_way} is a file, not a directory: "
        "move it away or choose another carbon_dir\n"
    )
    assert in_the_way.read_text() == "root:x:0:0::/root:/bin/sh\n"


def test_the_installed_command_prints_no_traceback_for_a_bad_number() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nipype_carbon", "report", "RUN", "--cohort", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == (
        "nipype-carbon report: error: argument --cohort: must be a whole number from 1 to "
        "10,000,000, got '-5'"
    )
