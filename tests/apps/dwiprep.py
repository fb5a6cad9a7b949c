"""dwiprep: a stand-in for a BIDS App (fMRIPrep, MRIQC) that knows nothing of nipype-carbon.

Like those apps it has its own command line, reads its Nipype plugin settings from a YAML
file (``--use-plugin``: ``plugin:`` and ``plugin_args:``), runs ``MultiProc`` with an
instance of its own ``MultiProcPlugin`` subclass over a forkserver process pool it builds
itself (other plugin names are passed to ``Workflow.run`` by name), and runs two workflows
in one process: the preprocessing (the DWI example's real nodes: MRtrix3 and dipy) and a
small summary workflow. A workflow that fails makes it exit with status 1.

Usage: python dwiprep.py DATA_DIR WORK_DIR --use-plugin plugin.yml [--light] [--fail]
                         [--multiproc own|niworkflows] [--participant-label LABEL]

With ``--participant-label`` the preprocessing workflow is named as fMRIPrep names a
subject's (``single_subject_<label>_wf``).

DATA_DIR holds the inputs written by ``examples/dwi_pipeline/prepare_data.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))  # the app's own modules (the example's nodes), nothing else

#: CPU seconds the known-cost step spends in its worker (a truth for the test)
KNOWN_CPU_S = 0.6


def spend_cpu(seconds):  # type: ignore[no-untyped-def]
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


def fail_on_purpose(seconds):  # type: ignore[no-untyped-def]
    raise RuntimeError(f"dwiprep: this step fails on purpose (after {seconds})")


def build_preproc(data_dir: Path, work_dir: Path, light: bool, fail: bool, label: str = ""):  # type: ignore[no-untyped-def]
    from dwi_pipeline.prepare_data import load_manifest
    from dwi_pipeline.workflow import DWI_FIELDS, _mrtrix_node, build_diffusion
    from nipype.interfaces import mrtrix3
    from nipype.interfaces.utility import Function, IdentityInterface
    from nipype.pipeline import engine as pe

    data = load_manifest(data_dir)
    wf = pe.Workflow(f"single_subject_{label}_wf" if label else "dwiprep", base_dir=str(work_dir))
    inputnode = pe.Node(IdentityInterface(fields=DWI_FIELDS), name="inputnode")
    for field in DWI_FIELDS:
        setattr(inputnode.inputs, field, getattr(data, field))
    if light:
        mask = _mrtrix_node(mrtrix3.BrainMask, "dwi_mask", 1, out_file="mask.nii")
        denoise = _mrtrix_node(mrtrix3.DWIDenoise, "denoise_mrtrix", 1)
        wf.connect([
            (inputnode, mask, [("dwi", "in_file"), ("grad_mrtrix", "grad_file")]),
            (inputnode, denoise, [("dwi", "in_file")]),
            (mask, denoise, [("out_file", "mask")]),
        ])  # fmt: skip
    else:
        diffusion = build_diffusion(nthreads=1)
        wf.connect(inputnode, "dwi", diffusion, "inputnode.dwi")
        for field in DWI_FIELDS[1:]:
            wf.connect(inputnode, field, diffusion, f"inputnode.{field}")
    known = pe.Node(
        Function(input_names=["seconds"], output_names=["out"], function=spend_cpu),
        name="known_cpu",
    )
    known.inputs.seconds = KNOWN_CPU_S
    wf.add_nodes([known])
    if fail:
        broken = pe.Node(
            Function(input_names=["seconds"], output_names=["out"], function=fail_on_purpose),
            name="broken_step",
        )
        wf.connect(known, "out", broken, "seconds")
        after = pe.Node(
            Function(input_names=["seconds"], output_names=["out"], function=spend_cpu),
            name="after_broken",
        )
        wf.connect(broken, "out", after, "seconds")
    wf.config["execution"]["poll_sleep_duration"] = 0.05
    return wf


def build_summary(work_dir: Path):  # type: ignore[no-untyped-def]
    from nipype.interfaces.utility import Function
    from nipype.pipeline import engine as pe

    wf = pe.Workflow("dwiprep_summary", base_dir=str(work_dir))
    node = pe.Node(
        Function(input_names=["seconds"], output_names=["out"], function=spend_cpu),
        name="summarise",
    )
    node.inputs.seconds = 0.1
    wf.add_nodes([node])
    wf.config["execution"]["poll_sleep_duration"] = 0.05
    return wf


def make_plugin(kind: str, plugin_args: dict, pool: ProcessPoolExecutor):  # type: ignore[no-untyped-def]
    """The app's own MultiProc over the pool the app made: a subclass of nipype's, or
    niworkflows' copy of it (what fMRIPrep and MRIQC run), built as fMRIPrep builds it."""
    if kind == "niworkflows":
        from niworkflows.engine.plugin import MultiProcPlugin as NiworkflowsMultiProc

        return NiworkflowsMultiProc(pool=pool, plugin_args=plugin_args)
    from nipype.pipeline.plugins import MultiProcPlugin

    class DwiprepMultiProcPlugin(MultiProcPlugin):
        def __init__(self, pool, plugin_args=None):  # type: ignore[no-untyped-def]
            super().__init__(plugin_args=plugin_args)
            self.pool.shutdown(wait=False)
            self.pool = pool

    return DwiprepMultiProcPlugin(pool, plugin_args)


def run(wf, plugin: str, plugin_args: dict, kind: str = "own"):  # type: ignore[no-untyped-def]
    if plugin != "MultiProc":
        return wf.run(plugin=plugin, plugin_args=plugin_args)
    pool = ProcessPoolExecutor(
        max_workers=int(plugin_args.get("n_procs", 2)), mp_context=mp.get_context("forkserver")
    )
    try:
        return wf.run(plugin=make_plugin(kind, plugin_args, pool))
    finally:
        pool.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dwiprep", description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("work_dir", type=Path)
    parser.add_argument("--use-plugin", type=Path, required=True, help="plugin YAML file")
    parser.add_argument("--light", action="store_true", help="mask and denoise only")
    parser.add_argument("--fail", action="store_true", help="add a step that fails")
    parser.add_argument(
        "--multiproc", choices=("own", "niworkflows"), default="own",
        help="whose MultiProcPlugin class: the app's subclass of nipype's, or niworkflows'",
    )  # fmt: skip
    parser.add_argument("--participant-label", default="", help="the subject (BIDS label)")
    args = parser.parse_args(argv)
    settings = yaml.safe_load(args.use_plugin.read_text()) or {}
    plugin = settings.get("plugin", "MultiProc")
    plugin_args = dict(settings.get("plugin_args") or {})
    try:
        wf = build_preproc(
            args.data_dir, args.work_dir, args.light, args.fail, args.participant_label
        )
        run(wf, plugin, plugin_args, args.multiproc)
    except Exception as err:
        print(f"dwiprep: preprocessing failed: {err}", file=sys.stderr)
        return 1
    run(build_summary(args.work_dir), plugin, plugin_args, args.multiproc)
    print("dwiprep: done; nipype_carbon loaded:", "nipype_carbon" in sys.modules)
    return 0


if __name__ == "__main__":
    sys.exit(main())
