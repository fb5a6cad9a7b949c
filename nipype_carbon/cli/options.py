"""Options shared by the commands: grid, PUE, idle mode, and numbers checked as they are parsed.

Examples
--------
>>> top = whole_number(1, 10_000)
>>> top("15")
15
>>> top("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a whole number from 1 to 10,000, got '0'
>>> number_in(1.0, 3600.0, " s")("nan")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a number from 1 to 3,600 s, got 'nan'
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.record.settings import IDLE_MODES, check_number
from nipype_carbon.reference.grids import UnknownRegionError
from nipype_carbon.report.escape import visible

#: most rows a table may be asked to list (``--top``), and most subjects to project over
MAX_ROWS = 100_000
MAX_COHORT = 10_000_000


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``; else one line
    (argparse names the option: ``argument --top: must be a whole number from 1 to ...``)."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"must be a whole number from {low:,} to {high:,}, got {text!r:.40}"
            )
        return value

    return parse


def number_in(low: float, high: float, unit: str = "") -> Callable[[str], float]:
    """An argparse ``type``: a finite number from ``low`` to ``high`` (``unit`` after it)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(
                f"must be a number from {low:,g} to {high:,g}{unit}, got {text!r:.40}"
            )
        return value

    return parse


def check_render_options(args: argparse.Namespace) -> None:
    """Refuse a non-finite or out-of-range ``--pue`` or ``--intensity`` (one-line SettingsError)."""
    if getattr(args, "pue", None) is not None:
        check_number("--pue", args.pue, "pue")
    if getattr(args, "intensity", None) is not None:
        check_number("--intensity", args.intensity, "intensity_g_per_kwh")


def add_render_options(parser: argparse.ArgumentParser, idle: bool = True, scope: str = "") -> None:
    """``--region`` or ``--intensity``, ``--pue`` and (optionally) ``--idle``.

    They override what the run recorded; ``scope`` is added to the help (" for every run").
    """
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--region", help=f"grid region{scope}, ISO code (GB, CA-QC, US-CA, WORLD)")
    grid.add_argument(
        "--intensity",
        type=float,
        help=f"grid intensity{scope}, gCO2e/kWh (0-2,000)",
    )
    parser.add_argument("--pue", type=float, help=f"power usage effectiveness{scope} (1.0-3.0)")
    if idle:
        parser.add_argument("--idle", choices=IDLE_MODES, help="baseline power: apart or shared")


def error_line(command: str, err: BaseException) -> str:
    """One line for stderr: ``nipype-carbon COMMAND: message``, with a region error phrased
    for the command line (``--intensity``, not the setting ``intensity_g_per_kwh``); what the
    message quotes of a session (a name, a damaged line) holds no control sequence."""
    cause = err.__cause__
    if isinstance(err, UnknownRegionError):
        err = err.for_cli()
    elif isinstance(err, NipypeCarbonError) and isinstance(cause, UnknownRegionError):
        err = cause.for_cli()  # a setting refused for its region: said as the option
    return f"nipype-carbon {command}: {visible(' '.join(str(err).split()))}"


#: what a session this version did not foresee can raise deep in attribution or rendering
UNFORESEEN = (KeyError, IndexError, TypeError, AttributeError, ArithmeticError)


def unforeseen(run: object, err: BaseException) -> str:
    """One line for an error a session's checks did not foresee (no traceback)."""
    return visible(
        f"cannot render {run}: {type(err).__name__}: {err} (the session holds something this "
        "version does not expect: check it with `python3 -m json.tool` line by line, or report it)"
    )
