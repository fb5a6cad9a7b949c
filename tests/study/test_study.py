"""``nipype-carbon study`` over sessions written here: subjects, steps, waste, robustness.

Truths: the per-run report of each session (``build_report``, one run at a time), what each
test wrote (which subject, which nodes failed or were found in the cache), and Python's own
``statistics`` for the distributions.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from nipype_carbon.report.model import build_report
from nipype_carbon.study.build import build_study
from nipype_carbon.study.subjects import NO_SUBJECT
from testkit.sessions import NodeSpec, build_session

REPO = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(REPO)}
CLI = [
    sys.executable,
    "-c",
    "import sys; from nipype_carbon.cli.main import main; sys.exit(main())",
]
#: (step, seconds, CPU seconds per second)
STEPS = (
    ("anat_wf.skullstrip", 10.0, 1.0),
    ("anat_wf.register", 20.0, 0.5),
    ("func_wf.hmc", 5.0, 1.0),
)


def write_run(
    path: Path,
    subject: str | None,
    start: float,
    scale: float = 1.0,
    failed: tuple[str, ...] = (),
    cached: tuple[str, ...] = (),
    steps: tuple[tuple[str, float, float], ...] = STEPS,
    prefix: str | None = None,
    setting: str | None = None,
    argv: list[str] | None = None,
    ended: bool = True,
    driver_pid: int = 0,
) -> Path:
    """A run of ``steps`` one after another, named as fMRIPrep names a subject's nodes."""
    specs, t = [], start
    for name, seconds, rate in steps:
        owner = prefix if prefix is not None else f"fmriprep_wf.single_subject_{subject}_wf"
        specs.append(NodeSpec(f"{owner}.{name}" if owner else name, t, seconds * scale, rate, 20))
        t += seconds * scale
    session = build_session(specs, complete=ended)
    for record in session.nodes.values():
        short = record.name.split(".", 2)[-1] if prefix is None else record.name
        if any(record.name.endswith(f) for f in failed):
            record.status = "failed"
        if any(record.name.endswith(c) for c in cached):
            record.status = "cached"
        record.interface = (
            "nipype.interfaces.ants.Registration" if "register" in short else "Function"
        )
    session.metadata.update({"workflow": "fmriprep_wf", "engine": "nipype", "start": start})
    if setting:
        session.settings["subject"] = setting
    if argv is not None:
        session.metadata["argv"] = argv
    if driver_pid:
        session.metadata["driver"] = {"host": os.uname().nodename, "pid": driver_pid}
    path.parent.mkdir(parents=True, exist_ok=True)
    session.save(path)
    return path


def energy(path: Path) -> float:
    return float(build_report(path).totals.energy_j)


@pytest.fixture
def cohort(tmp_path: Path) -> dict[str, list[Path]]:
    """Four subjects; 02 fails in register, then is resubmitted (skullstrip from the cache)."""
    carbon = tmp_path / "derivatives" / "carbon"
    runs = {
        "01": [write_run(carbon / "session-1.jsonl", "01", 1000.0)],
        "02": [
            write_run(carbon / "session-2.jsonl", "02", 2000.0, scale=1.1, failed=("register",)),
            write_run(carbon / "session-3.jsonl", "02", 3000.0, scale=1.1, cached=("skullstrip",)),
        ],
        "03": [write_run(carbon / "session-4.jsonl", "03", 4000.0, scale=1.3)],
        "04": [write_run(carbon / "session-5.jsonl", "04", 5000.0, scale=0.9)],
    }
    return runs


def test_each_subject_once_with_its_attempts_summed(cohort: dict, tmp_path: Path) -> None:
    study = build_study([tmp_path], store_path=tmp_path / "store.sqlite")
    subjects = study.subjects.set_index("subject")
    assert list(subjects.index) == ["01", "02", "03", "04"]
    for label, paths in cohort.items():
        assert subjects.loc[label, "energy_j"] == pytest.approx(sum(energy(p) for p in paths))
        assert subjects.loc[label, "runs"] == len(paths)
    assert (subjects["status"] == "complete").all()
    every = [p for paths in cohort.values() for p in paths]
    assert study.totals["energy_j"] == pytest.approx(sum(energy(p) for p in every))
    assert study.totals["runs"] == 5 and study.totals["subjects"] == 4

    # the distribution across subjects, by Python's statistics (inclusive quartiles)
    values = [sum(energy(p) for p in paths) for paths in cohort.values()]
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    d = study.distribution
    assert (d["n"], d["median"], d["q1"], d["q3"]) == (
        4,
        pytest.approx(median),
        pytest.approx(q1),
        pytest.approx(q3),
    )
    assert d["sd"] == pytest.approx(statistics.stdev(values))


