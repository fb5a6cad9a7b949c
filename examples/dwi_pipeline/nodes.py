"""Node bodies and the one custom interface used by :mod:`dwi_pipeline.workflow`.

The plain functions are wrapped in ``nipype.interfaces.utility.Function`` nodes;
nipype ships their *source* to the worker, so each one imports what it needs
inside its body and uses no module-level names.
"""

from nipype.interfaces.base import (
    CommandLine,
    CommandLineInputSpec,
    File,
    TraitedSpec,
    traits,
)


class MRRegisterRigidInputSpec(CommandLineInputSpec):
    """Inputs of :class:`MRRegisterRigid`."""

    in_file = File(exists=True, mandatory=True, position=-2, argstr="%s", desc="moving image")
    template = File(exists=True, mandatory=True, position=-1, argstr="%s", desc="template image")
    out_rigid = File(
        argstr="-rigid %s",
        name_source=["in_file"],
        name_template="%s_rigid.txt",
        keep_extension=False,
        desc="output 4x4 rigid transformation (moving -> template)",
    )
    out_transformed = File(
        argstr="-transformed %s",
        name_source=["in_file"],
        name_template="%s_mc",
        keep_extension=True,
        desc="moving image resliced onto the template",
    )
    nthreads = traits.Int(1, usedefault=True, argstr="-nthreads %d", desc="threads")


class MRRegisterRigidOutputSpec(TraitedSpec):
    """Outputs of :class:`MRRegisterRigid`."""

    out_rigid = File(exists=True, desc="rigid transformation matrix")
    out_transformed = File(exists=True, desc="motion-corrected image")


class MRRegisterRigid(CommandLine):
    """Rigid (6 dof) registration with MRtrix3 ``mrregister -type rigid``.

    nipype 1.11 has no ``mrregister`` interface, so this thin wrapper is used for
    head-motion estimation of each BOLD volume against a reference volume.
    """

    _cmd = "mrregister -type rigid -quiet"
    input_spec = MRRegisterRigidInputSpec
    output_spec = MRRegisterRigidOutputSpec


def mean_and_mask(in_file, threshold=0.2):
    """Temporal mean of a 4D image and a brain mask thresholding that mean.

    The mask keeps voxels above ``threshold`` times the 98th percentile of the
    mean, then fills holes and keeps the largest connected component.
    """
    import os

    import nibabel as nib
    import numpy as np
    from scipy import ndimage

    img = nib.load(in_file)
    mean = np.asarray(img.dataobj, dtype=np.float32).mean(axis=-1)
    mask = mean > threshold * np.percentile(mean, 98)
    mask = ndimage.binary_fill_holes(mask)
    labels, n_labels = ndimage.label(mask)
    if n_labels > 1:
        sizes = ndimage.sum(mask, labels, range(1, n_labels + 1))
        mask = labels == (int(np.argmax(sizes)) + 1)
    mean_file = os.path.abspath("mean.nii")
    mask_file = os.path.abspath("mask.nii")
    nib.Nifti1Image(mean, img.affine).to_filename(mean_file)
    nib.Nifti1Image(mask.astype(np.uint8), img.affine).to_filename(mask_file)
    return mean_file, mask_file


def split_volumes(in_file):
    """Split a 4D NIfTI into one 3D file per volume (``vol0000.nii`` ...)."""
    import os

    import nibabel as nib
    import numpy as np

    img = nib.load(in_file)
    data = np.asarray(img.dataobj)
    out_files = []
    for index in range(data.shape[-1]):
        out = os.path.abspath(f"vol{index:04d}.nii")
        nib.Nifti1Image(data[..., index], img.affine, img.header).to_filename(out)
        out_files.append(out)
    return out_files


def rigid_to_motion_params(rigid_files):
    """Turn ``mrregister`` 4x4 rigid matrices into an FSL-style ``.par`` file.

    Columns follow MCFLIRT: rotations about x, y, z (radians, from
    R = Rz @ Ry @ Rx) then translations x, y, z (mm).  This is what
    ``FramewiseDisplacement(parameter_source="FSL")`` reads.
    """
    import os

    import numpy as np

    rows = []
    for path in rigid_files:
        mat = np.loadtxt(path, comments="#")[:3]
        rot, trans = mat[:, :3], mat[:, 3]
        rx = np.arctan2(rot[2, 1], rot[2, 2])
        ry = np.arcsin(-np.clip(rot[2, 0], -1.0, 1.0))
        rz = np.arctan2(rot[1, 0], rot[0, 0])
        rows.append([rx, ry, rz, *trans])
    out_file = os.path.abspath("motion.par")
    np.savetxt(out_file, np.asarray(rows), fmt="%.8f")
    return out_file


