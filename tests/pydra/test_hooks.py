"""Carbon hooks on chosen tasks, with Pydra's own workers."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from pydra.compose import workflow
from pydra.engine.hooks import TaskHooks
from pydra.engine.submitter import Submitter

from nipype_carbon import SettingsError, load_session
from nipype_carbon.record.noderun import RunContext
from pydra_carbon import CarbonRecorder, TaskMeter
from tests.pydra import Add, Burn, BurnThenFail, costs_about

SETTINGS = {"region": "GB", "sample_interval_s": 0.2}


def _mark(job: Any, *result: Any) -> None:
    (Path(job.cache_dir).parent / f"hook-{job.name}-{len(result)}").touch()


def chosen(carbon: CarbonRecorder) -> Any:
    """A workflow with hooks on two of its three nodes (``b`` changes only ``plain``)."""

    @workflow.define
    def Chosen(a: float = 0.3, b: float = 0.0) -> float:
        own = TaskHooks(pre_run_task=_mark, post_run_task=_mark)
        burn = workflow.add(Burn(seconds=a), name="burn", hooks=carbon.hooks("dwi.burn", own))
        workflow.add(Burn().split(seconds=[0.1, 0.2]), name="states", hooks=carbon.hooks())
        plain = workflow.add(Add(a=burn.out, b=b), name="plain")
        return plain.out

    return Chosen


def test_hooks_meter_only_the_chosen_tasks(tmp_path: Path) -> None:
    carbon = CarbonRecorder(tmp_path / "carbon", name="chosen", **SETTINGS)
    with carbon, Submitter(worker="cf", n_procs=2, cache_root=tmp_path) as sub:
        assert sub(chosen(carbon)(a=0.3)).outputs.out == 0.3
    session = load_session(tmp_path / "carbon")
    assert set(session.nodes) == {"dwi.burn", "states[0]", "states[1]", "chosen.(scheduler)"}
    burn = session.nodes["dwi.burn"]
    assert burn.status == "ran" and burn.extra["metered_by"] == "hooks"
    assert costs_about(burn.measurement["cpu_s"], 0.3)
    assert session.nodes["states[1]"].extra["state_index"] == 1
    assert (tmp_path / "hook-burn-0").exists() and (tmp_path / "hook-burn-1").exists()
    assert session.events[-1]["kind"] == "end"


def test_hooks_record_a_cache_hit(tmp_path: Path) -> None:
    carbon = CarbonRecorder(tmp_path / "carbon", **SETTINGS)
    with carbon, Submitter(worker="cf", n_procs=2, cache_root=tmp_path) as sub:
        sub(chosen(carbon)(a=0.25))
    again = CarbonRecorder(tmp_path / "carbon", **SETTINGS)
    with again, Submitter(worker="cf", n_procs=2, cache_root=tmp_path) as sub:
        sub(chosen(again)(a=0.25, b=1.0))  # a new workflow whose hooked tasks are cached
    session = load_session(tmp_path / "carbon")
    assert again.session is not None and session.path == again.session.path
    assert {session.nodes[n].status for n in ("dwi.burn", "states[0]", "states[1]")} == {"cached"}


def test_hooked_failure_keeps_its_energy_and_error(tmp_path: Path) -> None:
    carbon = CarbonRecorder(tmp_path / "carbon", **SETTINGS)
    with carbon, Submitter(worker="debug", cache_root=tmp_path) as sub:
        result = sub(BurnThenFail(seconds=0.3), hooks=carbon.hooks("fails"), raise_errors=False)
    assert result.errored
    record = load_session(tmp_path / "carbon").nodes["fails"]
    assert record.status == "failed" and "fails on purpose" in (record.error or "")
    assert costs_about(record.measurement["cpu_s"], 0.3)


def test_hooks_under_the_carbon_worker_do_not_meter_twice(tmp_path: Path) -> None:
    carbon = CarbonRecorder(tmp_path / "hooks", **SETTINGS)
    with (
        carbon,
        Submitter(worker="carbon", base="cf", n_procs=2, cache_root=tmp_path, **SETTINGS) as sub,
    ):
        sub(chosen(carbon)(a=0.1))
    assert set(load_session(tmp_path / "hooks").nodes) == {"pydra.(scheduler)"}
    by_worker = load_session(tmp_path / "carbon" / "Chosen")
    assert by_worker.nodes["Chosen.burn"].status == "ran"
    assert by_worker.nodes["Chosen.states[1]"].status == "ran"


def test_recorder_checks_settings_and_pickles(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown carbon setting"):
        CarbonRecorder(tmp_path, n_procs=2)
    carbon = CarbonRecorder(tmp_path / "carbon", **SETTINGS)
    with carbon:
        copy = pickle.loads(cloudpickle.dumps(carbon))  # workflows in scripts carry it along
    assert copy.context == carbon.context and copy.session is None
    hooks = pickle.loads(cloudpickle.dumps(TaskMeter(RunContext(str(tmp_path))).task_hooks()))
    assert isinstance(hooks, TaskHooks)
