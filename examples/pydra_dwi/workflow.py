"""The diffusion pipeline of the Nipype example as a Pydra 1.0 workflow.

Graph (``DwiPipeline``)::

    dwi_mask        MRtrix3 dwi2mask
    denoise_mrtrix  MRtrix3 dwidenoise (MP-PCA)     denoise_dipy  dipy non-local means
    collect_denoised: [raw, dwidenoise, nlmeans]
    tensor_mrtrix   split x3: dwi2tensor  ->  metrics_mrtrix  x3: tensor2metric -fa
    tensor_dipy     split x3: dipy.reconst.dti WLS -> FA
    compare_fa      mean FA of the six branches and the largest mean |dFA| between two

The splits over the three denoised inputs are what the Nipype example's
MapNodes are: one job (and one carbon record) per input.
"""

from __future__ import annotations

from fileformats.generic import File
from pydra.compose import workflow

from .tasks import (
    Collect,
    CompareFa,
    DipyNlmeans,
    DipyTensorFa,
    DwiDenoise,
    DwiToMask,
    DwiToTensor,
    TensorToFa,
)

DENOISERS = ["none", "dwidenoise", "nlmeans"]


@workflow.define(outputs=["report_file", "mean_fa", "max_mean_abs_fa_diff", "noise_map"])
def DwiPipeline(
    dwi: File, bvals: File, bvecs: File, grad_mrtrix: File, nthreads: int = 1
) -> tuple[File, dict, float, File]:
    """Mask, two denoisers (and the raw data), two tensor fitters on each, compared."""
    mask = workflow.add(
        DwiToMask(in_file=dwi, grad_file=grad_mrtrix, nthreads=nthreads), name="dwi_mask"
    )
    mrtrix = workflow.add(
        DwiDenoise(in_file=dwi, mask=mask.out_file, nthreads=nthreads), name="denoise_mrtrix"
    )
    dipy = workflow.add(
        DipyNlmeans(in_file=dwi, bvals=bvals, bvecs=bvecs, mask_file=mask.out_file),
        name="denoise_dipy",
    )
    inputs = workflow.add(
        Collect(raw=dwi, dwidenoise=mrtrix.out_file, nlmeans=dipy.out_file),
        name="collect_denoised",
    )
    tensor = workflow.add(
        DwiToTensor(grad_file=grad_mrtrix, mask=mask.out_file, nthreads=nthreads).split(
            in_file=inputs.out
        ),
        name="tensor_mrtrix",
    )
    metrics = workflow.add(
        TensorToFa(in_file=tensor.out_file, mask=mask.out_file, nthreads=nthreads).combine(
            "tensor_mrtrix.in_file"
        ),
        name="metrics_mrtrix",
    )
    fitted = workflow.add(
        DipyTensorFa(bvals=bvals, bvecs=bvecs, mask_file=mask.out_file)
        .split(in_file=inputs.out)
        .combine("in_file"),
        name="tensor_dipy",
    )
    compare = workflow.add(
        CompareFa(
            mrtrix_fa=metrics.out_fa,
            dipy_fa=fitted.fa_file,
            denoisers=DENOISERS,
            mask_file=mask.out_file,
        ),
        name="compare_fa",
    )
    return compare.report_file, compare.mean_fa, compare.max_mean_abs_fa_diff, mrtrix.noise
