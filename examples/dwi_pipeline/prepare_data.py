"""Build the example inputs from data files shipped inside pip packages.

Sources (nothing is downloaded at run time):

* DWI: ``dipy/data/files/small_64D.nii`` with ``small_64D.bval`` / ``small_64D.bvec``
  (dipy, BSD licence): a 10x10x10 crop with one b=0 and 64 b~1000 volumes.
  The ``.bvec`` file is stored as N x 3 with a ``nan nan nan`` row for the b=0
  volume; it is cleaned here into a 3 x N FSL-style ``bvecs`` file.
* BOLD (default ``--bold nipype``): ``nipype/testing/data/ds003_sub-01_mc.nii.gz``
  (shipped in the nipype wheel, Apache-2.0): a real, whole-brain, already
  motion-corrected 16x16x9 x 20-volume run (12.5x12.5x16 mm, TR 2 s) from
  OpenfMRI ds003, the file nipype's own ComputeDVARS tests use.
* BOLD (``--bold nibabel``): ``nibabel/tests/data/functional.nii`` (nibabel, MIT
  licence): a real 17x21x3 x 20-volume EPI slab, TR 2 s.  With only three 8 mm
  slices the out-of-plane rotations of a 6-dof registration are unconstrained
  (about 1-2 degrees of noise), which inflates framewise displacement.

``--upsample`` resamples the DWI to 64x64x40 (trilinear) and adds seeded Rician
noise so that denoising and tensor fitting see a realistic load.

Usage::

    python3 examples/dwi_pipeline/prepare_data.py OUT_DIR [--upsample] [--bold nipype|nibabel]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

DWI_STEM = "small_64D"
NIPYPE_BOLD = "ds003_sub-01_mc.nii.gz"
NIBABEL_BOLD = "functional.nii"
BOLD_SOURCES = ("nipype", "nibabel")
UPSAMPLE_SHAPE = (64, 64, 40)
B0_THRESHOLD = 50.0
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class PreparedData:
    """Paths and facts about the prepared inputs (all paths absolute strings)."""

    dwi: str
    bvals: str
    bvecs: str
    grad_mrtrix: str | None
    bold: str
    bold_source: str
    bold_tr: float
    dwi_shape: tuple[int, ...]
    bold_shape: tuple[int, ...]
    upsampled: bool


def dipy_data_file(name: str) -> Path:
    """Return the path of a file shipped in ``dipy/data/files``."""
    import dipy

    path = Path(dipy.__file__).parent / "data" / "files" / name
    if not path.is_file():
        raise FileNotFoundError(f"dipy does not ship {path}")
    return path


def nibabel_test_file(name: str) -> Path:
    """Return the path of a file shipped in ``nibabel/tests/data``."""
    path = Path(nib.__file__).parent / "tests" / "data" / name
    if not path.is_file():
        raise FileNotFoundError(f"nibabel does not ship {path}")
    return path


def nipype_test_file(name: str) -> Path:
    """Return the path of a file shipped in ``nipype/testing/data``."""
    import nipype

    path = Path(nipype.__file__).parent / "testing" / "data" / name
    if not path.is_file() or path.stat().st_size == 0:
        raise FileNotFoundError(f"nipype does not ship a non-empty {path}")
    return path


def load_gradients(bval_path: Path, bvec_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Load b-values (N,) and clean b-vectors into a unit-norm 3 x N array.

    NaN entries (dipy stores the b=0 direction as ``nan``) are only accepted for
    b=0 volumes and become zero vectors.
    """
    bvals = np.atleast_1d(np.loadtxt(bval_path, dtype=float)).ravel()
    bvecs = np.atleast_2d(np.loadtxt(bvec_path, dtype=float))
    if bvecs.shape[0] != 3 and bvecs.shape[1] == 3:
        bvecs = bvecs.T
    if bvecs.shape != (3, bvals.size):
        raise ValueError(f"bvecs shape {bvecs.shape} does not match {bvals.size} b-values")
    nan_cols = np.isnan(bvecs).any(axis=0)
    if np.any(nan_cols & (bvals > B0_THRESHOLD)):
        raise ValueError("NaN gradient direction on a diffusion-weighted volume")
    bvecs[:, nan_cols] = 0.0
    bvecs[:, bvals <= B0_THRESHOLD] = 0.0
    return bvals, _normalise_directions(bvecs, bvals)


