"""A study as people run one: a SLURM array job, one task per subject, the failure resubmitted.

The local SLURM the tests start runs ``sbatch --array`` over three subjects of a real
pipeline (dwiprep --light: MRtrix3's dwi2mask and dwidenoise on dipy's real DWI), each
metered by ``nipype-carbon run`` into one shared carbon directory. Subject 02 fails on its
first attempt (its task adds a step that raises) and is resubmitted. The truth the study is
checked against is each session's own ``nipype-carbon report`` (JSON), one run at a time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nipype_carbon.record.runs import session_files
from tests.apps.test_app_run import DWIPREP, carbon_run, clean_env, data, plugin_file  # noqa: F401
from tests.support.optional import needs_example_deps

pytestmark = [pytest.mark.slurm, pytest.mark.example]

REPO = Path(__file__).resolve().parents[2]
SUBJECTS = ("01", "02", "03")
FAILS_ONCE = "02"
#: the CLI as the array task runs it (this checkout's, by the test's Python)
CLI = [
    sys.executable,
    "-c",
    "import sys; from nipype_carbon.cli.main import main; sys.exit(main())",
]

SCRIPT = """#!/bin/bash
#SBATCH --time=10
#SBATCH --cpus-per-task=1
#SBATCH --output={out}/task-%A_%a.out
set -u
SUBJECTS=({subjects})
label=${{SUBJECTS[$SLURM_ARRAY_TASK_ID]}}
fail=""
# the first attempt of subject {fails_once} fails (a step that raises), as a real task might
if [ "$label" = "{fails_once}" ] && [ ! -e "{out}/tried-$label" ]; then
    touch "{out}/tried-$label"; fail=--fail
fi
exec {python} -m nipype_carbon run --carbon-dir "{carbon}" --region GB -- \\
    {python} {dwiprep} {data} "{work}/sub-$label" --use-plugin {plugin} --light \\
    --participant-label "$label" $fail
