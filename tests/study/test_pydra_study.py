"""Pydra runs (the ``carbon`` worker) are subjects and steps as Nipype runs are."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydra.engine.submitter import Submitter

from nipype_carbon.record.runs import session_files
from nipype_carbon.report.model import build_report
from nipype_carbon.study.build import build_study
from tests.pydra import KnownCosts


def run_subject(root: Path, subject: str, a: float) -> Path:
    """KnownCosts for one subject, its subject given as a setting of the worker."""
    cache_root = root / f"sub-{subject}"
    with Submitter(
        worker="carbon", base="debug", cache_root=cache_root, region="GB",
        sample_interval_s=0.2, subject=subject,
    ) as sub:  # fmt: skip
        assert not sub(KnownCosts(a=a, child=0.1, states=[0.1, 0.2])).errored
    return cache_root / "carbon" / "KnownCosts"


def test_pydra_runs_are_subjects_and_steps(tmp_path: Path) -> None:
    dirs = [run_subject(tmp_path, s, a) for s, a in (("01", 0.2), ("02", 0.4))]
    study = build_study([tmp_path], store_path=None)
    assert list(study.subjects["subject"]) == ["01", "02"]
    assert set(study.subjects["engine"]) == {"pydra"}
    sessions = [p for d in dirs for p in session_files(d)]
    assert study.totals["energy_j"] == pytest.approx(
        sum(build_report(p).totals.energy_j for p in sessions)
    )
    steps = study.steps.set_index("step")
    # the split task's states folded into one step; every step seen in both subjects
    assert {"KnownCosts.burn_a", "KnownCosts.burn_s", "KnownCosts.cli"} <= set(steps.index)
    assert (steps["subjects"] == 2).all(), steps["subjects"]
    assert steps.loc["KnownCosts.burn_s", "nodes"] == 4  # two states in each of two runs
