"""``nipype-carbon regions``: the grid zones shipped, their intensity and source."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from nipype_carbon.reference.grids import intensity_table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nipype-carbon regions", description=__doc__)
    parser.add_argument("search", nargs="?", help="only zones whose code or name contains this")
    args = parser.parse_args(argv)
    wanted = (args.search or "").lower()
    rows = [
        grid
        for grid in intensity_table().values()
        if wanted in grid.region.lower() or wanted in grid.name.lower()
    ]
    print(f"{'zone':<7} {'gCO2e/kWh':>9}  {'year':<4}  name  [source; licence]")
    for grid in rows:
        print(
            f"{grid.region:<7} {grid.intensity_g_per_kwh:>9.1f}  {grid.year:<4}  {grid.name}  "
            f"[{grid.source}; {grid.licence}]"
        )
    print(
        f"\n{len(rows)} zone(s). Data: nipype_carbon/reference/data/README.md "
        "(CC BY 4.0 needs attribution)."
    )
    return 0