"""


def _sbatch(script: Path, array: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sbatch", "--wait", f"--array={array}", str(script)],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _report(session: Path, env: dict[str, str], tmp: Path) -> dict:
    out = tmp / f"{session.stem}.json"
    proc = subprocess.run(
        [*CLI, "report", str(session), "-o", str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def array_study(data: Path, slurm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("array")
    carbon, work, out = tmp / "carbon", tmp / "work", tmp / "out"
    out.mkdir()
    script = tmp / "subjects.sbatch"
    script.write_text(
        SCRIPT.format(
            out=out, subjects=" ".join(SUBJECTS), fails_once=FAILS_ONCE, carbon=carbon,
            work=work, python=sys.executable, dwiprep=DWIPREP, data=data,
            plugin=plugin_file(tmp, "MultiProc", n_procs=1),
        )
    )  # fmt: skip
    env = {**clean_env(PYTHONPATH=str(REPO)), **slurm_env}
    env["XDG_CACHE_HOME"] = os.environ["XDG_CACHE_HOME"]
    first = _sbatch(script, f"0-{len(SUBJECTS) - 1}", env)
    again = _sbatch(script, str(SUBJECTS.index(FAILS_ONCE)), env)  # resubmit the failed one
    logs = "\n".join(p.read_text()[-2000:] for p in sorted(out.glob("task-*.out")))
    study = tmp / "study.json"
    proc = subprocess.run(
        [*CLI, "study", str(carbon), "-o", str(study)], env=env, capture_output=True, text=True
    )
    return {
        "first": first, "again": again, "logs": logs, "proc": proc, "study": study,
        "carbon": carbon, "env": env, "tmp": tmp,
    }  # fmt: skip


@needs_example_deps
def test_an_array_job_is_one_study_with_each_subject_once(array_study: dict) -> None:
    first, again, proc = array_study["first"], array_study["again"], array_study["proc"]
    assert first.returncode != 0, "the first array should report its failed task"
    assert again.returncode == 0, array_study["logs"]
    assert proc.returncode == 0, proc.stderr
    study = json.loads(array_study["study"].read_text())
    sessions = session_files(array_study["carbon"])
    # each task's dwiprep runs two workflows (preprocessing, summary); the failed attempt
    # stops after the first
    assert len(sessions) == 2 * len(SUBJECTS) + 1, array_study["logs"]
    reports = {p: _report(p, array_study["env"], array_study["tmp"]) for p in sessions}

    subjects = {row["subject"]: row for row in study["subjects"]}
    assert sorted(subjects) == list(SUBJECTS)  # each subject once: no "(no subject)", no split
    assert all(row["status"] == "complete" for row in subjects.values())
    assert subjects[FAILS_ONCE]["runs"] == 3 and subjects["01"]["runs"] == 2

    # totals: the sum of the per-run reports, run by run and subject by subject
    by_path = {row["path"]: row for row in study["runs"]}
    total = sum(r["totals"]["energy_j"] for r in reports.values())
    assert study["totals"]["energy_j"] == pytest.approx(total, rel=1e-9)
    assert study["totals"]["emissions_g"] == pytest.approx(
        sum(r["totals"]["emissions_g"] for r in reports.values()), rel=1e-9
    )
    for label in SUBJECTS:
        mine = [p for p in sessions if by_path[str(p)]["subject"] == label]
        assert subjects[label]["energy_j"] == pytest.approx(
            sum(reports[p]["totals"]["energy_j"] for p in mine), rel=1e-9
        )

    # the failed attempt: a failed run, its failed step's energy is waste
    failed = [p for p in sessions if reports[p]["totals"]["run_status"] == "failed"]
    assert len(failed) == 1 and by_path[str(failed[0])]["subject"] == FAILS_ONCE
    broken = [n for n in reports[failed[0]]["nodes"] if n["node"].endswith("broken_step")]
    assert len(broken) == 1 and broken[0]["status"] == "failed"
    assert study["waste"]["failed_j"] == pytest.approx(broken[0]["energy_j"], rel=1e-9)
    assert study["waste"]["failed_j"] > 0
    assert study["waste"]["earlier_attempts_j"] == pytest.approx(
        reports[failed[0]]["totals"]["energy_j"], rel=1e-9
    )
    # redone: what the failed attempt ran that the resubmission ran again (not from the cache)
    retry = next(
        p for p in sessions
        if by_path[str(p)]["subject"] == FAILS_ONCE and by_path[str(p)]["workflow"]
        == by_path[str(failed[0])]["workflow"] and p != failed[0]
    )  # fmt: skip
    ran_again = {n["node"] for n in reports[retry]["nodes"] if n["status"] == "ran"}
    redone = sum(
        n["energy_j"] for n in reports[failed[0]]["nodes"]
        if n["status"] == "ran" and n["node"] in ran_again and n["kind"] == "node"
    )  # fmt: skip
    assert study["waste"]["redone_j"] == pytest.approx(redone, rel=1e-9, abs=1e-12)
    # the resubmission found the first attempt's finished nodes in the cache
    assert study["waste"]["avoided_by_cache_j"] > 0

    # per-step distributions across the three subjects
    steps = {row["step"]: row for row in study["steps"]}
    for step in ("dwi_mask", "denoise_mrtrix", "known_cpu"):
        row = steps[step]
        assert row["subjects"] == len(SUBJECTS), row
        assert row["min_j"] <= row["q1_j"] <= row["median_j"] <= row["q3_j"] <= row["max_j"]
        assert row["energy_j"] > 0
    assert steps["broken_step"]["failed_j"] == pytest.approx(broken[0]["energy_j"], rel=1e-9)
    assert sum(r["energy_j"] for r in study["steps"]) <= study["totals"]["energy_j"]


@needs_example_deps
def test_the_second_study_call_reads_the_cache_and_agrees(array_study: dict) -> None:
    env, carbon, tmp = array_study["env"], array_study["carbon"], array_study["tmp"]
    proc = subprocess.run([*CLI, "study", str(carbon)], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "3 subject(s), 7 run(s)" in proc.stdout
    again = tmp / "again.json"
    subprocess.run([*CLI, "study", str(carbon), "-o", str(again)], env=env, check=True)
    first, second = json.loads(array_study["study"].read_text()), json.loads(again.read_text())
    assert first["timings"]["summed_up_now"] == 7  # the first call summed every run up
    assert second["timings"]["summed_up_now"] == 0  # the second read them back
    assert second["totals"] == first["totals"] and second["steps"] == first["steps"]
