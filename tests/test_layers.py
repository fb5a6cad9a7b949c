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
    assert "Contracts: 6 kept, 0 broken" in run.stdout


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


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules a module imports, at any depth of its code (lazy imports too)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found |= {n for n in names if n in modules}
    return found


def _project_modules() -> dict[str, Path]:
    found = {}
    for package in ("nipype_carbon", "pydra_carbon"):
        for path in (REPO / package).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    """Not even lazily: a circle means two jobs share a file (split it) or a layer leaks."""
    modules = _project_modules()
    graph = {
        name: {
            m for m in _imports(path, set(modules)) if m != name and not name.startswith(m + ".")
        }
        for name, path in modules.items()
    }
    circles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node]:
                if nxt == start:
                    circles.append(" -> ".join((*trail, start)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*trail, nxt)))
    assert circles == []


#: the report model's own modules: they build the Report from the session and its attribution
REPORT_MODEL = {"model.py", "totals.py", "__init__.py"}


def test_renderers_read_the_report_not_the_session_or_the_attribution() -> None:
    import ast

    reaching = []
    for path in (REPO / "nipype_carbon" / "report").glob("*.py"):
        if path.name in REPORT_MODEL:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("session", "result"):
                reaching.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert reaching == [], "give the Report what the renderer needs"


def test_every_refusal_is_a_nipype_carbon_error_and_a_builtin_of_its_kind() -> None:
    from nipype_carbon import NipypeCarbonError, SessionError, SettingsError, UnknownRegionError
    from nipype_carbon.files.safe import FileRefused
    from nipype_carbon.measure.meters.base import MeterAbsent, MeterBroken, MeterPermissionDenied
    from nipype_carbon.record.validate import LineError
    from nipype_carbon.report.graphviz import GraphvizError

    kinds = {
        SettingsError: ValueError,
        UnknownRegionError: ValueError,
        LineError: ValueError,
        FileRefused: OSError,
        GraphvizError: RuntimeError,
        SessionError: Exception,
        MeterAbsent: Exception,
        MeterBroken: Exception,
        MeterPermissionDenied: Exception,
    }
    for error, builtin in kinds.items():
        assert issubclass(error, NipypeCarbonError) and issubclass(error, builtin), error


def test_a_region_refused_in_the_settings_keeps_the_region_error_as_its_cause() -> None:
    from nipype_carbon import CarbonSettings, SettingsError, UnknownRegionError

    with pytest.raises(SettingsError) as refused:
        CarbonSettings(region="ATLANTIS")
    assert isinstance(refused.value.__cause__, UnknownRegionError)
    assert "ATLANTIS" in str(refused.value)


def test_the_public_api_is_what_a_user_calls_and_stays_cheap_to_import() -> None:
    import nipype_carbon

    wanted = {"CarbonPlugin", "CarbonSettings", "load_session", "build_report", "Report",
              "read_nodes", "NipypeCarbonError", "SettingsError", "SessionError"}  # fmt: skip
    assert wanted <= set(nipype_carbon.__all__)
    assert not {"NodeMeter", "Measurement", "AttributionResult"} & set(nipype_carbon.__all__)
    code = (
        "import sys, nipype_carbon; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('nipype', 'pydra', 'pandas', 'numpy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_read_nodes_gives_a_notebook_the_node_table(tmp_path: Path) -> None:
    import nipype_carbon
    from testkit.sessions import NodeSpec, build_session

    session = build_session([NodeSpec("wf.a", 0.0, 4.0, 1.0, 5)])
    frame = nipype_carbon.read_nodes(session, region="GB")
    assert list(frame["node"]) == ["wf.a"]
    report = nipype_carbon.build_report(session, region="GB")
    assert frame["energy_j"].sum() == pytest.approx(report.nodes["energy_j"].sum())