def dipy_nlmeans(in_file, bvals, bvecs, mask_file, patch_radius=1, block_radius=2):
    """Denoise a 4D DWI with dipy's non-local means.

    The noise level is the in-mask median of dipy's local-PCA noise estimate
    (``pca_noise_estimate``); ``estimate_sigma`` needs background voxels, which
    the cropped dipy test volume does not have, and overestimates it there.
    """
    import os

    import nibabel as nib
    import numpy as np
    from dipy.core.gradients import gradient_table
    from dipy.denoise.nlmeans import nlmeans
    from dipy.denoise.pca_noise_estimate import pca_noise_estimate

    img = nib.load(in_file)
    data = img.get_fdata(dtype=np.float32)
    mask = np.asarray(nib.load(mask_file).dataobj) > 0
    gtab = gradient_table(np.loadtxt(bvals), bvecs=np.loadtxt(bvecs).T)
    sigma = float(np.median(pca_noise_estimate(data, gtab, correct_bias=True, smooth=2)[mask]))
    den = nlmeans(
        data,
        sigma=sigma,
        mask=mask,
        patch_radius=int(patch_radius),
        block_radius=int(block_radius),
        rician=True,
        num_threads=1,
    )
    out_file = os.path.abspath("dwi_nlmeans.nii")
    nib.Nifti1Image(den.astype(np.float32), img.affine).to_filename(out_file)
    return out_file


def dipy_tensor_fa(in_file, bvals, bvecs, mask_file):
    """Fit a WLS diffusion tensor with ``dipy.reconst.dti`` and write its FA map."""
    import os

    import nibabel as nib
    import numpy as np
    from dipy.core.gradients import gradient_table
    from dipy.reconst.dti import TensorModel

    img = nib.load(in_file)
    data = img.get_fdata(dtype=np.float32)
    mask = np.asarray(nib.load(mask_file).dataobj) > 0
    gtab = gradient_table(np.loadtxt(bvals), bvecs=np.loadtxt(bvecs).T)
    fit = TensorModel(gtab, fit_method="WLS").fit(data, mask=mask)
    fa = np.clip(np.nan_to_num(fit.fa), 0.0, 1.0).astype(np.float32)
    out_file = os.path.abspath("fa_dipy.nii")
    nib.Nifti1Image(fa, img.affine).to_filename(out_file)
    return out_file


def compare_fa(mrtrix_fa, dipy_fa, denoisers, mask_file):
    """Compare the FA maps of every (denoiser, tensor fitter) branch inside a mask.

    ``mrtrix_fa`` and ``dipy_fa`` are lists ordered like ``denoisers``.  MRtrix3
    3.0.3 FA can exceed 1 where the WLS tensor has a negative eigenvalue; values
    are clipped to [0, 1] and the number of clipped voxels is reported.

    Returns the path of a JSON report, the mean FA per branch, and the largest
    mean absolute FA difference between any two branches.
    """
    import itertools
    import json
    import os

    import nibabel as nib
    import numpy as np

    mask = np.asarray(nib.load(mask_file).dataobj) > 0
    maps, clipped, sources = {}, {}, {}
    for method, paths in (("mrtrix", mrtrix_fa), ("dipy", dipy_fa)):
        for denoiser, path in zip(denoisers, paths, strict=True):
            label = f"{denoiser}+{method}"
            sources[label] = path
            fa = np.nan_to_num(np.asarray(nib.load(path).dataobj, dtype=np.float64))[mask]
            clipped[label] = int(np.count_nonzero((fa < 0) | (fa > 1)))
            maps[label] = np.clip(fa, 0.0, 1.0)
    mean_fa = {label: round(float(fa.mean()), 4) for label, fa in maps.items()}
    pairwise = {
        f"{a} vs {b}": round(float(np.abs(maps[a] - maps[b]).mean()), 4)
        for a, b in itertools.combinations(maps, 2)
    }
    max_abs_diff = max(pairwise.values())
    report = {
        "mask_voxels": int(mask.sum()),
        "mean_fa": mean_fa,
        "mean_abs_fa_diff": pairwise,
        "max_mean_abs_fa_diff": max_abs_diff,
        "clipped_voxels": clipped,
        "fa_files": sources,
    }
    report_file = os.path.abspath("fa_comparison.json")
    with open(report_file, "w") as handle:
        json.dump(report, handle, indent=2)
    return report_file, mean_fa, max_abs_diff
