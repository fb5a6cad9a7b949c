"""The carbon worker under ``cf`` and ``debug``: every task measured where it ran."""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from pydra.engine.submitter import Submitter
from pydra.workers.base import Worker

from nipype_carbon import Session, SettingsError, load_session
from nipype_carbon.analyse.attribution import attribute_energy
from pydra_carbon import CarbonWorker
from tests.pydra import Burn, KnownCosts, Outer, costs_about

CARBON = {"region": "GB", "sample_interval_s": 0.2}


def run(cache_root: Path, task: Any, base: str = "cf", **kwargs: Any) -> Any:
    options = {"n_procs": 2} if base == "cf" else {}
    with Submitter(
        worker="carbon", base=base, cache_root=cache_root, **options, **CARBON, **kwargs
    ) as sub:
        return sub(task)


def cpu_s(session: Session, name: str) -> float:
    return float(session.nodes[name].measurement["cpu_s"])


@pytest.fixture(scope="module")
def known_cf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Session]:
    """KnownCosts run once under cf with two processes; its cache root and session."""
    cache_root = tmp_path_factory.mktemp("known_cf")
    result = run(cache_root, KnownCosts(a=1.0, child=0.5, states=[0.2, 0.3]))
    assert not result.errored
    return cache_root, load_session(cache_root / "carbon" / "KnownCosts")


def test_cf_measures_each_task_where_it_ran(known_cf: tuple[Path, Session]) -> None:
    _, session = known_cf
    assert costs_about(cpu_s(session, "KnownCosts.burn_a"), 1.0)
    assert costs_about(cpu_s(session, "KnownCosts.cli"), 0.5)  # a child
    assert costs_about(cpu_s(session, "KnownCosts.burn_s[0]"), 0.2)
    assert costs_about(cpu_s(session, "KnownCosts.burn_s[1]"), 0.3)
    tasks = [r for r in session.nodes.values() if r.measurement]
    assert {r.measurement["pid"] for r in tasks} - {os.getpid()}  # in cf worker processes
    assert all(r.status == "ran" for r in session.nodes.values())
    cli = session.nodes["KnownCosts.cli"]
    assert cli.extra["task_type"] == "shell" and cli.extra["executable"]
    assert session.nodes["KnownCosts.burn_a"].interface == "tests.pydra.Burn"
    assert session.nodes["KnownCosts.burn_a"].workflow == "KnownCosts"


def test_split_task_gives_one_record_per_state(known_cf: tuple[Path, Session]) -> None:
    _, session = known_cf
    states = [session.nodes[f"KnownCosts.burn_s[{i}]"] for i in (0, 1)]
    assert [r.extra["state_index"] for r in states] == [0, 1]
    assert {r.extra["mapnode_parent"] for r in states} == {"KnownCosts.burn_s"}
    parent = session.nodes["KnownCosts.burn_s"]
    assert parent.measurement is None and parent.extra["mapnode"] and parent.extra["states"] == 2


def test_session_has_graph_scheduler_and_end(known_cf: tuple[Path, Session]) -> None:
    cache_root, session = known_cf
    assert ("KnownCosts.burn_a", "KnownCosts.after") in session.edges
    assert session.metadata["engine"] == "pydra" and session.metadata["base"] == "cf"
    assert session.metadata["carbon_dir"] == str((cache_root / "carbon" / "KnownCosts").resolve())
    assert session.settings["region"] == "GB"
    scheduler = session.nodes["KnownCosts.(scheduler)"]
    assert scheduler.extra["kind"] == "orchestration" and scheduler.extra["pid"] == os.getpid()
    assert session.events[-1]["kind"] == "end" and session.events[-1]["status"] == "ok"
    assert not list((cache_root / "carbon" / "KnownCosts").glob("*.spool"))
    result = attribute_energy(session)
    burn_a, after = result.nodes["KnownCosts.burn_a"], result.nodes["KnownCosts.after"]
    assert burn_a.energy_cpu_j > after.energy_cpu_j > 0


def test_cached_rerun_gives_cached_records(known_cf: tuple[Path, Session]) -> None:
    cache_root, first = known_cf
    run(cache_root, KnownCosts(a=1.0, child=0.5, states=[0.2, 0.3]))
    session = load_session(cache_root / "carbon" / "KnownCosts")
    assert session.path != first.path
    tasks = {n: r for n, r in session.nodes.items() if "(scheduler)" not in n}
    assert set(tasks) == set(first.nodes) - {"KnownCosts.(scheduler)"}
    assert all(r.status == "cached" and r.measurement is None for r in tasks.values())
    sources = next(e for e in session.events if e["kind"] == "cached_energy_sources")
    assert sources["sessions"]["KnownCosts.burn_a"] == first.path.name


def test_changed_input_reruns_only_what_changed(known_cf: tuple[Path, Session]) -> None:
    cache_root, _ = known_cf
    run(cache_root, KnownCosts(a=0.4, child=0.5, states=[0.2, 0.3]))
    session = load_session(cache_root / "carbon" / "KnownCosts")
    status = {n: r.status for n, r in session.nodes.items()}
    assert status["KnownCosts.burn_a"] == "ran" and status["KnownCosts.after"] == "ran"
    assert status["KnownCosts.cli"] == "cached" and status["KnownCosts.burn_s[1]"] == "cached"
    assert costs_about(cpu_s(session, "KnownCosts.burn_a"), 0.4)


