"""``nipype-carbon run [options] -- COMMAND [ARGS...]``: meter an app you cannot edit.

COMMAND (fMRIPrep, MRIQC, QSIPrep, your script, a container runtime) runs
unchanged. Every Python process it starts meters each Nipype ``Workflow.run``
with the Carbon variant of the plugin the app asked for (a name, or its own
plugin object with its own process pool) and each Pydra ``Submitter`` with a
``carbon`` worker around the worker the script chose. Every session goes to
one carbon directory; at the end one report across them is printed.

How: a runtime folder (a copy of nipype_carbon and pydra_carbon and a
``sitecustomize.py``; standard library and nipype only on the node side; see
:mod:`nipype_carbon.cli.runtime`, kept where no other user can change it) is
put first on ``PYTHONPATH`` and ``NIPYPE_CARBON_RUN`` is set. COMMAND's exit status
is returned (128 + N for a signal N) and SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 and
(when not sent by the terminal to both) SIGINT are forwarded, so the command
can sit in a SLURM batch script.

Containers: with ``--env-file FILE`` the variables are also written to FILE for
``docker run --env-file FILE`` or ``apptainer exec --env-file FILE``; bind the
carbon directory (it holds the runtime folder, unless other users can change it:
then the folder printed) at the same path, and ``/sys/class/powercap`` to
measure (see the user guide).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from nipype_carbon.cli.options import MAX_ROWS, check_render_options, error_line, whole_number
from nipype_carbon.cli.runtime import Runtime, prepare_runtime
from nipype_carbon.files.safe import replace_file
from nipype_carbon.files.trust import shared_folder_warning
from nipype_carbon.measure.host import host_name
from nipype_carbon.measure.procfs import children_by_scan
from nipype_carbon.record.runs import session_files, session_header, unmetered_notes
from nipype_carbon.record.settings import (
    ENV_PREFIX,
    RUN_VARIABLE,
    CarbonSettings,
    SettingsError,
    check_carbon_dir,
)

#: signals passed on to COMMAND
FORWARDED = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGINT")
#: how long processes COMMAND left behind get to end by themselves, then after SIGTERM
LEFTOVER_GRACE_S = 5.0
#: prctl(2) option: orphaned descendants are re-parented to this process, not to init
PR_SET_CHILD_SUBREAPER = 36


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nipype-carbon run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="nipype-carbon run [options] -- COMMAND [ARGS...]",
    )
    p.add_argument(
        "--carbon-dir",
        default="carbon",
        help="where every run's session goes (default ./carbon)",
    )
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--region", help="grid region, ISO code (GB, CA-QC, US-CA, WORLD)")
    grid.add_argument("--intensity", type=float, help="grid intensity, gCO2e/kWh (0-2,000)")
    p.add_argument("--pue", type=float, help="power usage effectiveness (1.0-3.0)")
    p.add_argument(
        "--subject",
        metavar="LABEL",
        help="the BIDS subject this run processes (01 or sub-01), for `nipype-carbon study`",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other carbon setting (sample_interval_s=0.5, cpu_tdp_w=120, ...)",
    )
    p.add_argument(
        "--runtime-dir",
        metavar="DIR",
        help="where the runtime folder goes (a folder only you can change; default "
        "CARBON_DIR/.runtime when it is one, else ~/.cache/nipype-carbon/runtime)",
    )
    p.add_argument(
        "--env-file",
        metavar="FILE",
        help="also write the variables COMMAND gets to FILE (docker/apptainer --env-file)",
    )
    p.add_argument(
        "--top",
        type=whole_number(1, MAX_ROWS),
        default=10,
        help=f"hottest nodes to list (1-{MAX_ROWS:,}; default 10)",
    )
    p.add_argument("--no-report", action="store_true", help="print no report at the end")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    return p


def invocation_id() -> str:
    """What this invocation's sessions record as ``launched_by``: host, pid and start."""
    return f"{host_name()}:{os.getpid()}:{time.time():.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print(
            "nipype-carbon run: no command given: nipype-carbon run [options] -- COMMAND [ARGS...]",
            file=sys.stderr,
        )
        return 2
    carbon_dir = Path(args.carbon_dir).absolute()
    launch = invocation_id()
    try:
        variables = carbon_variables(args, carbon_dir, launch)
        runtime = prepare_runtime(carbon_dir, _given_dir(args.runtime_dir))
    except (SettingsError, ValueError, OSError) as err:
        print(error_line("run", err), file=sys.stderr)
        return 2
    for line in trust_lines(carbon_dir, runtime):
        print(f"nipype-carbon run: {line}", file=sys.stderr)
    variables["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(runtime.path), os.environ.get("PYTHONPATH", "")) if p
    )
    if args.env_file:
        try:
            replace_file(args.env_file, "".join(f"{k}={v}\n" for k, v in variables.items()))
        except OSError as err:
            print(error_line("run", err), file=sys.stderr)
            return 2
    status = run_command(command, {**os.environ, **variables})
    if not args.no_report:
        print_report(carbon_dir, launch, args.top)
    return status


