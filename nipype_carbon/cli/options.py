"""Options shared by the commands that render saved runs: grid, PUE, idle mode."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from nipype_carbon.record.settings import IDLE_MODES, SettingsError, check_number


def _number(key: str) -> Callable[[str], float]:
    """An argparse type: a finite number within the setting's accepted range."""

    def convert(text: str) -> float:
        try:
            return check_number(key, text)
        except SettingsError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    return convert


def add_render_options(parser: argparse.ArgumentParser, idle: bool = True, scope: str = "") -> None:
    """``--region`` or ``--intensity``, ``--pue`` and (optionally) ``--idle``.

    They override what the run recorded; ``scope`` is added to the help (" for every run").
    """
    grid = parser.add_mutually_exclusive_group()
    grid.add_argument("--region", help=f"grid region{scope}, ISO code (GB, CA-QC, US-CA, WORLD)")
    grid.add_argument(
        "--intensity",
        type=_number("intensity_g_per_kwh"),
        help=f"grid intensity{scope}, gCO2e/kWh (0-2,000)",
    )
    parser.add_argument(
        "--pue", type=_number("pue"), help=f"power usage effectiveness{scope} (1.0-3.0)"
    )
    if idle:
        parser.add_argument("--idle", choices=IDLE_MODES, help="baseline power: apart or shared")
