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


#: keys of a node's raw measurement and a host's record that no other stage module may spell
MEASUREMENT_KEYS = {
    "samples",
    "host_busy_cpu_s",
    "host_mem_b",
    "rss_b",
    "own_cpu_s",
    "meter_cpu_s",
    "inherited_cpu_s",
    "faults",
    "meters",
    "details",
    "baseline_power_w",
    "sample_interval_s",
    "memory_total_b",
    "logical_cpus",
    "cpu_idle_power_w",
    "joules_per_busy_cpu_s",
    "dram_power_w",
}
#: where they are spelled: the record types and their checks
RECORD_MODULES = {"records.py", "validate.py"}


def _spelled_keys(path: Path) -> list[tuple[int, str]]:
    """String keys used as ``x["key"]`` or ``x.get("key")`` in a module."""
    import ast

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        key = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key = node.args[0].value
        if key in MEASUREMENT_KEYS:
            found.append((node.lineno, str(key)))
    return found


def test_measurement_keys_are_spelled_only_in_the_record_modules() -> None:
    spelled = {
        f"{path.relative_to(REPO)}:{line}": key
        for stage in ("record", "analyse", "report")
        for path in (REPO / "nipype_carbon" / stage).rglob("*.py")
        if path.name not in RECORD_MODULES
        for line, key in _spelled_keys(path)
    }
    assert spelled == {}, "read them through NodeRecord.measured and HostRecord's accessors"