def test_steps_are_aligned_across_subjects(cohort: dict, tmp_path: Path) -> None:
    study = build_study([tmp_path], store_path=tmp_path / "store.sqlite")
    steps = study.steps.set_index("step")
    assert set(steps.index) == {
        "fmriprep_wf.anat_wf.skullstrip",
        "fmriprep_wf.anat_wf.register",
        "fmriprep_wf.func_wf.hmc",
    }
    register = steps.loc["fmriprep_wf.anat_wf.register"]
    assert register["subjects"] == 4
    assert register["interface"] == "nipype.interfaces.ants.Registration"
    # per subject, the step's energy from the runs' own node tables
    per_subject = {}
    for label, paths in cohort.items():
        per_subject[label] = sum(
            float(row.energy_j)
            for p in paths
            for row in build_report(p).nodes.itertuples()
            if row.node.endswith("register")
        )
    assert register["energy_j"] == pytest.approx(sum(per_subject.values()))
    assert register["median_j"] == pytest.approx(statistics.median(per_subject.values()))
    assert register["max_j"] == pytest.approx(max(per_subject.values()))
    assert steps["share"].sum() <= 1.0 + 1e-9
    assert study.steps["energy_j"].is_monotonic_decreasing  # hottest first


def test_waste_is_the_failed_step_and_what_the_retry_ran_again(
    cohort: dict, tmp_path: Path
) -> None:
    study = build_study([tmp_path], store_path=tmp_path / "store.sqlite")
    first, _retry = cohort["02"]
    nodes = build_report(first).nodes.set_index("node")
    failed = nodes.loc[nodes.index.str.endswith("register"), "energy_j"].sum()
    # the retry found skullstrip in the cache and ran register (failed before: failed, not
    # redone) and hmc (it had run in the first attempt: redone)
    hmc = nodes.loc[nodes.index.str.endswith("hmc"), "energy_j"].sum()
    assert study.waste["failed_j"] == pytest.approx(failed)
    assert hmc > 0 and study.waste["redone_j"] == pytest.approx(hmc)
    assert study.waste["earlier_attempts_j"] == pytest.approx(energy(first))
    sub02 = study.subjects.set_index("subject").loc["02"]
    assert sub02["failed_j"] == pytest.approx(failed)


def test_a_retry_without_the_cache_redoes_what_the_first_attempt_ran(tmp_path: Path) -> None:
    carbon = tmp_path / "carbon"
    first = write_run(carbon / "session-a.jsonl", "07", 100.0, failed=("func_wf.hmc",))
    write_run(carbon / "session-b.jsonl", "07", 200.0)  # ran everything again
    study = build_study([carbon], store_path=None)
    nodes = build_report(first).nodes
    ran = nodes.loc[nodes["status"] == "ran", "energy_j"].sum()
    assert ran > 0 and study.waste["redone_j"] == pytest.approx(ran)
    assert study.waste["failed_j"] == pytest.approx(
        nodes.loc[nodes["status"] == "failed", "energy_j"].sum()
    )


def test_subjects_from_setting_command_line_pattern_or_none(tmp_path: Path) -> None:
    plain = "pipeline"  # node names with no subject in them
    write_run(tmp_path / "a" / "session-1.jsonl", None, 0.0, prefix=plain, setting="11")
    write_run(
        tmp_path / "b" / "session-1.jsonl",
        None,
        0.0,
        prefix=plain,
        argv=["qsiprep", "/bids", "/out", "participant", "--participant-label", "sub-12"],
    )
    write_run(tmp_path / "sub-13" / "carbon" / "session-1.jsonl", None, 0.0, prefix=plain)
    write_run(tmp_path / "misc" / "session-1.jsonl", None, 0.0, prefix=plain)
    study = build_study([tmp_path], store_path=None, subject_from=r"sub-(\w+)/carbon")
    by = dict(
        zip(
            study.runs["path"].map(lambda p: Path(p).parent.name),
            study.runs["subject"],
            strict=True,
        )
    )
    assert by == {"a": "11", "b": "12", "carbon": "13", "misc": NO_SUBJECT}
    sources = set(study.runs["subject_from"])
    assert sources == {"setting", "command line", "--subject-from", "none"}
    assert any("no known subject" in n for n in study.notes)
    assert NO_SUBJECT not in set(study.steps["outliers"])


