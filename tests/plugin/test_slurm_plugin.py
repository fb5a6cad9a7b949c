"""CarbonSLURM and CarbonSLURMGraph against the real single-node SLURM on localhost."""

from __future__ import annotations

from pathlib import Path

import pytest

import nipype_carbon  # noqa: F401 - registers the Carbon plugins
from nipype_carbon import load_session
from nipype_carbon.analyse.attribution import attribute_energy
from tests.plugin import workflows

pytestmark = pytest.mark.slurm

#: the most CPU a batch job may spend on its own for one node (loading the pickled node)
JOB_OVERHEAD_S = 0.5
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def slurm(slurm: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    # the jobs unpickle the cli node, whose interface class lives in tests.plugin.workflows
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    return slurm


def _batch_config(wf):  # type: ignore[no-untyped-def]
    wf.config["execution"].update({"poll_sleep_duration": 0.5, "job_finished_timeout": 30})
    return wf


SBATCH = {"sbatch_args": "--time=5 --cpus-per-task=1", "max_tries": 2, "retry_timeout": 1}


def _check_measured_in_jobs(session, names) -> None:  # type: ignore[no-untyped-def]
    jobs = set()
    for name in names:
        record = session.nodes[name]
        assert record.status == "ran" and record.measurement, name
        assert record.extra["batch_system"] == "slurm"
        jobs.add(record.extra["batch_job_id"])
    assert len(jobs) == len(names)  # one job each: measured inside the job


def _scheduler(session) -> str:  # type: ignore[no-untyped-def]
    return next(n for n, r in session.nodes.items() if r.extra.get("kind") == "orchestration")


def test_carbon_slurm_measures_each_node_inside_its_job(slurm, tmp_path: Path) -> None:
    wf = _batch_config(workflows.known_costs(tmp_path))
    wf.run(plugin="CarbonSLURM", plugin_args={**SBATCH, "sample_interval_s": 0.2})
    session = load_session(tmp_path / "known" / "carbon")
    names = ["known.burn_a", "known.burn_b", "known.cli", "known.after"]
    _check_measured_in_jobs(session, names)
    cpu = {n: session.nodes[n].measurement["cpu_s"] for n in names}
    # a job is a fresh process: its own start-up is part of the node, within the bound
    assert 1.0 <= cpu["known.burn_a"] <= 1.0 + JOB_OVERHEAD_S
    # the cli node: its child's CPU, at most what the kernel counted for the job's process
    # and the child over the command's run (nipype polls the child's output meanwhile)
    child = workflows.child_cpu_s(tmp_path / "known" / "cli")
    run = workflows.interface_cpu_s(tmp_path / "known" / "cli")
    assert child <= cpu["known.cli"] <= run + JOB_OVERHEAD_S, (child, cpu["known.cli"], run)
    result = attribute_energy(session)
    assert result.nodes["known.burn_a"].energy_cpu_j > result.nodes["known.burn_b"].energy_cpu_j > 0
    assert session.nodes[_scheduler(session)].extra["batch"] is True


def test_carbon_slurmgraph_session_is_complete_when_run_returns(slurm, tmp_path: Path) -> None:
    wf = _batch_config(workflows.known_costs(tmp_path))
    wf.run(plugin="CarbonSLURMGraph", plugin_args={"sbatch_args": "--time=5"})
    session = load_session(tmp_path / "known" / "carbon")
    names = ["known.burn_a", "known.burn_b", "known.cli", "known.after"]
    _check_measured_in_jobs(session, names)
    assert session.nodes["known.after"].start >= session.nodes["known.burn_a"].end - 0.5
