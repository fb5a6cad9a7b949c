"""Smoke test of examples/dwi_pipeline: runs the whole workflow on the shipped data.

Needs MRtrix3 and dipy/nitime (``bash scripts/install-example-deps.sh``); without them the
tests are skipped, naming what is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from examples.dwi_pipeline import prepare_data
from tests.report.test_tables import CONTRACT  # the contract, stated once
from tests.support.optional import needs_dipy, needs_example_deps

pytestmark = pytest.mark.example

DENOISERS = ("none", "dwidenoise", "nlmeans")
TENSOR_FITTERS = ("mrtrix", "dipy")


def _load(path: str) -> np.ndarray:
    """Image data as float64."""
    import nibabel as nib

    return np.asarray(nib.load(path).dataobj, dtype=np.float64)


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    """Run the non-upsampled example once with CarbonMultiProc and return its summary."""
    from examples.dwi_pipeline.run import run

    base = tmp_path_factory.mktemp("dwi_example")
    result = run(base, plugin="CarbonMultiProc", n_procs=2)
    result["base"] = str(base)
    return result


@needs_dipy
def test_gradients_cleaned_to_fsl_layout():
    """The shipped N x 3 bvec with a NaN b=0 row becomes a unit-norm 3 x N table."""
    bvals, bvecs = prepare_data.load_gradients(
        prepare_data.dipy_data_file("small_64D.bval"),
        prepare_data.dipy_data_file("small_64D.bvec"),
    )
    assert bvecs.shape == (3, bvals.size) == (3, 65)
    assert not np.isnan(bvecs).any()
    b0 = bvals <= prepare_data.B0_THRESHOLD
    assert b0.sum() == 1 and np.all(bvecs[:, b0] == 0)
    np.testing.assert_allclose(np.linalg.norm(bvecs[:, ~b0], axis=0), 1.0, atol=1e-6)
    prepare_data.check_gradients(bvals, bvecs, 65)
    with pytest.raises(ValueError):
        prepare_data.check_gradients(bvals, bvecs, 64)


@needs_example_deps
def test_fa_maps_exist_and_are_sane(summary):
    """Every denoiser x tensor-fitter branch wrote an FA map with plausible values."""
    report = json.loads(Path(summary["fa_report"]).read_text())
    labels = {f"{d}+{t}" for d in DENOISERS for t in TENSOR_FITTERS}
    assert set(report["fa_files"]) == labels
    mask = _load(str(Path(summary["base"]) / "work/dwi_carbon_example/diffusion/dwi_mask/mask.nii"))
    assert mask.sum() == report["mask_voxels"] > 100
    for label, path in report["fa_files"].items():
        fa = _load(path)[mask > 0]
        assert np.isfinite(fa).all() and fa.min() >= 0.0, label
        # MRtrix3 3.0.3 FA exceeds 1 where the WLS tensor has a negative eigenvalue.
        assert np.mean(fa > 1.0) < 0.05, label
        if label.endswith("+dipy"):
            assert fa.max() <= 1.0, label
    for label, mean_fa in summary["mean_fa"].items():
        assert 0.1 < mean_fa < 0.9, label
    assert 0.0 <= summary["max_mean_abs_fa_diff"] < 0.5


@needs_example_deps
def test_confounds_are_sane(summary):
    """DVARS and FD have one value per volume transition and sensible ranges."""
    n_volumes = summary["bold_shape"][3]
    dvars = np.loadtxt(summary["dvars_file"], skiprows=1, ndmin=2)
    assert dvars.shape == (n_volumes - 1, 3)
    assert np.isfinite(dvars).all() and (dvars > 0).all()
    fd = np.loadtxt(summary["fd_file"], skiprows=1)
    assert fd.shape == (n_volumes - 1,)
    assert (fd >= 0).all() and fd.max() < 5.0  # mm, at a 50 mm head radius
    assert summary["fd_average"] == pytest.approx(fd.mean(), rel=1e-6)
    motion = Path(summary["fd_file"]).parents[1] / "motion_params" / "motion.par"
    assert np.loadtxt(motion).shape == (n_volumes, 6)


@needs_example_deps
@pytest.mark.parametrize("suffix", [".csv", ".json", ".md", ".html", ".svg", ".png", ".txt"])
def test_every_format_renders_from_the_saved_run(summary, tmp_path, suffix):
    """Acceptance (issue 4): each format from one saved run of the example."""
    from nipype_carbon.cli.main import main

    carbon = Path(summary["base"]) / "work" / "dwi_carbon_example" / "carbon"
    out = tmp_path / f"report{suffix}"
    assert main(["report", str(carbon), "-o", str(out), "--region", "GB"]) == 0
    data = out.read_bytes()
    assert len(data) > 500
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    if suffix in (".html", ".svg"):
        assert b"denoise_mrtrix" in data


@needs_example_deps
def test_the_example_run_keeps_the_contracts(summary):
    import pandas as pd

    from nipype_carbon.report import build_report
    from nipype_carbon.report.formats import render_console, render_json

    carbon = Path(summary["base"]) / "work" / "dwi_carbon_example" / "carbon"
    report = build_report(carbon, region="GB")
    data = json.loads(render_json(report))
    totals, nodes = data["totals"], data["nodes"]
    assert list(pd.DataFrame(nodes).columns[: len(CONTRACT)]) == CONTRACT
    # the reconciliation: node full costs (engine included) make up the run's energy, whose
    # parts add up to it; the host's meters read that plus what other processes spent
    assert sum(n["energy_j"] for n in nodes) == pytest.approx(totals["energy_j"])
    parts = totals["reconciliation_j"]
    shown = ("nodes_j", "engine_j", "baseline_j", "unclaimed_memory_j")
    assert sum(parts[k] for k in shown) == pytest.approx(totals["energy_j"])
    assert totals["host_energy_j"] == pytest.approx(totals["energy_j"] + parts["other_processes_j"])
    assert all(parts[k] >= 0 for k in (*shown, "other_processes_j"))
    # the scheduler is engine overhead, not a hottest node; modelled energy is called modelled
    console = render_console(report)
    hottest = console.split("Hottest nodes")[1].split("By interface")[0]
    assert "(scheduler)" not in hottest and "engine overhead" in console
    energy_line = next(line for line in console.splitlines() if line.startswith("Run energy "))
    assert energy_line.endswith("modelled") or totals["methods"] != ["model"]
    names = {n["node"] for n in nodes}
    assert {"dwi_carbon_example.diffusion.denoise_mrtrix",
            "dwi_carbon_example.diffusion.denoise_dipy"} <= names  # fmt: skip
    assert sum(1 for n in names if "._motion_correct" in n) == summary["bold_shape"][3]
    quebec = build_report(carbon, region="CA-QC")
    ratio = quebec.grid.intensity_g_per_kwh / report.grid.intensity_g_per_kwh
    assert quebec.totals.energy_j == pytest.approx(report.totals.energy_j)
    assert quebec.totals.emissions_g == pytest.approx(report.totals.emissions_g * ratio)


@needs_example_deps
def test_comparing_the_branches_names_the_cheaper_one_per_step(summary):
    from nipype_carbon.report import build_report
    from nipype_carbon.report.compare import compare_branches

    carbon = Path(summary["base"]) / "work" / "dwi_carbon_example" / "carbon"
    steps = compare_branches(
        build_report(carbon),
        ["denoise=denoise_mrtrix,denoise_dipy", "tensor=tensor_mrtrix+metrics_mrtrix,tensor_dipy"],
    )
    for step in steps:
        assert all(e > 0 for e in step.energy_j.values())
        cheaper = min(step.energy_j, key=step.energy_j.get)
        assert step.cheapest == cheaper and step.verdict().startswith(f"{step.step}: {cheaper}")
