"""``nipype-carbon study PATH... [-o FILE]``: every run under PATHs as one study.

PATHs are carbon directories, session files, or folders above them (searched all the way
down). Each run belongs to a subject: its ``subject`` setting (``--subject`` of
``nipype-carbon run``, ``NIPYPE_CARBON_SUBJECT``, ``plugin_args``), else the BIDS names of its
workflows (``sub_01_wf``, ``sub-01``), else the ``--participant-label`` its command line
gave, else ``--subject-from REGEX``. The format follows FILE's extension: .csv (one file
per table, or the one --table names), .html (a page with pictures), .json, .md, .txt;
without -o, a console page.
Runs are summed up once and kept in your cache folder, so a second call is quick.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from nipype_carbon.cli.options import (
    UNFORESEEN,
    add_render_options,
    check_render_options,
    error_line,
    unforeseen,
    whole_number,
)
from nipype_carbon.files.safe import replace_file
from nipype_carbon.record.runs import SessionError
from nipype_carbon.report.escape import visible
from nipype_carbon.study.build import Study, build_study
from nipype_carbon.study.formats import (
    TABLES,
    render_console,
    render_csv,
    render_json,
    render_markdown,
)
from nipype_carbon.study.html import render_html

#: the most subjects a projection is asked for
MAX_PROJECT = 10_000_000


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nipype-carbon study", description=__doc__)
    p.add_argument("paths", nargs="+", metavar="PATH", help="carbon directories, sessions, folders")
    p.add_argument("-o", "--output", help="write to FILE; the format follows its extension")
    p.add_argument("--table", choices=TABLES, help="with -o FILE.csv: only this table")
    p.add_argument(
        "--subject-from",
        metavar="REGEX",
        help="read the subject of runs that name none from their path or workflow name "
        r"(its first group, else the match: 'sub-(\w+)')",
    )
    add_render_options(p, idle=False, scope=" for every run")
    p.add_argument(
        "--include-running", action="store_true", help="count runs still in progress in the totals"
    )
    p.add_argument(
        "--project",
        type=whole_number(1, MAX_PROJECT),
        default=10_000,
        metavar="N",
        help="project the cost of N more subjects (default 10,000)",
    )
    p.add_argument("--top", type=whole_number(1, 10_000), default=10, help="hottest steps to list")
    p.add_argument(
        "--no-cache", action="store_true", help="sum every run up again, keep nothing in the cache"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_render_options(args)
        if args.subject_from:
            try:
                re.compile(args.subject_from)
            except re.error as err:
                raise ValueError(
                    f"--subject-from {args.subject_from!r} is not a regular expression ({err}): "
                    r"e.g. 'sub-(\w+)'"
                ) from None
        if args.table and not (args.output or "").endswith(".csv"):
            raise ValueError("--table chooses a CSV table: give it with -o FILE.csv")
        study = build_study(
            args.paths,
            subject_from=args.subject_from,
            region=args.region,
            intensity_g_per_kwh=args.intensity,
            pue=args.pue,
            include_running=args.include_running,
            project_subjects=args.project,
            store_path=None if args.no_cache else "default",
        )
        if not study.totals["runs"] and not study.totals["runs_left_out"]:
            skipped = (
                f" ({len(study.skipped)} file(s) skipped: {study.skipped[0].path}: "
                f"{study.skipped[0].reason}{', ...' if len(study.skipped) > 1 else ''})"
                if study.skipped
                else ""
            )
            print(
                visible(
                    f"nipype-carbon study: no run found under {' '.join(args.paths)}{skipped}: "
                    "give carbon directories (where runs wrote session-*.jsonl), session "
                    "files, or folders above them"
                ),
                file=sys.stderr,
            )
            return 1
        if not args.output:
            print(render_console(study, top=args.top), end="")
            return 0
        written = _write(study, args.output, args.table, args.top)
    except BrokenPipeError:
        raise
    except (SessionError, ValueError, OSError, RuntimeError) as err:
        print(error_line("study", err), file=sys.stderr)
        return 2
    except UNFORESEEN as err:
        print(f"nipype-carbon study: {unforeseen(' '.join(args.paths), err)}", file=sys.stderr)
        return 2
    for path in written:
        print(visible(f"wrote {path}"))
    if study.skipped:
        print(
            visible(f"skipped {len(study.skipped)} file(s): see the skipped table"), file=sys.stderr
        )
    return 0 if study.totals["runs"] else 1


def _write(study: Study, output: str, only: str | None, top: int) -> list[Path]:
    target = Path(output)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        names = [only] if only else list(TABLES)
        if only:
            return [replace_file(target, render_csv(study, only))]
        return [
            replace_file(target.with_name(f"{target.stem}-{name}.csv"), render_csv(study, name))
            for name in names
        ]
    renderers = {
        ".html": lambda: render_html(study, top=max(top, 15)),
        ".json": lambda: render_json(study),
        ".md": lambda: render_markdown(study, top=top),
        ".txt": lambda: render_console(study, top=top),
    }
    if suffix not in renderers:
        raise ValueError(
            f"cannot write a study as {suffix or 'a file without extension'}: "
            "use .csv, .html, .json, .md or .txt"
        )
    return [replace_file(target, renderers[suffix]())]