def test_debug_base_runs_and_meters_in_process(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pydra.carbon")
    run(tmp_path, KnownCosts(a=0.3, child=0.2, states=[0.1, 0.1]), base="debug")
    session = load_session(tmp_path / "carbon" / "KnownCosts")
    assert session.nodes["KnownCosts.burn_a"].measurement["pid"] == os.getpid()
    assert costs_about(cpu_s(session, "KnownCosts.burn_a"), 0.3)
    # the second state has the first one's checksum: pydra runs it once
    assert session.nodes["KnownCosts.burn_s[1]"].status == "cached"
    scheduler = session.nodes["KnownCosts.(scheduler)"].measurement["cpu_s"]
    assert scheduler < 0.5  # the tasks' CPU, run in this process, is not counted twice
    assert f"session: {session.path}" in caplog.text


def test_nested_and_split_workflows_are_named_by_path(tmp_path: Path) -> None:
    run(tmp_path, Outer(seconds=0.1))
    session = load_session(tmp_path / "carbon" / "Outer")
    assert session.nodes["Outer.inner.burn"].status == "ran"
    assert session.nodes["Outer.inner.burn"].workflow == "Outer.inner"
    assert session.nodes["Outer.inner_split[1].burn"].status == "ran"
    # the same workflow (same checksum) as Outer.inner: pydra does not run it twice
    copy = session.nodes["Outer.inner_split[0].burn"]
    assert copy.status == "cached" and copy.extra["found_by"] == "workflow cache"


def test_single_task_and_split_task_at_the_top(tmp_path: Path) -> None:
    result = run(tmp_path, Burn(seconds=0.3))  # fails with "no result" under plain cf
    assert result.outputs.out == 0.3
    alone = load_session(tmp_path / "carbon" / "Burn")
    assert alone.nodes["Burn"].status == "ran"
    assert costs_about(cpu_s(alone, "Burn"), 0.3)
    run(tmp_path, Burn().split(seconds=[0.1, 0.2]))
    split = load_session(tmp_path / "carbon" / "Burn")
    assert split.path != alone.path
    assert {"Burn[0]", "Burn[1]", "Burn"} <= set(split.nodes)
    assert costs_about(cpu_s(split, "Burn[1]"), 0.2)


def test_worker_object_with_its_own_carbon_dir(tmp_path: Path) -> None:
    worker = CarbonWorker(base="cf", n_procs=2, carbon_dir=tmp_path / "energy", **CARBON)
    with Submitter(worker=worker, cache_root=tmp_path / "cache") as sub:
        sub(Burn().split(seconds=[0.1, 0.1]))
    session = load_session(tmp_path / "energy")
    assert session.metadata["workflow"] == "Burn"
    assert not (tmp_path / "cache" / "carbon").exists()


def test_settings_are_checked_before_any_task_runs(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="pue"):
        Submitter(worker="carbon", base="cf", pue=0.5, cache_root=tmp_path)
    with pytest.raises(SettingsError, match="region"):
        CarbonWorker(base="debug", region="NOWHERE")
    with pytest.raises(ValueError, match="No worker matches"):
        CarbonWorker(base="no-such-worker")
    assert not (tmp_path / "carbon").exists()


def test_found_by_name_and_keeps_the_base_workers_ways() -> None:
    found = Worker.plugin("carbon")  # a light stand-in that makes the real worker
    assert found.plugin_name() == "carbon" and type(found(base="debug")) is CarbonWorker
    assert CarbonWorker.plugin_name() == "carbon"
    debug, cf = CarbonWorker(base="debug"), CarbonWorker(base="cf", n_procs=1)
    assert debug.plugin_name() == "debug" and not debug.is_async  # debug raises errors
    assert cf.plugin_name() == "cf" and cf.is_async
    copy = pickle.loads(cloudpickle.dumps(cf))  # travels with every job
    assert copy.base.n_procs == 1 and copy.settings == cf.settings and copy.recorder is None
    cf.close()
    copy.close()


def test_an_unusable_carbon_dir_is_refused_before_any_task(tmp_path: Path) -> None:
    """Issue 9: not a run left unmetered with a warning, but one line naming the fix."""
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the carbon directory should be")
    with pytest.raises(SettingsError, match="is a file, not a directory"):
        run(tmp_path, Burn().split(seconds=[0.1, 0.1]), carbon_dir=blocked / "carbon")
    assert list(tmp_path.rglob("_result.pklz")) == []  # no task ran


def test_adapter_imports_no_nipype() -> None:
    code = (
        "import sys, pydra_carbon, pydra.workers.carbon;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nipype'))"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_every_pydra_user_imports_the_carbon_module_without_side_effects() -> None:
    """Pydra imports pydra.workers.carbon on any worker lookup: nothing of ours may load."""
    code = (
        "import sys;"
        "from pydra.engine.submitter import Submitter; from pydra.workers.base import Worker;"
        "Worker.plugin('debug');"  # pydra imports every pydra.workers module here
        "assert 'pydra.workers.carbon' in sys.modules;"
        "import nipype.pipeline.plugins as plugins;"
        "ours = [f for f in sys.meta_path if type(f).__module__.startswith('nipype_carbon')];"
        "print(ours == [], hasattr(plugins, 'CarbonMultiProcPlugin'),"
        " sorted(m for m in sys.modules if m.split('.')[0] in ('nipype_carbon', 'pydra_carbon')))"
    )
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False", "[]"]
