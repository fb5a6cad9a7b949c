"""Shared by the fault tests: run CLI commands in-process, wait for files, read sessions."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

from nipype_carbon.cli.main import main as cli


def run_cli(*args: str) -> tuple[int, str, str]:
    """Run ``nipype-carbon ARGS`` in this process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli(list(args))
        except SystemExit as exit_:  # argparse
            status = int(exit_.code or 0)
    return status, out.getvalue(), err.getvalue()


def wait_for(predicate, timeout_s: float = 120.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
    """Poll (generously: a loaded 2-core machine) until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or predicate}")


def finished_nodes(workflow_dir: Path) -> set[str]:
    """Nodes whose result nipype wrote: the truth of what finished, not ours."""
    return {p.parent.name for p in workflow_dir.glob("*/result_*.pklz")}
