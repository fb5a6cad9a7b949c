"""The example Nipype workflow: alternative DWI branches plus BOLD confounds.

Graph (``build_workflow``)::

    dwi_carbon_example
    |- diffusion (sub-workflow)
    |    inputnode -> dwi_mask (dwi2mask)
    |    denoise_mrtrix (dwidenoise)           denoise_dipy (dipy NLMeans)
    |    collect_denoised: [raw, dwidenoise, nlmeans]
    |    tensor_mrtrix  MapNode (dwi2tensor)  -> metrics_mrtrix MapNode (tensor2metric -fa)
    |    tensor_dipy    MapNode (dipy.reconst.dti WLS, FA)
    |    outputnode
    |- confounds (sub-workflow)
    |    inputnode -> bold_reference (temporal mean) ; split_bold (3D volumes)
    |    motion_correct MapNode (mrregister -type rigid, one job per volume)
    |    motion_params (rigid matrices -> FSL .par) -> framewise_displacement
    |    merge_bold (mrcat) -> bold_mask (threshold of the mean) -> dvars
    |    outputnode
    `- compare_fa (FA of every denoiser x tensor-fitter branch, in the DWI mask)
"""

from __future__ import annotations

from pathlib import Path

from nipype.algorithms.confounds import ComputeDVARS, FramewiseDisplacement
from nipype.interfaces import mrtrix3
from nipype.interfaces.utility import Function, IdentityInterface, Merge
from nipype.pipeline import engine as pe

from .nodes import (
    MRRegisterRigid,
    compare_fa,
    dipy_nlmeans,
    dipy_tensor_fa,
    mean_and_mask,
    rigid_to_motion_params,
    split_volumes,
)
from .prepare_data import load_manifest

DENOISERS = ("none", "dwidenoise", "nlmeans")
DWI_FIELDS = ["dwi", "bvals", "bvecs", "grad_mrtrix"]
BOLD_FIELDS = ["bold", "tr"]


def _function_node(func, inputs, outputs, name, **kwargs):
    """A Function node named ``name`` wrapping ``func``."""
    return pe.Node(
        Function(input_names=inputs, output_names=outputs, function=func), name=name, **kwargs
    )


def _mrtrix_node(interface, name, nthreads, **kwargs):
    """An MRtrix3 node whose thread count is also declared to the scheduler."""
    node = pe.Node(interface(nthreads=nthreads, **kwargs), name=name, n_procs=nthreads)
    return node


def _denoise_nodes(nthreads):
    """The alternative denoisers: MRtrix3 MP-PCA and dipy non-local means."""
    denoise_mrtrix = _mrtrix_node(mrtrix3.DWIDenoise, "denoise_mrtrix", nthreads)
    denoise_dipy = _function_node(
        dipy_nlmeans,
        ["in_file", "bvals", "bvecs", "mask_file", "patch_radius", "block_radius"],
        ["out_file"],
        "denoise_dipy",
    )
    denoise_dipy.inputs.patch_radius = 1
    denoise_dipy.inputs.block_radius = 2
    return denoise_mrtrix, denoise_dipy


def _tensor_nodes(nthreads):
    """The alternative tensor fitters, each a MapNode over the denoised inputs."""
    tensor_mrtrix = pe.MapNode(
        mrtrix3.FitTensor(nthreads=nthreads, out_file="dti.nii"),
        iterfield=["in_file"],
        name="tensor_mrtrix",
        n_procs=nthreads,
    )
    metrics_mrtrix = pe.MapNode(
        mrtrix3.TensorMetrics(nthreads=nthreads, out_fa="fa_mrtrix.nii"),
        iterfield=["in_file"],
        name="metrics_mrtrix",
        n_procs=nthreads,
    )
    tensor_dipy = pe.MapNode(
        Function(
            input_names=["in_file", "bvals", "bvecs", "mask_file"],
            output_names=["fa_file"],
            function=dipy_tensor_fa,
        ),
        iterfield=["in_file"],
        name="tensor_dipy",
    )
    return tensor_mrtrix, metrics_mrtrix, tensor_dipy


def build_diffusion(name: str = "diffusion", nthreads: int = 1) -> pe.Workflow:
    """Sub-workflow: mask, two denoisers (+ raw), two tensor fitters on each."""
    wf = pe.Workflow(name=name)
    inputnode = pe.Node(IdentityInterface(fields=DWI_FIELDS), name="inputnode")
    outputnode = pe.Node(
        IdentityInterface(fields=["mask", "mrtrix_fa", "dipy_fa", "denoisers", "noise_map"]),
        name="outputnode",
    )
    outputnode.inputs.denoisers = list(DENOISERS)
    # BrainMask is a plain CommandLine in nipype 1.11: its in_bvec/in_bval inputs fail
    # to format ("Error formatting command line argument 'in_bvec'"), so it gets the
    # MRtrix3 gradient table (-grad) exported by prepare_data instead.
    dwi_mask = _mrtrix_node(mrtrix3.BrainMask, "dwi_mask", nthreads, out_file="mask.nii")
    denoise_mrtrix, denoise_dipy = _denoise_nodes(nthreads)
    collect = pe.Node(Merge(len(DENOISERS)), name="collect_denoised")
    tensor_mrtrix, metrics_mrtrix, tensor_dipy = _tensor_nodes(nthreads)
    grad = [("bvecs", "in_bvec"), ("bvals", "in_bval")]
    wf.connect([
        (inputnode, dwi_mask, [("dwi", "in_file"), ("grad_mrtrix", "grad_file")]),
        (inputnode, denoise_mrtrix, [("dwi", "in_file")]),
        (dwi_mask, denoise_mrtrix, [("out_file", "mask")]),
        (inputnode, denoise_dipy, [("dwi", "in_file"), ("bvals", "bvals"), ("bvecs", "bvecs")]),
        (dwi_mask, denoise_dipy, [("out_file", "mask_file")]),
        (inputnode, collect, [("dwi", "in1")]),
        (denoise_mrtrix, collect, [("out_file", "in2")]),
        (denoise_dipy, collect, [("out_file", "in3")]),
        (collect, tensor_mrtrix, [("out", "in_file")]),
        (inputnode, tensor_mrtrix, grad),
        (dwi_mask, tensor_mrtrix, [("out_file", "in_mask")]),
        (tensor_mrtrix, metrics_mrtrix, [("out_file", "in_file")]),
        (dwi_mask, metrics_mrtrix, [("out_file", "in_mask")]),
        (collect, tensor_dipy, [("out", "in_file")]),
        (inputnode, tensor_dipy, [("bvals", "bvals"), ("bvecs", "bvecs")]),
        (dwi_mask, tensor_dipy, [("out_file", "mask_file")]),
        (dwi_mask, outputnode, [("out_file", "mask")]),
        (denoise_mrtrix, outputnode, [("noise", "noise_map")]),
        (metrics_mrtrix, outputnode, [("out_fa", "mrtrix_fa")]),
        (tensor_dipy, outputnode, [("fa_file", "dipy_fa")]),
    ])  # fmt: skip
    return wf


