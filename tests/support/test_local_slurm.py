"""End-to-end checks against a REAL single-node SLURM on localhost.

The cluster is started (and on first use installed, as root) by
``scripts/slurm/start-local-slurm.sh`` through ``tests.support.slurm``.  When
it cannot be started (not root and slurm not installed/running) the tests are
skipped with the reason.

Notes on what nipype's SLURM plugin (nipype/pipeline/plugins/slurm.py) needs:

* ``LOGNAME`` must be in ``os.environ``: job names are built from
  ``os.environ["LOGNAME"]`` (KeyError otherwise, e.g. in minimal containers).
* ``SLURM_CONF`` must be in ``os.environ``: ``sbatch`` is spawned with
  ``environ=dict(os.environ)`` and ``squeue`` inherits the process
  environment.  ``sbatch`` exports the whole environment to the job
  (``--export=ALL`` is the default), which is how the job finds ``PATH``,
  ``SLURM_CONF`` etc.
* Shared filesystem: the workflow ``base_dir`` (pyscripts, batch scripts,
  ``result_*.pklz``, ``slurm-%j.out``) must be visible at the same path on the
  compute node.  Trivially true here (single node), so ``tmp_path`` works.
* Same Python on the node: the batch script is ``#!/bin/bash`` followed by
  ``sys.executable <pyscript>``, so the submitting interpreter (with nipype
  installed) must exist at that path on the node.
* Completion is detected by polling ``squeue -j <id>`` every
  ``config["execution"]["poll_sleep_duration"]`` seconds (a *config* option,
  not a plugin_arg; default 2 s) and treating "id not in stdout" (finished, or
  "Invalid job id" after the record is purged) as done.  It then waits up to
  ``job_finished_timeout`` (default 5 s) for ``result_*.pklz``.
* ``sbatch_args`` pitfall: the plugin adds ``-o``/``-e`` only if the
  *substrings* ``"-o"``/``"-e"`` do not occur in ``sbatch_args``, so e.g.
  ``--export=...`` or ``--exclusive`` silently drops its ``-e`` (stderr then
  goes to slurm's default ``slurm-%j.out`` in the job's cwd).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.slurm import SlurmUnavailableError, accounting_enabled, ensure_local_slurm

pytestmark = pytest.mark.slurm


def test_sbatch_wait_runs_python_job(slurm, tmp_path: Path) -> None:
    out = tmp_path / "from_job.txt"
    code = (
        "import os, sys; "
        "open(sys.argv[1], 'w').write('hello from job ' + os.environ['SLURM_JOB_ID'])"
    )
    proc = subprocess.run(
        [
            "sbatch",
            "--wait",
            "--parsable",
            "--job-name=nc-sbatch-test",
            "--time=2",
            "-o",
            str(tmp_path / "slurm-%j.out"),
            f"--wrap={shlex.join([sys.executable, '-c', code, str(out)])}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    job_id = proc.stdout.strip().split(";")[0]
    assert job_id.isdigit(), proc.stdout
    assert out.read_text() == f"hello from job {job_id}"


def test_srun_runs_python(slurm, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            "srun",
            "-n1",
            "--time=2",
            sys.executable,
            "-c",
            "import os; print(os.environ['SLURM_JOB_ID'])",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert proc.stdout.strip().isdigit(), proc.stdout


# Function nodes ship only the function *source* to the job, so imports must
# live inside the function body.
def _add_one(x):
    import os

    return x + 1, os.environ.get("SLURM_JOB_ID", "")


def _double(y):
    import os

    return y * 2, os.environ.get("SLURM_JOB_ID", "")


def test_nipype_workflow_with_slurm_plugin(slurm, tmp_path: Path) -> None:
    from nipype import Node, Workflow
    from nipype.interfaces.utility import Function

    add = Node(
        Function(input_names=["x"], output_names=["out", "job_id"], function=_add_one),
        name="add_one",
    )
    add.inputs.x = 20
    dbl = Node(
        Function(input_names=["y"], output_names=["out", "job_id"], function=_double),
        name="double",
    )
    wf = Workflow(name="slurm_wf", base_dir=str(tmp_path))
    wf.connect(add, "out", dbl, "y")
    wf.config["execution"].update(
        {
            "poll_sleep_duration": 0.5,  # squeue polling period (config, not plugin_args)
            "job_finished_timeout": 30,  # wait for result_*.pklz after squeue says done
            "crashdump_dir": str(tmp_path),
            "stop_on_first_crash": True,
            # keep add_one.job_id although nothing consumes it downstream
            "remove_unnecessary_outputs": False,
        }
    )

    graph = wf.run(
        plugin="SLURM",
        # No "-o"/"-e" substrings here, so the plugin adds its own -o/-e.
        plugin_args={
            "sbatch_args": "--time=5 --cpus-per-task=1",
            "max_tries": 2,  # sbatch retries
            "retry_timeout": 1,
        },
    )

    nodes = {n.name: n for n in graph.nodes()}
    add_out = nodes["add_one"].result.outputs
    dbl_out = nodes["double"].result.outputs
    assert add_out.out == 21
    assert dbl_out.out == 42
    # Both ran inside SLURM jobs (distinct jobs), not in this process.
    assert add_out.job_id.isdigit() and dbl_out.job_id.isdigit()
    assert add_out.job_id != dbl_out.job_id
    batch_dir = tmp_path / "slurm_wf" / "batch"
    assert sorted(p.name for p in batch_dir.glob("slurm-*.out")) == sorted(
        f"slurm-{j}.out" for j in (add_out.job_id, dbl_out.job_id)
    )


def test_sacct_reports_job_state(monkeypatch, tmp_path: Path) -> None:
    """sacct works when the cluster runs with accounting (slurmdbd + MariaDB).

    Pydra's slurm worker needs this (it checks exit codes with ``sacct``).
    Opt-in, because enabling accounting on a running cluster restarts
    slurmctld/slurmd, which would break SLURM tests running concurrently:
    start the cluster with ``NIPYPE_CARBON_SLURM_ACCOUNTING=1`` up front.
    """
    if os.environ.get("NIPYPE_CARBON_SLURM_ACCOUNTING") != "1" and not accounting_enabled():
        pytest.skip(
            "accounting not enabled: start the cluster with NIPYPE_CARBON_SLURM_ACCOUNTING=1 "
            "(or set it for pytest) to test sacct"
        )
    try:
        env = ensure_local_slurm(accounting=True)
    except SlurmUnavailableError as exc:
        pytest.skip(str(exc))
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    proc = subprocess.run(
        ["sbatch", "--wait", "--parsable", "-o", str(tmp_path / "slurm-%j.out"), "--wrap=exit 3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 3, (proc.stdout, proc.stderr)  # sbatch --wait: job's code
    job_id = proc.stdout.strip().split(";")[0]

    # The end-of-job record reaches slurmdbd asynchronously; poll briefly.
    deadline = time.monotonic() + 30
    row = ""
    while time.monotonic() < deadline:
        row = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "JobID,State,ExitCode"],
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
        if row and "RUNNING" not in row and "PENDING" not in row:
            break
        time.sleep(0.2)
    assert row == f"{job_id}|FAILED|3:0"
