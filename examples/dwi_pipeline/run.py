"""Prepare the example data, build the workflow, run it and print the FA comparison.

Usage::

    python3 examples/dwi_pipeline/run.py --base-dir DIR [--plugin MultiProc] [--n-procs 2]
        [--upsample] [--plugin-arg key=value ...]

The plugin name is passed straight to ``Workflow.run``; ``import nipype_carbon``
is attempted first so that ``--plugin CarbonMultiProc`` works once that package
registers its plugin.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if __package__ in (None, ""):
    # Run as a script: make ``dwi_pipeline`` importable, stop the example's own directory
    # from shadowing top-level modules (``run``, ``nodes``, ``workflow``), and import the
    # rest as a module of that package would (as ``examples.dwi_pipeline.run`` does).
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
    sys.path.insert(0, str(HERE.parent))
    import dwi_pipeline  # noqa: F401

    __package__ = "dwi_pipeline"

from .prepare_data import BOLD_SOURCES, prepare  # noqa: E402
from .workflow import build_workflow  # noqa: E402

with contextlib.suppress(ImportError):  # registers the Carbon* plugins when available
    import nipype_carbon  # noqa: F401

MULTIPROC_POLL = 0.2
RESULT_NODES = ("compare_fa", "framewise_displacement", "dvars")


def parse_plugin_args(pairs: list[str]) -> dict:
    """Turn ``key=value`` strings into a dict; values are Python literals or strings."""
    out = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"--plugin-arg expects key=value, got {pair!r}")
        try:
            out[key] = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            out[key] = raw
    return out


def plugin_args_for(plugin: str, n_procs: int, extra: dict) -> dict:
    """Default plugin_args (MultiProc-like plugins get n_procs and a fast poll)."""
    args = {}
    if "multiproc" in plugin.lower():
        args = {"n_procs": n_procs, "poll_sleep_duration": MULTIPROC_POLL}
    args.update(extra)
    return args


def configure(wf, base: Path, plugin_args: dict) -> None:
    """Keep crash files under ``base`` and apply ``poll_sleep_duration``.

    nipype 1.11's DistributedPluginBase reads the poll interval only from
    ``config["execution"]["poll_sleep_duration"]`` (default 2 s), never from
    plugin_args, so the plugin_args value is copied into the workflow config.
    """
    wf.config["execution"]["crashdump_dir"] = str(base / "crash")
    if "poll_sleep_duration" in plugin_args:
        wf.config["execution"]["poll_sleep_duration"] = plugin_args["poll_sleep_duration"]


def collect_outputs(graph) -> dict:
    """Read the outputs of the result nodes from an executed graph."""
    found = {}
    for node in graph.nodes():
        if node.name in RESULT_NODES:
            outputs = node.result.outputs.get()
            found[node.name] = {k: v for k, v in outputs.items() if v is not None}
    missing = set(RESULT_NODES) - set(found)
    if missing:
        raise RuntimeError(f"result nodes missing from the executed graph: {sorted(missing)}")
    return found


def summarise(outputs: dict) -> dict:
    """A JSON-friendly summary: the FA comparison plus the confound files."""
    compare = outputs["compare_fa"]
    with open(compare["report_file"]) as handle:
        report = json.load(handle)
    return {
        "fa_report": compare["report_file"],
        "mean_fa": compare["mean_fa"],
        "max_mean_abs_fa_diff": compare["max_mean_abs_fa_diff"],
        "mean_abs_fa_diff": report["mean_abs_fa_diff"],
        "fd_file": outputs["framewise_displacement"]["out_file"],
        "fd_average": outputs["framewise_displacement"]["fd_average"],
        "dvars_file": outputs["dvars"]["out_all"],
        "dvars_std_mean": outputs["dvars"]["avg_std"],
    }


def run(
    base_dir: str | Path,
    plugin: str = "MultiProc",
    n_procs: int = 2,
    upsample: bool = False,
    plugin_args: dict | None = None,
    nthreads: int = 1,
    bold_source: str = "nipype",
) -> dict:
    """Prepare data into ``base_dir/data``, run the workflow and return the summary."""
    base = Path(base_dir).resolve()
    data = prepare(base / "data", upsample=upsample, bold_source=bold_source)
    wf = build_workflow(base / "data", base / "work", nthreads=nthreads)
    args = plugin_args_for(plugin, n_procs, plugin_args or {})
    configure(wf, base, args)
    start = time.perf_counter()
    graph = wf.run(plugin=plugin, plugin_args=args)
    summary = summarise(collect_outputs(graph))
    summary.update(
        plugin=plugin,
        plugin_args=args,
        bold_source=bold_source,
        dwi_shape=list(data.dwi_shape),
        bold_shape=list(data.bold_shape),
        workflow_seconds=round(time.perf_counter() - start, 2),
    )
    (base / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description="Run the nipype-carbon DWI example.")
    parser.add_argument("--base-dir", required=True, help="data/ and work/ are created here")
    parser.add_argument("--plugin", default="MultiProc", help="nipype plugin name")
    parser.add_argument("--n-procs", type=int, default=2, help="n_procs for MultiProc")
    parser.add_argument("--nthreads", type=int, default=1, help="threads per MRtrix3 node")
    parser.add_argument("--upsample", action="store_true", help="resample DWI to 64x64x40")
    parser.add_argument(
        "--bold", choices=BOLD_SOURCES, default="nipype", help="which shipped BOLD run to use"
    )
    parser.add_argument(
        "--plugin-arg", action="append", default=[], metavar="KEY=VALUE",
        help="extra plugin_args entry (repeatable); values are Python literals or strings",
    )  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    summary = run(
        args.base_dir,
        plugin=args.plugin,
        n_procs=args.n_procs,
        upsample=args.upsample,
        plugin_args=parse_plugin_args(args.plugin_arg),
        nthreads=args.nthreads,
        bold_source=args.bold,
    )
    print(json.dumps(summary, indent=2))
    print(
        f"max mean |FA difference| between branches: {summary['max_mean_abs_fa_diff']:.4f} "
        f"(total {time.perf_counter() - start:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
