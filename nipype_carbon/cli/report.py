"""``nipype-carbon report RUN [-o FILE]``: a saved run, as a table, file or page.

RUN is a carbon directory (its newest run, by recorded start time), a folder
above one (a workflow's base_dir), or a session file. The format
follows FILE's extension: .csv, .json, .md, .html, .svg, .png (the graph), .txt;
without -o, a console table. Region, intensity, PUE and idle mode given here
override those recorded with the run: "what if this ran in Quebec?" needs no re-run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nipype_carbon.cli.options import (
    MAX_COHORT,
    MAX_ROWS,
    UNFORESEEN,
    add_render_options,
    check_render_options,
    error_line,
    unforeseen,
    whole_number,
)
from nipype_carbon.files.safe import replace_file
from nipype_carbon.record.reader import choose_run_that_worked
from nipype_carbon.record.runs import SessionError
from nipype_carbon.report.escape import visible
from nipype_carbon.report.formats import render_console
from nipype_carbon.report.model import build_report
from nipype_carbon.report.registry import renderer_for


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nipype-carbon report", description=__doc__)
    p.add_argument("run", help="carbon directory or session file")
    p.add_argument("-o", "--output", help="write to FILE; the format follows its extension")
    add_render_options(p)
    p.add_argument(
        "--top",
        type=whole_number(1, MAX_ROWS),
        default=10,
        help=f"hottest nodes to list (1-{MAX_ROWS:,}; default 10)",
    )
    p.add_argument(
        "--cohort",
        type=whole_number(1, MAX_COHORT),
        metavar="N",
        help=f"project this run over N subjects (1-{MAX_COHORT:,})",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_render_options(args)
        choice = choose_run_that_worked(args.run)
        note = choice.note()
        if note:
            print(visible(f"nipype-carbon report: {note}"), file=sys.stderr)
        report = build_report(choice.path, args.region, args.intensity, args.pue, args.idle)
        options = {"top": args.top, "subjects": args.cohort}
        if not args.output:
            print(render_console(report, **options), end="")
            print(visible(f"session: {report.session.path}"))
            return 0
        rendered = renderer_for(args.output)(report, **options)
        target = replace_file(args.output, rendered)  # a link there is replaced, not followed
    except BrokenPipeError:
        raise  # a closed stdout: the dispatcher exits quietly
    except (SessionError, ValueError, OSError, RuntimeError) as err:
        print(error_line("report", err), file=sys.stderr)
        return 2
    except UNFORESEEN as err:
        print(f"nipype-carbon report: {unforeseen(args.run, err)}", file=sys.stderr)
        return 2
    print(visible(f"wrote {target}"))
    return 0
