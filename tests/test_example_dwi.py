"""Smoke test of examples/dwi_pipeline: runs the whole workflow on the shipped data.

Needs MRtrix3 and dipy/nitime (``bash scripts/install-example-deps.sh``); the
workflow tests are skipped only when ``dwidenoise`` is not on PATH.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from dwi_pipeline import prepare_data  # noqa: E402

pytestmark = pytest.mark.example

needs_mrtrix = pytest.mark.skipif(
    shutil.which("dwidenoise") is None,
    reason="MRtrix3 dwidenoise is not on PATH; run scripts/install-example-deps.sh",
)
DENOISERS = ("none", "dwidenoise", "nlmeans")
TENSOR_FITTERS = ("mrtrix", "dipy")


def _load(path: str) -> np.ndarray:
    """Image data as float64."""
    import nibabel as nib

    return np.asarray(nib.load(path).dataobj, dtype=np.float64)


@pytest.fixture(scope="module")
def summary(tmp_path_factory) -> dict:
    """Run the non-upsampled example once with MultiProc and return its summary."""
    from dwi_pipeline.run import run

    base = tmp_path_factory.mktemp("dwi_example")
    result = run(base, plugin="MultiProc", n_procs=2)
    result["base"] = str(base)
    return result


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


@needs_mrtrix
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


@needs_mrtrix
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
