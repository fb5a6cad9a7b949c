"""The tasks of the Pydra DWI example: MRtrix3 command-line tools and dipy functions.

Shell tasks wrap the MRtrix3 commands the Nipype example runs through
``nipype.interfaces.mrtrix3``; python tasks do what its Function nodes do.
Each output file is written in the task's own working directory (Pydra runs
a task with its cache directory as the current directory).

The python tasks are made with ``python.define(function, name=...)`` rather
than as decorators: the module then still holds each function under its own
name, so cloudpickle sends it to ``cf`` workers by reference. A decorated
function is sent by value, its source cannot be found in the worker, its
hash changes there, and Pydra fails a task with file inputs on the hash-change
check ("Input field hashes have changed during the execution").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fileformats.generic import File
from pydra.compose import python, shell


@shell.define
class DwiToMask(shell.Task["DwiToMask.Outputs"]):
    """MRtrix3 ``dwi2mask``: a brain mask from the DWI and its gradient table."""

    executable = "dwi2mask"
    in_file: File = shell.arg(argstr="", position=-2, help="the DWI series")
    grad_file: File = shell.arg(argstr="-grad", help="MRtrix3 gradient table")
    nthreads: int = shell.arg(default=1, argstr="-nthreads", help="threads")
    quiet: bool = shell.arg(default=True, argstr="-quiet", help="no progress bar")

    class Outputs(shell.Outputs):
        out_file: File = shell.outarg(
            argstr="", position=-1, path_template="mask.nii", help="the mask"
        )


@shell.define
class DwiDenoise(shell.Task["DwiDenoise.Outputs"]):
    """MRtrix3 ``dwidenoise``: MP-PCA denoising, and the noise map it estimated."""

    executable = "dwidenoise"
    in_file: File = shell.arg(argstr="", position=-2, help="the DWI series")
    mask: File = shell.arg(argstr="-mask", help="only denoise inside this mask")
    nthreads: int = shell.arg(default=1, argstr="-nthreads", help="threads")
    quiet: bool = shell.arg(default=True, argstr="-quiet", help="no progress bar")

    class Outputs(shell.Outputs):
        out_file: File = shell.outarg(
            argstr="", position=-1, path_template="dwi_denoised.nii", help="denoised DWI"
        )
        noise: File = shell.outarg(
            argstr="-noise", path_template="noise.nii", help="the estimated noise level"
        )


@shell.define
class DwiToTensor(shell.Task["DwiToTensor.Outputs"]):
    """MRtrix3 ``dwi2tensor``: a weighted least-squares diffusion tensor fit."""

    executable = "dwi2tensor"
    in_file: File = shell.arg(argstr="", position=-2, help="the DWI series")
    grad_file: File = shell.arg(argstr="-grad", help="MRtrix3 gradient table")
    mask: File = shell.arg(argstr="-mask", help="only fit inside this mask")
    nthreads: int = shell.arg(default=1, argstr="-nthreads", help="threads")
    quiet: bool = shell.arg(default=True, argstr="-quiet", help="no progress bar")

    class Outputs(shell.Outputs):
        out_file: File = shell.outarg(
            argstr="", position=-1, path_template="dti.nii", help="the tensor image"
        )


@shell.define
class TensorToFa(shell.Task["TensorToFa.Outputs"]):
    """MRtrix3 ``tensor2metric -fa``: the fractional anisotropy of a tensor image."""

    executable = "tensor2metric"
    in_file: File = shell.arg(argstr="", position=-1, help="the tensor image")
    mask: File = shell.arg(argstr="-mask", help="only compute inside this mask")
    nthreads: int = shell.arg(default=1, argstr="-nthreads", help="threads")
    quiet: bool = shell.arg(default=True, argstr="-quiet", help="no progress bar")

    class Outputs(shell.Outputs):
        out_fa: File = shell.outarg(argstr="-fa", path_template="fa_mrtrix.nii", help="FA")


def _dwi(in_file: File, bvals: File, bvecs: File, mask_file: File) -> tuple:
    """The DWI data, its mask, its gradient table and its image, read with nibabel and dipy."""
    import nibabel as nib
    import numpy as np
    from dipy.core.gradients import gradient_table

    img = nib.load(str(in_file))
    data = img.get_fdata(dtype=np.float32)
    mask = np.asarray(nib.load(str(mask_file)).dataobj) > 0
    gtab = gradient_table(np.loadtxt(str(bvals)), bvecs=np.loadtxt(str(bvecs)).T)
    return img, data, mask, gtab


def dipy_nlmeans(
    in_file: File,
    bvals: File,
    bvecs: File,
    mask_file: File,
    patch_radius: int = 1,
    block_radius: int = 2,
) -> File:
    """dipy non-local means, with the in-mask median of dipy's local-PCA noise estimate."""
    import nibabel as nib
    import numpy as np
    from dipy.denoise.nlmeans import nlmeans
    from dipy.denoise.pca_noise_estimate import pca_noise_estimate

    img, data, mask, gtab = _dwi(in_file, bvals, bvecs, mask_file)
    sigma = float(np.median(pca_noise_estimate(data, gtab, correct_bias=True, smooth=2)[mask]))
    denoised = nlmeans(
        data,
        sigma=sigma,
        mask=mask,
        patch_radius=patch_radius,
        block_radius=block_radius,
        rician=True,
        num_threads=1,
    )
    out_file = os.path.abspath("dwi_nlmeans.nii")
    nib.Nifti1Image(denoised.astype(np.float32), img.affine).to_filename(out_file)
    return File(out_file)


