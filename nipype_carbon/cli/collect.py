"""``nipype-carbon collect CARBON_DIR``: gather records that arrived after a run returned.

Graph plugins (``CarbonSLURMGraph``, ``CarbonSGEGraph``, ...) return once their
jobs are submitted; the Carbon plugin waits for the jobs' records by default.
With ``graph_wait=False`` (or after a timeout) run this once the jobs are done:
it moves every record left in the run's spool into its session.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from nipype_carbon.record.session import SessionError, load_session, session_files
from nipype_carbon.record.spool import drain


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
            spool = path.with_suffix(".spool")
            if spool.is_dir():
                session = load_session(path, spool=False)
                added = drain(spool, session, final=session.status != "interrupted")
                total += len(added)
                print(f"{path.name}: {len(added)} record(s) collected")
                if not session.flush():
                    raise SessionError(
                        f"{path}: records not written (disk full?); they stay in {spool}"
                    )
    except (SessionError, OSError) as err:
        print(f"nipype-carbon collect: {err}", file=sys.stderr)
        return 2
    print(f"{total} record(s) collected in all")
    return 0
