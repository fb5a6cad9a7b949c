"""The layering of ARCHITECTURE.md: the core imports neither nipype nor pydra."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    lint_imports = shutil.which("lint-imports")
    if lint_imports is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]'")
    run = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 5 kept, 0 broken" in run.stdout


def test_importing_the_core_loads_no_engine() -> None:
    code = (
        "import sys, nipype_carbon, nipype_carbon.cli.doctor, nipype_carbon.analyse.attribution;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nipype', 'pydra')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
