"""A rerun that reused every node: ``report`` and ``compare`` on the carbon directory use the
newest run that did the work and say which; a mistyped step gets a "did you mean"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from testkit.sessions import NodeSpec, build_session
from tests.faults.helpers import run_cli

WORKED = "session-20261201T100000-11.jsonl"
RERUN = "session-20261201T110000-12.jsonl"


@pytest.fixture
def carbon(tmp_path: Path) -> Path:
    """A run that did the work (two denoisers, 4 and 8 CPU-s), then a rerun reusing it."""
    specs = [NodeSpec("wf.denoise_mrtrix", 0, 4, 1.0, 5), NodeSpec("wf.denoise_dipy", 0, 4, 2.0, 5)]
    worked = build_session(specs)
    worked.created = 1.80e9
    worked.save(tmp_path / WORKED)
    rerun = Session(metadata={"workflow": "wf"})
    rerun.created = 1.80e9 + 3600
    for spec in specs:
        rerun.add_node(NodeRecord(spec.name, "cached", 10.0, 10.0, "h"))
    rerun.add_event("end", status="ok", error=None)
    rerun.save(tmp_path / RERUN)
    return tmp_path


def test_report_of_the_directory_is_the_run_that_did_the_work(carbon: Path) -> None:
    status, _, err = run_cli("report", str(carbon), "-o", str(carbon / "r.json"))
    assert status == 0, err
    assert f"the newest run ({RERUN}" in err and f"did the work, {WORKED}" in err
    data = json.loads((carbon / "r.json").read_text())
    # 10 W idle over 4 s, 5 J per CPU-second of 12 CPU-s, and modelled memory (6 W for
    # 16 GiB, 1e8 B held by each node for 4 s): the earlier run's figure
    memory_j = 6.0 * 1e8 / (16 * 1024**3) * 4 * 2
    assert data["totals"]["energy_j"] == pytest.approx(10 * 4 + 5 * 12 + memory_j, rel=1e-6)


def test_the_rerun_itself_is_still_reported_when_named(carbon: Path) -> None:
    status, out, err = run_cli("report", str(carbon / RERUN))
    assert status == 0, err
    assert "Nothing ran: 2 node(s) reused" in out
    assert "did the work" not in err


def test_compare_alternatives_on_the_directory_uses_the_run_that_did_the_work(
    carbon: Path,
) -> None:
    status, out, err = run_cli(
        "compare", str(carbon), "--alternatives", "denoise=denoise_mrtrix,denoise_dipy"
    )
    assert status == 0, err
    assert "denoise: denoise_mrtrix is cheaper" in out
    assert f"did the work, {WORKED}" in err


def test_a_mistyped_step_gets_the_closest_names(carbon: Path) -> None:
    status, _, err = run_cli(
        "compare", str(carbon), "--alternatives", "denoise=denoise_mrtrx,denoise_dipy"
    )
    assert status == 2
    assert "no node matches 'denoise_mrtrx'" in err
    assert "did you mean 'denoise_mrtrix'" in err
