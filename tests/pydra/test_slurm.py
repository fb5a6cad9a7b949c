"""The carbon worker with ``base="slurm"`` against the real single-node SLURM on localhost.

Pydra's slurm worker learns a finished job's exit code from ``sacct``, so the
local cluster needs job accounting: when ``sacct`` does not answer, the start
script is run once more with ``NIPYPE_CARBON_SLURM_ACCOUNTING=1`` (root only).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydra.engine.submitter import Submitter

from nipype_carbon import load_session
from nipype_carbon.analyse.attribution import attribute_energy
from tests.pydra import KnownCosts, costs_about
from tests.support.slurm import START_SCRIPT

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
NEEDS_SACCT = (
    "Pydra's slurm worker reads job exit codes with sacct, which needs job accounting: "
    f"run `NIPYPE_CARBON_SLURM_ACCOUNTING=1 bash {START_SCRIPT}` as root"
)


def sacct_works(env: dict[str, str]) -> bool:
    try:
        run = subprocess.run(
            ["sacct", "-n", "-X", "-j", "1"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return run.returncode == 0 and "disabled" not in run.stdout + run.stderr


def with_accounting(env: dict[str, str]) -> dict[str, str]:
    """The local SLURM's environment once ``sacct`` works there, or a skip saying why not."""
    if sacct_works(env):
        return env
    if os.environ.get("NIPYPE_CARBON_SLURM_AUTOSTART", "1") == "0" or os.geteuid() != 0:
        pytest.skip(NEEDS_SACCT)
    start = subprocess.run(
        ["bash", str(START_SCRIPT)],
        env={**os.environ, "NIPYPE_CARBON_SLURM_ACCOUNTING": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    if start.returncode != 0 or not sacct_works(env):
        pytest.skip(f"{NEEDS_SACCT}; that failed:\n{start.stderr[-2000:]}")
    return env


@pytest.fixture(scope="module")
def slurm_env(slurm_env: dict[str, str]) -> dict[str, str]:
    """The shared local SLURM, with accounting: Pydra's slurm worker reads sacct."""
    return with_accounting(slurm_env)


@pytest.fixture
def slurm(slurm: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the jobs import tests.pydra's tasks
    return slurm


def test_carbon_slurm_measures_each_task_inside_its_job(
    slurm: dict[str, str], tmp_path: Path
) -> None:
    with Submitter(
        worker="carbon",
        base="slurm",
        sbatch_args="--time=5 --cpus-per-task=1",
        poll_delay=1,
        cache_root=tmp_path,
        region="GB",
        sample_interval_s=0.2,
    ) as sub:
        result = sub(KnownCosts(a=1.0, child=0.5, states=[0.2, 0.3]))
    assert not result.errored
    session = load_session(tmp_path / "carbon" / "KnownCosts")
    names = ["KnownCosts.burn_a", "KnownCosts.cli", "KnownCosts.burn_s[0]", "KnownCosts.burn_s[1]"]
    jobs = set()
    for name in [*names, "KnownCosts.after"]:
        record = session.nodes[name]
        assert record.status == "ran" and record.measurement, name
        assert record.extra["batch_system"] == "slurm", name
        jobs.add(record.extra["batch_job_id"])
    assert len(jobs) == len(names) + 1  # one job each: measured inside the job
    cpu = {n: session.nodes[n].measurement["cpu_s"] for n in names}
    assert costs_about(cpu["KnownCosts.burn_a"], 1.0)
    assert costs_about(cpu["KnownCosts.cli"], 0.5)
    assert costs_about(cpu["KnownCosts.burn_s[1]"], 0.3)
    scheduler = session.nodes["KnownCosts.(scheduler)"]
    assert scheduler.extra["batch"] is True and scheduler.measurement is None
    assert session.metadata["base"] == "slurm"
    result_energy = attribute_energy(session)
    assert result_energy.nodes["KnownCosts.burn_a"].energy_cpu_j > 0