def dipy_tensor_fa(in_file: File, bvals: File, bvecs: File, mask_file: File) -> File:
    """A WLS diffusion tensor fit with ``dipy.reconst.dti``, and its FA map."""
    import nibabel as nib
    import numpy as np
    from dipy.reconst.dti import TensorModel

    img, data, mask, gtab = _dwi(in_file, bvals, bvecs, mask_file)
    fit = TensorModel(gtab, fit_method="WLS").fit(data, mask=mask)
    fa = np.clip(np.nan_to_num(fit.fa), 0.0, 1.0).astype(np.float32)
    fa_file = os.path.abspath("fa_dipy.nii")
    nib.Nifti1Image(fa, img.affine).to_filename(fa_file)
    return File(fa_file)


def collect(raw: File, dwidenoise: File, nlmeans: File) -> list[File]:
    """The three inputs of the tensor fits, in the order of ``DENOISERS``."""
    return [raw, dwidenoise, nlmeans]


def compare_fa(
    mrtrix_fa: list[File], dipy_fa: list[File], denoisers: list[str], mask_file: File
) -> tuple[File, dict, float]:
    """Mean FA of every (denoiser, tensor fitter) branch and their pairwise mean |dFA|."""
    import itertools

    import nibabel as nib
    import numpy as np

    mask = np.asarray(nib.load(str(mask_file)).dataobj) > 0
    maps = {}
    for method, paths in (("mrtrix", mrtrix_fa), ("dipy", dipy_fa)):
        for denoiser, path in zip(denoisers, paths, strict=True):
            fa = np.nan_to_num(np.asarray(nib.load(str(path)).dataobj, dtype=np.float64))[mask]
            maps[f"{denoiser}+{method}"] = np.clip(fa, 0.0, 1.0)
    mean_fa = {label: round(float(fa.mean()), 4) for label, fa in maps.items()}
    pairwise = {
        f"{a} vs {b}": round(float(np.abs(maps[a] - maps[b]).mean()), 4)
        for a, b in itertools.combinations(maps, 2)
    }
    report = {"mask_voxels": int(mask.sum()), "mean_fa": mean_fa, "mean_abs_fa_diff": pairwise}
    report_file = Path("fa_comparison.json").absolute()
    report_file.write_text(json.dumps(report, indent=2))
    return File(report_file), mean_fa, max(pairwise.values())


DipyNlmeans = python.define(dipy_nlmeans, outputs=["out_file"], name="DipyNlmeans")
DipyTensorFa = python.define(dipy_tensor_fa, outputs=["fa_file"], name="DipyTensorFa")
Collect = python.define(collect, outputs=["out"], name="Collect")
CompareFa = python.define(
    compare_fa, outputs=["report_file", "mean_fa", "max_mean_abs_fa_diff"], name="CompareFa"
)
