"""Options shared by the commands that render saved runs: grid, PUE, idle mode."""

from __future__ import annotations

import argparse

from nipype_carbon.record.settings import IDLE_MODES
from nipype_carbon.reference.grids import UnknownRegionError


def add_render_options(parser: argparse.ArgumentParser, idle: bool = True, scope: str = "") -> None:
    """``--region`` or ``--intensity``, ``--pue`` and (optionally) ``--idle``.

    They override what the run recorded; ``scope`` is added to the help (" for every run").
    """
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--region", help=f"grid region{scope}, ISO code (GB, CA-QC, US-CA, WORLD)")
    grid.add_argument("--intensity", type=float, help=f"grid intensity{scope}, gCO2e/kWh")
    parser.add_argument("--pue", type=float, help=f"power usage effectiveness{scope} (>= 1.0)")
    if idle:
        parser.add_argument("--idle", choices=IDLE_MODES, help="baseline power: apart or shared")


def error_line(command: str, err: BaseException) -> str:
    """One line for stderr: ``nipype-carbon COMMAND: message``, with a region error phrased
    for the command line (``--intensity``, not the setting ``intensity_g_per_kwh``)."""
    if isinstance(err, UnknownRegionError):
        err = err.for_cli()
    return f"nipype-carbon {command}: {' '.join(str(err).split())}"
