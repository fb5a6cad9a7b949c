"""Options shared by the commands that render saved runs: grid, PUE, idle mode."""

from __future__ import annotations

import argparse

from nipype_carbon.record.settings import IDLE_MODES, check_number
from nipype_carbon.reference.grids import UnknownRegionError


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
    for the command line (``--intensity``, not the setting ``intensity_g_per_kwh``)."""
    if isinstance(err, UnknownRegionError):
        err = err.for_cli()
    return f"nipype-carbon {command}: {' '.join(str(err).split())}"


#: what a session this version did not foresee can raise deep in attribution or rendering
UNFORESEEN = (KeyError, IndexError, TypeError, AttributeError, ArithmeticError)


def unforeseen(run: object, err: BaseException) -> str:
    """One line for an error a session's checks did not foresee (no traceback)."""
    return (
        f"cannot render {run}: {type(err).__name__}: {err} (the session holds something this "
        "version does not expect: check it with `python3 -m json.tool` line by line, or report it)"
    )
