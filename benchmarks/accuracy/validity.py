"""Per-node error of attribution against a powercap emulator, on a quiet and a loaded host.

The emulator's package counter follows the host's real load: 12 W idle plus
9 J per busy CPU-second of the whole host (from /proc/stat), so a node's true
CPU energy is 9 J x its CPU seconds and the true baseline 12 W. A workflow with
known costs (a 2.0 CPU-s task, a command-line child burning 1.0 CPU-s, and, for
Nipype, a sleeping node in the driving process) runs under CarbonLinear,
CarbonMultiProc and Pydra's carbon worker (cf), in three host states:

- ``quiet+load``: quiet before the run, two CPU-bound processes from 1.5 s in;
- ``loaded+calibrated``: two CPU-bound processes throughout, ``cpu_baseline_w`` set
  to the idle power measured on a quiet host;
- ``loaded``: busy throughout, no calibration: the baseline cannot be seen, and the
  figure shows what the labelled fallback (the rated idle power) costs.

Prints, per case, the median and worst relative error of each node's CPU energy
and of the baseline. Run from the repository root:

    python -m benchmarks.accuracy.validity --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("NO_ET", "1")  # Pydra's version check would reach the network

from testkit.scenario import (
    IDLE_W,
    LOAD_AFTER_S,
    errors,
    host_utilisation,
    run_nipype,
    run_pydra,
)

STATES = {
    "quiet+load": (LOAD_AFTER_S, {}),
    "loaded+calibrated": (0.0, {"cpu_baseline_w": IDLE_W}),
    "loaded": (0.0, {}),
}
ENGINES = ("CarbonLinear", "CarbonMultiProc", "pydra cf")


def one_run(engine: str, state: str) -> dict[str, float]:
    load_after_s, settings = STATES[state]
    with tempfile.TemporaryDirectory() as tmp:
        if engine == "pydra cf":
            carbon = run_pydra(Path(tmp), load_after_s, **settings)
        else:
            carbon = run_nipype(Path(tmp), engine, load_after_s, **settings)
        return errors(carbon)


def quiet_logs() -> None:
    """Keep the engines' progress logs out of the table."""
    import logging

    from nipype import config
    from nipype import logging as nipype_logging

    config.set("logging", "workflow_level", "ERROR")
    nipype_logging.update_logging(config)
    logging.getLogger("pydra").setLevel(logging.WARNING)


def main() -> int:
    quiet_logs()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--states", nargs="*", default=list(STATES), choices=list(STATES))
    args = p.parse_args()
    print(f"{'engine':<16} {'host':<18} {'what':<22} {'median err':>10} {'worst err':>10}")
    for state in args.states:
        for engine in ENGINES:
            found: dict[str, list[float]] = {}
            quiet_before = []
            for _ in range(args.repeats):
                if state == "quiet+load":
                    quiet_before.append(host_utilisation(1.0))
                for name, error in one_run(engine, state).items():
                    key = name.split(".")[-1] if not name.startswith("baseline") else name
                    found.setdefault(key, []).append(error)
            for name, values in sorted(found.items()):
                worst = max(values, key=abs)
                print(
                    f"{engine:<16} {state:<18} {name:<22} "
                    f"{statistics.median(values):>+10.1%} {worst:>+10.1%}"
                )
            if quiet_before:
                print(f"{'':<16} {'':<18} (host busy before: {max(quiet_before):.0%} at most)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