def _normalise_directions(bvecs: np.ndarray, bvals: np.ndarray) -> np.ndarray:
    """Check that diffusion-weighted directions are (nearly) unit and normalise them."""
    dw = bvals > B0_THRESHOLD
    norms = np.linalg.norm(bvecs[:, dw], axis=0)
    if np.any(np.abs(norms - 1.0) > 1e-2):
        raise ValueError(f"b-vectors are not unit length: norms in [{norms.min()}, {norms.max()}]")
    out = bvecs.copy()
    out[:, dw] /= norms
    return out


def check_gradients(bvals: np.ndarray, bvecs: np.ndarray, n_volumes: int) -> None:
    """Raise ValueError unless the gradient table is consistent with the DWI."""
    if bvals.size != n_volumes or bvecs.shape[1] != n_volumes:
        raise ValueError(
            f"{bvals.size} b-values / {bvecs.shape[1]} b-vectors for {n_volumes} volumes"
        )
    if not np.any(bvals <= B0_THRESHOLD):
        raise ValueError("no b=0 volume in the gradient table")
    if np.count_nonzero(bvals > B0_THRESHOLD) < 6:
        raise ValueError("fewer than 6 diffusion-weighted volumes: a tensor cannot be fitted")


def upsample_dwi(
    img: nib.Nifti1Image, shape: tuple[int, int, int], noise: float = 0.02, seed: int = 0
) -> nib.Nifti1Image:
    """Trilinearly resample a 4D DWI to ``shape`` and add seeded Rician noise.

    ``noise`` is the noise standard deviation as a fraction of the mean b=0
    intensity; the field of view (first and last voxel centres) is preserved.
    """
    from scipy.ndimage import zoom

    data = np.asarray(img.dataobj, dtype=np.float32)
    factors = [n / o for n, o in zip(shape, data.shape[:3], strict=True)]
    out = np.stack([zoom(data[..., i], factors, order=1) for i in range(data.shape[3])], -1)
    sigma = noise * float(out[..., 0].mean())
    rng = np.random.default_rng(seed)
    noisy = np.hypot(out + rng.normal(0, sigma, out.shape), rng.normal(0, sigma, out.shape))
    scale = [(o - 1) / (n - 1) for o, n in zip(data.shape[:3], shape, strict=True)]
    affine = img.affine @ np.diag([*scale, 1.0])
    hdr = img.header.copy()
    hdr.set_data_dtype(np.int16)
    result = np.clip(np.rint(noisy), 0, np.iinfo(np.int16).max).astype(np.int16)
    return nib.Nifti1Image(result, affine, hdr)


def write_fsl_gradients(bvals: np.ndarray, bvecs: np.ndarray, out_dir: Path) -> tuple[Path, Path]:
    """Write FSL-style ``bvals`` (1 x N) and ``bvecs`` (3 x N) text files."""
    bval_file, bvec_file = out_dir / "dwi.bval", out_dir / "dwi.bvec"
    np.savetxt(bval_file, bvals[None, :], fmt="%.6f")
    np.savetxt(bvec_file, bvecs, fmt="%.10f")
    return bval_file, bvec_file


