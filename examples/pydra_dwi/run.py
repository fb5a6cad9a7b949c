"""Prepare the example data, run the Pydra DWI workflow metered, and print the FA comparison.

Usage::

    python3 examples/pydra_dwi/run.py --cache-root DIR [--base cf] [--n-procs 2]
        [--region GB] [--upsample] [--nthreads 1] [--no-carbon]

The data are those of the Nipype example (``dwi_pipeline/prepare_data.py``),
prepared under ``DIR/data``; Pydra's cache is ``DIR``; the carbon session goes
to ``DIR/carbon/DwiPipeline`` and its path is logged.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
if __package__ in (None, ""):
    # Run as a script: make ``pydra_dwi`` and ``dwi_pipeline`` importable, and stop this
    # directory from shadowing top-level modules (``run``, ``tasks``, ``workflow``).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(EXAMPLES))

from dwi_pipeline.prepare_data import prepare  # noqa: E402
from pydra.engine.submitter import Submitter  # noqa: E402
from pydra_dwi.workflow import DwiPipeline  # noqa: E402


def carbon_worker() -> Any:
    """``"carbon"`` where Pydra finds the worker by name, else the class itself."""
    if importlib.util.find_spec("pydra.workers.carbon") is not None:
        return "carbon"
    from pydra_carbon import CarbonWorker

    return CarbonWorker


def worker_options(args: argparse.Namespace) -> dict[str, Any]:
    """The Submitter's worker and its keywords (the carbon settings ride along)."""
    base: dict[str, Any] = {"n_procs": args.n_procs} if args.base == "cf" else {}
    if args.no_carbon:
        return {"worker": args.base, **base}
    carbon = {"region": args.region, "sample_interval_s": args.sample_interval_s}
    return {"worker": carbon_worker(), "base": args.base, **base, **carbon}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Prepare the data, run the workflow and return a JSON-friendly summary."""
    cache_root = Path(args.cache_root).resolve()
    data = prepare(cache_root / "data", upsample=args.upsample)
    # batch jobs (base="slurm") import the tasks too
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(EXAMPLES), os.environ.get("PYTHONPATH", "")) if p
    )
    task = DwiPipeline(
        dwi=data.dwi,
        bvals=data.bvals,
        bvecs=data.bvecs,
        grad_mrtrix=data.grad_mrtrix,
        nthreads=args.nthreads,
    )
    start = time.perf_counter()
    with Submitter(cache_root=cache_root, **worker_options(args)) as sub:
        result = sub(task, raise_errors=True)
    outputs = result.outputs
    return {
        "fa_report": str(outputs.report_file),
        "mean_fa": outputs.mean_fa,
        "max_mean_abs_fa_diff": outputs.max_mean_abs_fa_diff,
        "dwi_shape": list(data.dwi_shape),
        "worker": "pydra" if args.no_carbon else "carbon",
        "base": args.base,
        "carbon_dir": None if args.no_carbon else str(cache_root / "carbon" / "DwiPipeline"),
        "workflow_seconds": round(time.perf_counter() - start, 2),
    }


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description="Run the Pydra DWI example, metered.")
    parser.add_argument("--cache-root", required=True, help="Pydra cache root; data/ goes here")
    parser.add_argument("--base", default="cf", help="the Pydra worker that runs the tasks")
    parser.add_argument("--n-procs", type=int, default=2, help="processes of the cf worker")
    parser.add_argument("--nthreads", type=int, default=1, help="threads per MRtrix3 task")
    parser.add_argument("--region", default=None, help="grid region (GB, CA-QC, ...)")
    parser.add_argument("--sample-interval-s", type=float, default=0.5, help="meter interval")
    parser.add_argument("--upsample", action="store_true", help="resample DWI to 64x64x40")
    parser.add_argument("--no-carbon", action="store_true", help="plain Pydra, unmetered")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("pydra.carbon").setLevel(logging.INFO)  # the session path and summary
    summary = run(args)
    (Path(args.cache_root) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
