"""A Pydra 1.0 script that knows nothing of nipype-carbon: a two-step workflow on ``cf``.

Usage: python pydra_app.py CACHE_ROOT [--worker cf|debug]

Each step spends a known amount of CPU in its worker (the test's truth).
"""

from __future__ import annotations

import argparse
import sys

from pydra.compose import python, workflow
from pydra.engine.submitter import Submitter

#: CPU seconds each step spends
STEP_CPU_S = 0.4


@python.define
def Spend(seconds: float, step: str) -> float:
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


@workflow.define
def TwoSteps(seconds: float) -> float:
    first = workflow.add(Spend(seconds=seconds, step="first"), name="first")
    second = workflow.add(Spend(seconds=first.out, step="second"), name="second")
    return second.out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pydra_app")
    parser.add_argument("cache_root")
    parser.add_argument("--worker", default="cf")
    args = parser.parse_args(argv)
    options = {"n_procs": 2} if args.worker == "cf" else {}
    with Submitter(worker=args.worker, cache_root=args.cache_root, **options) as sub:
        result = sub(TwoSteps(seconds=STEP_CPU_S))
    print("pydra_app: done; nipype_carbon loaded:", "nipype_carbon" in sys.modules)
    return 1 if result.errored else 0


if __name__ == "__main__":
    sys.exit(main())