def export_mrtrix_grad(dwi: Path, bvecs: Path, bvals: Path, out_file: Path) -> Path | None:
    """Convert the FSL gradients to an MRtrix3 ``.b`` table with ``mrinfo``.

    MRtrix3 reorients FSL (image-space) vectors into scanner space itself, so the
    table is exported rather than written by hand.  Returns None without MRtrix3.
    """
    if shutil.which("mrinfo") is None:
        return None
    cmd = [
        "mrinfo", "-quiet", "-force", str(dwi), "-fslgrad", str(bvecs), str(bvals),
        "-export_grad_mrtrix", str(out_file),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out_file


def prepare_dwi(out_dir: Path, upsample: bool) -> dict:
    """Write the DWI and its gradient tables into ``out_dir``; return manifest entries."""
    img = nib.load(dipy_data_file(f"{DWI_STEM}.nii"))
    bvals, bvecs = load_gradients(
        dipy_data_file(f"{DWI_STEM}.bval"), dipy_data_file(f"{DWI_STEM}.bvec")
    )
    check_gradients(bvals, bvecs, img.shape[3])
    if upsample:
        img = upsample_dwi(img, UPSAMPLE_SHAPE)
    dwi = out_dir / "dwi.nii"
    nib.save(img, dwi)
    bval_file, bvec_file = write_fsl_gradients(bvals, bvecs, out_dir)
    grad = export_mrtrix_grad(dwi, bvec_file, bval_file, out_dir / "dwi.b")
    return {
        "dwi": str(dwi),
        "bvals": str(bval_file),
        "bvecs": str(bvec_file),
        "grad_mrtrix": str(grad) if grad else None,
        "dwi_shape": tuple(int(n) for n in img.shape),
    }


def bold_source_file(source: str) -> Path:
    """The shipped BOLD run for ``source`` (one of :data:`BOLD_SOURCES`)."""
    if source == "nipype":
        return nipype_test_file(NIPYPE_BOLD)
    if source == "nibabel":
        return nibabel_test_file(NIBABEL_BOLD)
    raise ValueError(f"unknown BOLD source {source!r}; choose from {BOLD_SOURCES}")


def prepare_bold(out_dir: Path, source: str = "nipype") -> dict:
    """Write the shipped BOLD run as ``bold.nii``; return manifest entries.

    nipype's ds003 file has qform and sform codes of 0 (MRtrix3 then warns and
    resets the transform), so the affine nibabel derives is written as a proper
    scanner-space sform/qform.
    """
    src = bold_source_file(source)
    img = nib.load(src)
    if img.ndim != 4 or img.shape[3] < 3:
        raise ValueError(f"{src} is not a 4D time series: {img.shape}")
    hdr = img.header.copy()
    tr = float(hdr.get_zooms()[3]) or 2.0
    out = nib.Nifti1Image(np.asarray(img.dataobj), img.affine, hdr)
    out.set_sform(img.affine, code=1)
    out.set_qform(img.affine, code=1)
    bold = out_dir / "bold.nii"
    nib.save(out, bold)
    return {
        "bold": str(bold),
        "bold_source": str(src),
        "bold_tr": tr,
        "bold_shape": tuple(int(n) for n in img.shape),
    }


def _reusable(out: Path, upsample: bool, bold_source: str) -> PreparedData | None:
    """The existing manifest in ``out`` if it was made with the same options."""
    try:
        data = load_manifest(out)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    same = data.upsampled == upsample and data.bold_source == str(bold_source_file(bold_source))
    files = [data.dwi, data.bvals, data.bvecs, data.bold, data.grad_mrtrix or data.dwi]
    return data if same and all(Path(f).is_file() for f in files) else None


def prepare(
    out_dir: str | Path, upsample: bool = False, bold_source: str = "nipype", force: bool = False
) -> PreparedData:
    """Prepare all inputs under ``out_dir`` and write ``manifest.json`` there.

    Inputs already prepared there with the same options are reused untouched (so
    Nipype's timestamp-based caching still hits on a rerun) unless ``force``.
    """
    out = Path(out_dir).resolve()
    existing = None if force else _reusable(out, upsample, bold_source)
    if existing is not None:
        return existing
    out.mkdir(parents=True, exist_ok=True)
    data = PreparedData(
        **prepare_dwi(out, upsample), **prepare_bold(out, bold_source), upsampled=upsample
    )
    (out / MANIFEST).write_text(json.dumps(asdict(data), indent=2) + "\n")
    return data


def load_manifest(data_dir: str | Path) -> PreparedData:
    """Read the manifest written by :func:`prepare`."""
    raw = json.loads((Path(data_dir) / MANIFEST).read_text())
    raw["dwi_shape"] = tuple(raw["dwi_shape"])
    raw["bold_shape"] = tuple(raw["bold_shape"])
    return PreparedData(**raw)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", help="directory to write the inputs into")
    parser.add_argument(
        "--upsample", action="store_true", help=f"resample the DWI to {UPSAMPLE_SHAPE}"
    )
    parser.add_argument(
        "--bold", choices=BOLD_SOURCES, default="nipype", help="which shipped BOLD run to use"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    args = parser.parse_args(argv)
    data = prepare(args.out_dir, upsample=args.upsample, bold_source=args.bold, force=args.force)
    print(json.dumps(asdict(data), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
