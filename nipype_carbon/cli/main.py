"""Dispatch ``nipype-carbon <command>`` to the module of that command.

Errors a user can fix (a missing run, a corrupt session, an unknown region)
are printed as one line on stderr with a non-zero exit, not a traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence

from nipype_carbon._version import __version__

#: command name -> (module, one-line help)
COMMANDS = {
    "doctor": (
        "nipype_carbon.cli.doctor",
        "what this machine can measure, and the model's constants",
    ),
    "regions": ("nipype_carbon.cli.regions", "grid regions shipped, with intensity and source"),
    "report": ("nipype_carbon.cli.report", "hottest nodes, totals and method of a saved run"),
    "collect": ("nipype_carbon.cli.collect", "gather records that arrived after a run returned"),
    "graph": (
        "nipype_carbon.cli.graph",
        "the workflow graph coloured by emissions (svg, png, dot)",
    ),
    "compare": ("nipype_carbon.cli.compare", "compare runs of alternative pipelines"),
    "run": ("nipype_carbon.cli.run", "meter an app you cannot edit: run -- COMMAND [ARGS...]"),
    "study": ("nipype_carbon.cli.study", "every run under folders as one study: subjects, steps"),
}

USAGE = "usage: nipype-carbon [--version] <command> [options]\n\ncommands:\n" + "".join(
    f"  {name:<10} {help_}\n" for name, (_, help_) in COMMANDS.items()
)


#: exit status when stdout was closed early (``nipype-carbon report RUN | head``): 128 + SIGPIPE,
#: what a shell tool killed by the signal reports
CLOSED_PIPE_STATUS = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status.

    A reader that stops early (``| head``) ends the command quietly with status 141, without
    a traceback or "[Errno 32] Broken pipe".
    """
    try:
        status = _dispatch(argv)
        sys.stdout.flush()  # here, where a closed pipe can still be caught
    except BrokenPipeError:
        # Python would try to flush stdout again at exit and complain: point it at devnull
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return CLOSED_PIPE_STATUS
    return status


def _dispatch(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "--version":
        print(f"nipype-carbon {__version__}")
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"nipype-carbon: unknown command {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    status: int = module.main(rest)
    return status
