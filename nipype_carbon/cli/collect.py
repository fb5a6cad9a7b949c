"""``nipype-carbon collect CARBON_DIR``: gather records that arrived after a run returned.

Graph plugins (``CarbonSLURMGraph``, ``CarbonSGEGraph``, ...) return once their
jobs are submitted; the Carbon plugin waits for the jobs' records by default.
With ``graph_wait=False`` (or after a timeout) run this once the jobs are done:
it moves every record left in the run's spool into its session.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from nipype_carbon.cli.options import error_line
from nipype_carbon.record.held import held_folders, held_line_files
from nipype_carbon.record.reader import apply_line, load_session
from nipype_carbon.record.runs import SessionError, session_files
from nipype_carbon.record.spool import drain
from nipype_carbon.report.escape import visible


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nipype-carbon collect", description=__doc__)
    p.add_argument("carbon_dir", help="the run's carbon directory")
    args = p.parse_args(argv)
    try:
        if not Path(args.carbon_dir).is_dir():
            raise SessionError(
                f"{args.carbon_dir} does not exist or is not a directory: "
                "give the run's carbon directory"
            )
        paths = session_files(args.carbon_dir)
        if not paths:
            raise SessionError(f"no session*.jsonl in {args.carbon_dir}: is it a carbon directory?")
        total = 0
        for path in paths:
            total += collect_session(path)
    except (SessionError, OSError) as err:
        print(error_line("collect", err), file=sys.stderr)
        return 2
    print(f"{total} record(s) and line(s) collected in all")
    return 0


def collect_session(path: Path) -> int:
    """Write what waits for one session (spool, held records and lines) into it; how many
    records and lines were written."""
    spool = path.with_suffix(".spool")
    held = held_line_files(spool)
    if not spool.is_dir() and not held and not held_folders(spool):
        return 0
    session = load_session(path, spool=False)
    for _, lines in held:
        for line in lines:  # the end event among them: judge the rest by it
            apply_line(session, line, [])
        session.append_lines(lines)
    added = drain(spool, session, final=session.status != "interrupted")
    if not session.flush():
        raise SessionError(
            f"{path}: records not written (disk full or read-only?); they stay where they are"
        )
    for held_file, _ in held:
        held_file.unlink(missing_ok=True)
    for folder in held_folders(spool):
        with contextlib.suppress(OSError):
            folder.rmdir()
    with contextlib.suppress(OSError):
        spool.rmdir()
    count = len(added) + sum(len(lines) for _, lines in held)
    print(
        visible(f"{path.name}: {len(added)} record(s) and {count - len(added)} line(s) collected")
    )
    return count