def _motion_nodes():
    """Head-motion estimation: split, register each volume, collect parameters."""
    reference = _function_node(mean_and_mask, ["in_file"], ["mean_file", "mask_file"],
                               "bold_reference")  # fmt: skip
    split = _function_node(split_volumes, ["in_file"], ["out_files"], "split_bold")
    register = pe.MapNode(MRRegisterRigid(), iterfield=["in_file"], name="motion_correct")
    params = _function_node(rigid_to_motion_params, ["rigid_files"], ["out_file"],
                            "motion_params")  # fmt: skip
    return reference, split, register, params


def build_confounds(name: str = "confounds") -> pe.Workflow:
    """Sub-workflow: rigid head-motion correction, framewise displacement and DVARS."""
    wf = pe.Workflow(name=name)
    inputnode = pe.Node(IdentityInterface(fields=BOLD_FIELDS), name="inputnode")
    outputnode = pe.Node(
        IdentityInterface(fields=["motion_params", "fd_file", "fd_average", "dvars_file",
                                  "dvars_std_mean", "mask"]),
        name="outputnode",
    )  # fmt: skip
    reference, split, register, params = _motion_nodes()
    merge = pe.Node(mrtrix3.MRCat(axis=3, out_file="bold_mc.nii", nthreads=1), name="merge_bold")
    mask = _function_node(mean_and_mask, ["in_file"], ["mean_file", "mask_file"], "bold_mask")
    fd = pe.Node(FramewiseDisplacement(parameter_source="FSL"), name="framewise_displacement")
    dvars = pe.Node(ComputeDVARS(save_all=True), name="dvars")
    wf.connect([
        (inputnode, reference, [("bold", "in_file")]),
        (inputnode, split, [("bold", "in_file")]),
        (split, register, [("out_files", "in_file")]),
        (reference, register, [("mean_file", "template")]),
        (register, params, [("out_rigid", "rigid_files")]),
        (register, merge, [("out_transformed", "in_files")]),
        (merge, mask, [("out_file", "in_file")]),
        (params, fd, [("out_file", "in_file")]),
        (inputnode, fd, [("tr", "series_tr")]),
        (merge, dvars, [("out_file", "in_file")]),
        (mask, dvars, [("mask_file", "in_mask")]),
        (inputnode, dvars, [("tr", "series_tr")]),
        (params, outputnode, [("out_file", "motion_params")]),
        (fd, outputnode, [("out_file", "fd_file"), ("fd_average", "fd_average")]),
        (dvars, outputnode, [("out_all", "dvars_file"), ("avg_std", "dvars_std_mean")]),
        (mask, outputnode, [("mask_file", "mask")]),
    ])  # fmt: skip
    return wf


def build_workflow(
    data_dir: str | Path,
    base_dir: str | Path,
    name: str = "dwi_carbon_example",
    nthreads: int = 1,
) -> pe.Workflow:
    """Build the example workflow on inputs prepared by ``prepare_data.prepare``.

    ``data_dir`` holds ``manifest.json`` (see :mod:`dwi_pipeline.prepare_data`);
    ``base_dir`` is the Nipype working directory.  ``nthreads`` is passed to the
    MRtrix3 tools and declared as their nodes' ``n_procs``.
    """
    data = load_manifest(data_dir)
    wf = pe.Workflow(name=name, base_dir=str(Path(base_dir).resolve()))
    diffusion = build_diffusion(nthreads=nthreads)
    confounds = build_confounds()
    diffusion.inputs.inputnode.dwi = data.dwi
    diffusion.inputs.inputnode.bvals = data.bvals
    diffusion.inputs.inputnode.bvecs = data.bvecs
    diffusion.inputs.inputnode.grad_mrtrix = data.grad_mrtrix
    confounds.inputs.inputnode.bold = data.bold
    confounds.inputs.inputnode.tr = data.bold_tr
    compare = _function_node(
        compare_fa,
        ["mrtrix_fa", "dipy_fa", "denoisers", "mask_file"],
        ["report_file", "mean_fa", "max_mean_abs_fa_diff"],
        "compare_fa",
    )
    wf.connect([
        (diffusion, compare, [("outputnode.mrtrix_fa", "mrtrix_fa"),
                              ("outputnode.dipy_fa", "dipy_fa"),
                              ("outputnode.denoisers", "denoisers"),
                              ("outputnode.mask", "mask_file")]),
    ])  # fmt: skip
    wf.add_nodes([confounds])
    return wf
