"""A failing task keeps its energy, user hooks still run, and the reports read Pydra sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydra.compose import workflow
from pydra.engine.hooks import TaskHooks
from pydra.engine.submitter import Submitter

from nipype_carbon import load_session
from nipype_carbon.cli.report import main as report_main
from nipype_carbon.report import build_report
from nipype_carbon.report.graphviz import graph_dot
from nipype_carbon.report.summary import summary_text
from tests.pydra import Burn, FailsHalfway, KnownCosts, costs_about

CARBON = {"region": "GB", "sample_interval_s": 0.2}


@pytest.mark.parametrize("base", ["cf", "debug"])
def test_failing_task_keeps_its_energy(tmp_path: Path, base: str) -> None:
    with Submitter(worker="carbon", base=base, cache_root=tmp_path, **CARBON) as sub:
        result = sub(FailsHalfway(seconds=0.4), raise_errors=False)
    assert result.errored
    session = load_session(tmp_path / "carbon" / "FailsHalfway")
    failed = session.nodes["FailsHalfway.fail"]
    assert failed.status == "failed" and "fails on purpose" in (failed.error or "")
    assert costs_about(failed.measurement["cpu_s"], 0.4)
    assert session.nodes["FailsHalfway.ok"].status == "ran"
    assert "FailsHalfway.never_runs" not in session.nodes  # blocked by the failure
    end = session.events[-1]
    assert end["kind"] == "end" and end["status"] == "failed"


def _mark(job: Any, *result: Any) -> None:
    """A user hook: leaves a file named after the hook's arity where the job runs."""
    (Path(job.cache_dir).parent / f"hook-{job.name}-{len(result)}").touch()


@workflow.define
def WithUserHooks(seconds: float = 0.2) -> float:
    hooks = TaskHooks(pre_run_task=_mark, post_run_task=_mark)
    burn = workflow.add(Burn(seconds=seconds), name="burn", hooks=hooks)
    return burn.out


def test_user_hooks_still_run(tmp_path: Path) -> None:
    with Submitter(worker="carbon", base="cf", n_procs=2, cache_root=tmp_path, **CARBON) as sub:
        sub(WithUserHooks(seconds=0.2))
    assert (tmp_path / "hook-burn-0").exists() and (tmp_path / "hook-burn-1").exists()
    session = load_session(tmp_path / "carbon" / "WithUserHooks")
    assert session.nodes["WithUserHooks.burn"].status == "ran"


@pytest.fixture(scope="module")
def pydra_carbon_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache_root = tmp_path_factory.mktemp("report")
    with Submitter(worker="carbon", base="cf", n_procs=2, cache_root=cache_root, **CARBON) as sub:
        sub(KnownCosts(a=0.3, child=0.2, states=[0.1, 0.2]))
    return cache_root / "carbon" / "KnownCosts"


def test_report_renders_a_pydra_session(pydra_carbon_dir: Path) -> None:
    report = build_report(pydra_carbon_dir)
    nodes = report.nodes.set_index("node")
    assert nodes.loc["KnownCosts.burn_a", "energy_j"] > 0
    assert nodes.loc["KnownCosts.burn_s", "kind"] == "mapnode"
    assert nodes.loc["KnownCosts.burn_s[0]", "mapnode_parent"] == "KnownCosts.burn_s"
    # the work: every task but the split task (its states count) and the engine
    assert report.totals.region == "GB"
    assert report.totals.nodes == int((report.nodes["kind"] == "node").sum()) < len(report.nodes)
    interfaces = report.interfaces()
    assert "tests.pydra.Burn" in set(interfaces["interface"])


def test_a_split_task_is_named_as_pydra_names_it(pydra_carbon_dir: Path) -> None:
    report = build_report(pydra_carbon_dir)
    dot = graph_dot(report, collapse="mapnodes")
    assert "split task, 2 states" in dot and "MapNode" not in dot


def test_summary_of_a_pydra_session(pydra_carbon_dir: Path) -> None:
    text = summary_text(build_report(load_session(pydra_carbon_dir)))
    lines = text.splitlines()
    assert "KnownCosts.burn_a" in text and lines[1] == "Run complete"
    assert lines[3].startswith("Run energy ")


def test_cli_report_renders_a_pydra_session(
    pydra_carbon_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_main([str(pydra_carbon_dir)]) == 0
    assert "KnownCosts.burn_a" in capsys.readouterr().out
    for name in ("nodes.csv", "report.html"):
        assert report_main([str(pydra_carbon_dir), "-o", str(tmp_path / name)]) in (0, None)
        assert "KnownCosts.burn_a" in (tmp_path / name).read_text()
