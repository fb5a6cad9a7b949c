"""``nipype-carbon compare RUN_A RUN_B [...]``: which alternative pipeline cost less.

Compares the totals, the nodes (matched by name without the workflow's name)
and the interfaces of two or more runs, and ends with a one-line verdict. A note
comes first for each way the runs differ in grid, PUE, host or method.
With one run and ``--alternatives step=a,b``, compares branches within it:
each alternative is the set of nodes whose name contains it. Names are printed
as :func:`~nipype_carbon.report.escape.visible` shows them: no escape sequence
reaches the terminal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from nipype_carbon.cli.options import (
    MAX_ROWS,
    UNFORESEEN,
    add_render_options,
    check_render_options,
    error_line,
    unforeseen,
    whole_number,
)
from nipype_carbon.record.reader import choose_run_that_worked
from nipype_carbon.record.runs import SessionError
from nipype_carbon.report.compare import (
    compare_branches,
    differences,
    incomplete,
    interfaces_frame,
    nodes_frame,
    runs_frame,
    verdict,
)
from nipype_carbon.report.escape import visible
from nipype_carbon.report.model import Report, build_report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nipype-carbon compare", description=__doc__)
    p.add_argument("runs", nargs="+", help="carbon directories or session files")
    p.add_argument(
        "--alternatives",
        nargs="+",
        metavar="STEP=A,B",
        default=[],
        help="branches to weigh within the (first) run, e.g. denoise=mrtrix,dipy",
    )
    add_render_options(p, idle=False, scope=" for every run")
    p.add_argument(
        "--top",
        type=whole_number(1, MAX_ROWS),
        default=15,
        help=f"rows of the node and interface tables (1-{MAX_ROWS:,}; default 15)",
    )
    p.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="weigh interrupted and failed runs in the verdict too",
    )
    return p


def _labels(runs: list[str]) -> list[str]:
    """Short labels: the workflow's name for a carbon directory, else the file's stem."""
    paths = [Path(r) for r in runs]
    labels = [p.parent.name if p.name == "carbon" else p.stem for p in paths]
    return labels if len(set(labels)) == len(labels) else [f"run{i + 1}" for i in range(len(runs))]


def _say(text: str) -> None:
    """Print session-derived text: no control sequence, bidi controls shown (``<U+202E>``)."""
    print("\n".join(visible(line) for line in text.split("\n")))


def _show(title: str, frame: pd.DataFrame, top: int) -> None:
    shown = frame.head(top).rename(index=visible, columns=visible)  # aligned as printed
    _say(f"\n{title}\n" + shown.to_string(float_format=lambda v: f"{v:.4g}"))


def _worked(run: str) -> Path:
    """The run a path means, the newest that did the work for a carbon directory (said)."""
    choice = choose_run_that_worked(run)
    if choice.reused:
        note = choice.note()
        print(visible(f"nipype-carbon compare: {note}"), file=sys.stderr)
    return choice.path


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if len(args.runs) < 2 and not args.alternatives:
        print("nipype-carbon compare: give two runs or more, or --alternatives", file=sys.stderr)
        return 2
    try:
        check_render_options(args)
        reports: dict[str, Report] = {
            label: build_report(_worked(run), args.region, args.intensity, args.pue)
            for label, run in zip(_labels(args.runs), args.runs, strict=True)
        }
        steps = compare_branches(next(iter(reports.values())), args.alternatives)
    except (SessionError, ValueError, OSError) as err:
        print(error_line("compare", err), file=sys.stderr)
        return 2
    except UNFORESEEN as err:
        print(f"nipype-carbon compare: {unforeseen(' '.join(args.runs), err)}", file=sys.stderr)
        return 2
    for note in differences(reports):
        _say(note)
    flagged = incomplete(reports)
    if flagged:
        _say("Incomplete runs (their figures cover only what was recorded):")
        _say("\n".join(f"  {line}" for line in flagged))
    if len(reports) > 1:
        _show("Runs:", runs_frame(reports).set_index("run"), args.top)
        _show("Nodes (energy, J):", nodes_frame(reports), args.top)
        _show("Interfaces (energy, J):", interfaces_frame(reports), args.top)
        _say(f"\n{verdict(reports, args.allow_incomplete)}")
    for step in steps:
        _say(step.verdict())
    return 0