def _given_dir(value: str | None) -> Path | None:
    return Path(value).expanduser().absolute() if value else None


def trust_lines(carbon_dir: Path, runtime: Runtime) -> list[str]:
    """What the user must know of a carbon directory others can change: what it allows,
    and where the runtime folder went instead."""
    lines = []
    warning = shared_folder_warning(carbon_dir)
    if warning:
        lines.append(f"warning: {warning}")
    if runtime.moved_because:
        lines.append(
            f"runtime folder {runtime.path} (not in the carbon directory: "
            f"{runtime.moved_because}); a container must bind it too"
        )
    return lines


def carbon_variables(args: argparse.Namespace, carbon_dir: Path, launch: str) -> dict[str, str]:
    """The ``NIPYPE_CARBON_*`` variables for COMMAND, checked as the runs will check them."""
    check_render_options(args)  # --pue, --intensity: named as the options they are
    check_carbon_dir(carbon_dir)  # a file in the way: the path and the fix, not "File exists"
    given: dict[str, str] = {"carbon_dir": str(carbon_dir)}
    for name in ("region", "intensity", "pue", "subject"):
        value = getattr(args, name)
        if value is not None:
            given["intensity_g_per_kwh" if name == "intensity" else name] = str(value)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set {item!r}: give KEY=VALUE (a carbon setting)")
        given[key.strip()] = value.strip()
    variables = {ENV_PREFIX + key.upper(): value for key, value in given.items()}
    variables[RUN_VARIABLE] = launch
    # refused here, before COMMAND starts: a typo, an out-of-range number, an unusable folder
    CarbonSettings.from_mapping({}, env={**os.environ, **variables})
    carbon_dir.mkdir(parents=True, exist_ok=True)
    return variables


def run_command(command: list[str], env: dict[str, str]) -> int:
    """Run COMMAND, forwarding signals; its exit status (128 + N when killed by signal N).

    Processes COMMAND leaves behind (a killed app's worker pool, say) are ended after it:
    this process is their subreaper, so they cannot outlive the job unseen.
    """
    _become_subreaper()
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as err:
        print(error_line("run", err), file=sys.stderr)
        return 127 if isinstance(err, FileNotFoundError) else 126

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGINT and _terminal_sent_it():
            return  # the terminal sent it to COMMAND too
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    previous = {}
    for name in FORWARDED:
        signum = getattr(signal, name)
        previous[signum] = signal.signal(signum, forward)
    try:
        while True:
            try:
                code = child.wait()
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries for us
                continue
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        ended = end_leftovers()
        if ended:
            print(
                f"nipype-carbon run: ended {len(ended)} process(es) the command left behind "
                f"(pids {', '.join(map(str, ended[:10]))})",
                file=sys.stderr,
            )
    return 128 - code if code < 0 else code


def _become_subreaper() -> bool:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def end_leftovers(grace_s: float = LEFTOVER_GRACE_S) -> list[int]:
    """End the processes COMMAND left behind: a grace period, SIGTERM, then SIGKILL.

    Returns those that had to be signalled.
    """
    left = _reap_children(grace_s)  # they may end by themselves
    signalled = list(left)
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if not left:
            break
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)
        left = _reap_children(grace_s)
    return signalled


def _reap_children(wait_s: float) -> list[int]:
    """Reap children that exit within ``wait_s``; those still alive after it."""
    deadline = time.monotonic() + wait_s
    while True:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        alive = children_by_scan(os.getpid())
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.05)


def _terminal_sent_it() -> bool:
    """Whether this process is in the terminal's foreground group (so COMMAND got it too)."""
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (OSError, ValueError, AttributeError):
        return False


def print_report(carbon_dir: Path, launch: str, top: int) -> None:
    """One report across the runs this invocation made (sessions that record ``launch``:
    other jobs may write to the same carbon directory meanwhile)."""
    sessions = [p for p in session_files(carbon_dir) if _launched_by(p) == launch]
    notes = unmetered_notes(carbon_dir, launch)
    print(f"nipype-carbon run: carbon directory {carbon_dir}", file=sys.stderr)
    if not sessions and not notes:
        print("nipype-carbon run: no Nipype or Pydra run was metered", file=sys.stderr)
        return
    try:
        from nipype_carbon.report.formats import render_runs
        from nipype_carbon.report.model import build_report

        reports, unreadable = [], []
        for path in sessions:  # one run that cannot be read never hides the others
            try:
                reports.append(build_report(path))
            except Exception as err:
                unreadable.append(f"{path.name}: {type(err).__name__}: {err}")
        text = render_runs(reports, top=top, unmetered=notes, unreadable=unreadable)
        print(text, end="", file=sys.stderr)
    except Exception as err:  # the command's status matters more than our report
        print(error_line("run", RuntimeError(f"report not rendered: {err}")), file=sys.stderr)
    for path in sessions:
        print(f"session: {path}", file=sys.stderr)


def _launched_by(path: Path) -> str | None:
    """The invocation a session file's header names (``None`` for any other run)."""
    metadata = session_header(path).get("metadata")
    value = metadata.get("launched_by") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) else None
