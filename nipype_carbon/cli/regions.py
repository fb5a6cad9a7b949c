"""``nipype-carbon regions [SEARCH]``: the grid zones shipped, their intensity and source.

SEARCH is a code, a name or part of one, in any case; the zone it names comes first (``US``:
the United States, then its states; ``UK``: Great Britain), then zones whose code or name
starts with it, then those that contain it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nipype_carbon.reference.grids import search_regions


def _suggest(search: str) -> str:
    """The zones closest to a search that matched none, by code and by name."""
    import difflib

    from nipype_carbon.reference.grids import intensity_table

    table = intensity_table()
    by_name = {grid.name.lower(): code for code, grid in table.items()}
    close = difflib.get_close_matches(search.upper(), list(table), n=3)
    close += [by_name[n] for n in difflib.get_close_matches(search.lower(), list(by_name), n=3)]
    found = ", ".join(f"{code} ({table[code].name})" for code in dict.fromkeys(close))
    hint = f"closest: {found}" if found else "give a country code (GB, FR) or part of a name"
    return f"{hint}; `nipype-carbon regions` lists every zone"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nipype-carbon regions", description=__doc__)
    parser.add_argument(
        "search", nargs="?", help="a code or name (or part of one): the zone it names first"
    )
    args = parser.parse_args(argv)
    rows = search_regions(args.search or "")
    if not rows:
        print(
            f"nipype-carbon regions: no zone matches {args.search!r}; {_suggest(args.search)}",
            file=sys.stderr,
        )
        return 1
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