def test_a_run_of_two_subjects_is_divided_by_its_sub_workflows(tmp_path: Path) -> None:
    both = write_run(
        tmp_path / "session-1.jsonl", None, 0.0, prefix="",
        steps=(("fmriprep_wf.sub_21_wf.anat", 10.0, 1.0), ("fmriprep_wf.sub_22_wf.anat", 30.0, 1.0),
               ("fmriprep_wf.bidssrc", 2.0, 1.0)),
    )  # fmt: skip
    study = build_study([tmp_path], store_path=None)
    subjects = study.subjects.set_index("subject")
    assert list(subjects.index) == ["21", "22"]
    total = energy(both)
    assert subjects["energy_j"].sum() == pytest.approx(total)
    nodes = build_report(both).nodes.set_index("node")["energy_j"]
    own = {s: nodes[f"fmriprep_wf.sub_{s}_wf.anat"] for s in ("21", "22")}
    # what is of no subject (bidssrc, overhead) divided by the subjects' own nodes
    assert subjects.loc["22", "energy_j"] / subjects.loc["21", "energy_j"] == pytest.approx(
        own["22"] / own["21"]
    )


def test_bad_files_are_listed_and_the_study_goes_on(cohort: dict, tmp_path: Path) -> None:
    carbon = tmp_path / "derivatives" / "carbon"
    good = cohort["01"][0]
    raw = good.read_bytes()
    (carbon / "session-cut.jsonl").write_bytes(raw[: len(raw) * 2 // 3])  # cut mid-line
    (carbon / "session-header-cut.jsonl").write_bytes(raw[:40])  # not even a header
    (carbon / "notes.jsonl").write_text('{"some": "other tool"}\n')
    (tmp_path / "link.jsonl").symlink_to(good)  # a link to a session, in the tree
    study = build_study(
        [tmp_path, good, tmp_path / "missing"], store_path=tmp_path / "store.sqlite"
    )
    reasons = {Path(s.path).name: s.reason for s in study.skipped}
    assert "not a nipype-carbon session" in reasons["notes.jsonl"]
    assert "session-header-cut.jsonl" in reasons
    assert reasons["link.jsonl"].startswith("a link: not followed")  # as report does
    assert "counted once" in reasons["session-1.jsonl"]  # found in the folder, then given again
    assert reasons["missing"] == "no such file or folder"
    # the cut session is a run (interrupted: no end), counted, its damaged line said
    cut = study.runs[study.runs["path"].str.endswith("session-cut.jsonl")]
    assert len(cut) == 1 and cut.iloc[0]["status"] == "interrupted"
    assert study.totals["runs"] == 6
    subjects = study.subjects.set_index("subject")
    assert subjects.loc["01", "runs"] == 2  # the cut copy of 01's run is an attempt of 01's


def test_runs_in_progress_are_shown_and_left_out_unless_asked(tmp_path: Path) -> None:
    write_run(tmp_path / "session-1.jsonl", "01", 0.0)
    going = write_run(tmp_path / "session-2.jsonl", "02", 10.0, ended=False, driver_pid=os.getpid())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    write_run(tmp_path / "session-3.jsonl", "03", 20.0, ended=False, driver_pid=int(dead.stdout))
    study = build_study([tmp_path], store_path=None)
    runs = study.runs.set_index(study.runs["path"].map(lambda p: Path(p).name))
    assert runs.loc["session-2.jsonl", "status"] == "running"
    assert not runs.loc["session-2.jsonl", "included"]
    assert runs.loc["session-3.jsonl", "status"] == "interrupted"  # its driver is gone
    assert list(study.subjects["subject"]) == ["01", "03"]
    assert any("still in progress" in n for n in study.notes)
    counted = build_study([tmp_path], store_path=None, include_running=True)
    assert counted.totals["energy_j"] == pytest.approx(study.totals["energy_j"] + energy(going))


def test_an_older_session_without_the_new_fields_still_loads(tmp_path: Path) -> None:
    path = write_run(tmp_path / "session-1.jsonl", "31", 0.0)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["metadata"].pop("driver", None)
    header["metadata"].pop("argv", None)
    header["settings"].pop("subject", None)
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    study = build_study([path], store_path=None)
    assert list(study.subjects["subject"]) == ["31"]


def test_the_store_is_used_again_and_sees_a_changed_run(cohort: dict, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite"
    first = build_study([tmp_path], store_path=store)
    second = build_study([tmp_path], store_path=store)
    assert first.timings["summed_up_now"] == 5 and second.timings["summed_up_now"] == 0
    assert second.totals == first.totals
    write_run(cohort["04"][0], "04", 5000.0, scale=2.0)  # the run's file replaced
    third = build_study([tmp_path], store_path=store)
    assert third.timings["summed_up_now"] == 1
    assert third.totals["energy_j"] > first.totals["energy_j"]
    store.write_bytes(b"not a database")  # a damaged cache is made again
    assert build_study([tmp_path], store_path=store).totals == third.totals


def test_region_and_pue_re_express_the_study(cohort: dict, tmp_path: Path) -> None:
    base = build_study([tmp_path], store_path=None)
    quebec = build_study([tmp_path], store_path=None, region="CA-QC", pue=1.5)
    assert quebec.totals["energy_j"] == base.totals["energy_j"]
    # CA-QC: 1.5 gCO2e/kWh in the shipped table
    assert quebec.totals["emissions_g"] == pytest.approx(
        base.totals["energy_j"] / 3.6e6 * 1.5 * 1.5
    )


def test_projection_interval_holds_the_central_figure(tmp_path: Path) -> None:
    for i, scale in enumerate((0.8, 0.9, 1.0, 1.1, 1.2, 1.0, 0.95, 1.05, 1.3, 0.7, 1.0, 1.15)):
        write_run(tmp_path / f"session-{i}.jsonl", f"{i:02d}", 100.0 * i, scale=scale)
    study = build_study([tmp_path], store_path=None, project_subjects=1000)
    p = study.projection
    mean = statistics.fmean(study.subjects["energy_j"])
    assert p["energy_j"] == pytest.approx(1000 * mean)
    assert p["energy_j_low"] < p["energy_j"] < p["energy_j_high"]
    assert not p["too_narrow"]
    # the interval is about the uncertainty of the mean: about +-1.645 SD x 1000 / sqrt(12)
    half = 1.645 * statistics.stdev(study.subjects["energy_j"]) * 1000 / 12**0.5
    assert (p["energy_j_high"] - p["energy_j_low"]) / 2 == pytest.approx(half, rel=0.35)


def test_the_command_writes_every_format(cohort: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("study.json", "study.md", "study.txt", "study.csv"):
        proc = subprocess.run(
            [*CLI, "study", str(tmp_path / "derivatives"), "-o", str(out / name)],
            capture_output=True,
            text=True,
            env=ENV,
        )
        assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.glob("study-*.csv")} == {
        f"study-{t}.csv" for t in ("subjects", "steps", "runs", "hardware", "skipped")
    }
    assert json.loads((out / "study.json").read_text())["totals"]["subjects"] == 4
    assert "| 02 | complete | 2 |" in (out / "study.md").read_text()
    assert "Methods: 4 subject(s) in 5 run(s)" in (out / "study.txt").read_text()
    proc = subprocess.run(
        [*CLI, "study", str(tmp_path), "-o", str(out / "x.csv"), "--table", "steps"],
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert proc.returncode == 0 and (out / "x.csv").read_text().startswith(
        "step,interface,subjects"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subject-from", "sub-("], "is not a regular expression"),
        (["--table", "steps"], "give it with -o FILE.csv"),
        (["-o", "x.pdf"], "use .csv, .html, .json, .md or .txt"),
        (["--pue", "9"], "pue"),
    ],
)
def test_bad_options_get_one_line(
    cohort: dict, tmp_path: Path, args: list[str], message: str
) -> None:
    proc = subprocess.run(
        [*CLI, "study", str(tmp_path), *args], capture_output=True, text=True, cwd=tmp_path, env=ENV
    )
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_folder_without_runs_gets_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.jsonl").write_text("{}\n")
    proc = subprocess.run([*CLI, "study", str(tmp_path)], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 1 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "no run found under" in proc.stderr and "notes.jsonl" in proc.stderr


def test_the_subject_setting_from_plugin_args_or_the_environment() -> None:
    from nipype_carbon.record.settings import CarbonSettings, SettingsError

    given, _ = CarbonSettings.split({"subject": "sub-05", "n_procs": 2}, env={})
    from_env, _ = CarbonSettings.split({}, env={"NIPYPE_CARBON_SUBJECT": "06"})
    assert (given.subject, from_env.subject) == ("05", "06")
    with pytest.raises(SettingsError, match="BIDS label"):
        CarbonSettings.split({"subject": "05_a"}, env={})


def test_run_refuses_a_subject_that_is_not_a_label(tmp_path: Path) -> None:
    proc = subprocess.run(
        [*CLI, "run", "--carbon-dir", str(tmp_path / "c"), "--subject", "0 1", "--", "true"],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 2 and "BIDS label" in proc.stderr
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").glob("session*"))
