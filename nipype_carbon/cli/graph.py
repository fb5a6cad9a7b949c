"""``nipype-carbon graph RUN -o graph.svg``: the workflow graph coloured by emissions.

RUN is a carbon directory (its newest session) or a session file. The format
follows the output's extension: ``.svg`` or ``.png`` (drawn by graphviz's
``dot``), or ``.dot`` (the DOT text, no graphviz needed). Region, intensity and
PUE given here override those recorded with the run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nipype_carbon.cli.options import (
    UNFORESEEN,
    add_render_options,
    check_render_options,
    error_line,
    unforeseen,
)
from nipype_carbon.files.safe import replace_file
from nipype_carbon.record.runs import SessionError
from nipype_carbon.report.escape import visible
from nipype_carbon.report.graph_layout import COLLAPSE_MODES
from nipype_carbon.report.graphviz import FORMATS, LABELS, GraphvizError, render_graph
from nipype_carbon.report.model import build_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nipype-carbon graph", description=__doc__)
    p.add_argument("run", help="carbon directory or session file")
    p.add_argument("-o", "--output", required=True, help="graph.svg, graph.png or graph.dot")
    add_render_options(p)
    p.add_argument(
        "--collapse",
        choices=COLLAPSE_MODES,
        default="auto",
        help="fold MapNode children (mapnodes), sub-workflows (workflows), nothing (none), "
        "or as much as legibility needs (auto, the default)",
    )
    p.add_argument("--label", choices=LABELS, default="energy", help="what each box shows")
    return p


def output_format(path: str) -> str:
    """The format named by an output file's extension."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format of {path!r}: end it in .svg, .png or .dot")
    return fmt


def write_graph(args: argparse.Namespace) -> Path:
    """Render the run's graph to the output file; return its path."""
    fmt = output_format(args.output)
    check_render_options(args)
    report = build_report(
        args.run,
        region=args.region,
        intensity_g_per_kwh=args.intensity,
        pue=args.pue,
        idle=args.idle,
    )
    data = render_graph(report, fmt, collapse=args.collapse, label=args.label)
    return replace_file(args.output, data)  # a link there is replaced, not followed


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        target = write_graph(args)
    except BrokenPipeError:
        raise  # a closed stdout: the dispatcher exits quietly
    except (SessionError, GraphvizError, ValueError, OSError) as err:
        print(error_line("graph", err), file=sys.stderr)
        return 2
    except UNFORESEEN as err:
        print(f"nipype-carbon graph: {unforeseen(args.run, err)}", file=sys.stderr)
        return 2
    print(visible(f"wrote {target}"))
    return 0
