"""Smoke test of examples/pydra_dwi: the whole Pydra workflow, metered, on the shipped data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from nipype_carbon import load_session
from tests.support.optional import needs_example_deps

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

pytestmark = [pytest.mark.example, needs_example_deps]

TASKS = ["dwi_mask", "denoise_mrtrix", "denoise_dipy", "collect_denoised", "compare_fa"]
SPLITS = ["tensor_mrtrix", "metrics_mrtrix", "tensor_dipy"]


def test_pydra_dwi_example_runs_metered(tmp_path: Path) -> None:
    from pydra_dwi.run import main

    assert main(["--cache-root", str(tmp_path), "--region", "GB"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["mean_fa"]) == 6
    assert all(0.1 < fa < 0.9 for fa in summary["mean_fa"].values())
    assert 0.0 <= summary["max_mean_abs_fa_diff"] < 0.5
    session = load_session(summary["carbon_dir"])
    names = [f"DwiPipeline.{t}" for t in TASKS]
    names += [f"DwiPipeline.{s}[{i}]" for s in SPLITS for i in range(3)]
    for name in names:
        record = session.nodes[name]
        assert record.status == "ran" and record.measurement, name
    assert session.nodes["DwiPipeline.denoise_mrtrix"].extra["executable"] == "dwidenoise"
    assert session.nodes["DwiPipeline.tensor_dipy"].extra["states"] == 3
