"""``nipype-carbon report RUN``: the hottest nodes, totals, method and region of a saved run.

RUN is a carbon directory (its newest session) or a session file. Region,
intensity and PUE given here override those recorded with the run: "what if
this ran in Quebec?" needs no re-run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from nipype_carbon.carbon import resolve_intensity
from nipype_carbon.session import SessionError, load_session
from nipype_carbon.settings import CarbonSettings, SettingsError
from nipype_carbon.summary import summarize


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="nipype-carbon report", description=__doc__)
    p.add_argument("run", help="carbon directory or session file")
    grid = p.add_mutually_exclusive_group()
    grid.add_argument("--region", help="grid region, ISO code (GB, CA-QC, US-CA, WORLD)")
    grid.add_argument("--intensity", type=float, help="grid intensity, gCO2e/kWh")
    p.add_argument("--pue", type=float, help="power usage effectiveness (>= 1.0)")
    p.add_argument("--top", type=int, default=10, help="hottest nodes to list (default 10)")
    p.add_argument("--idle", choices=("separate", "shared"), help="baseline power: apart or shared")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        session = load_session(args.run)
        recorded = {k: v for k, v in session.settings.items() if k in CarbonSettings.names()}
        given = {"region": args.region, "intensity_g_per_kwh": args.intensity, "pue": args.pue}
        if args.region or args.intensity is not None:
            recorded.pop("region", None)
            recorded.pop("intensity_g_per_kwh", None)
        if args.idle:
            recorded["idle"] = args.idle
        settings = CarbonSettings.from_mapping(
            {**recorded, **{k: v for k, v in given.items() if v is not None}}, env={}
        )
        grid = resolve_intensity(settings.region, settings.intensity_g_per_kwh)
    except (SessionError, SettingsError, ValueError) as err:
        print(f"nipype-carbon report: {err}", file=sys.stderr)
        return 2
    print(summarize(session, grid, settings.pue, settings.idle, top=args.top))
    print(f"session: {session.path}")
    return 0
