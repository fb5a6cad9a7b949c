"""A small workflow run in a child process, for the fault tests to kill.

``python -m tests.faults.driver PLUGIN BASE_DIR`` runs, under ``Carbon<PLUGIN>``, the
chain ``quick`` (0.2 s of CPU) -> ``slow`` (writes its process id to ``BASE_DIR/slow.pid``,
then sleeps two minutes) -> ``after``. The test waits for ``quick``'s result
and ``slow``'s pid file, then kills what it chooses.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nipype.pipeline.engine as pe
from nipype.interfaces.utility import Function

import nipype_carbon  # noqa: F401 - registers the Carbon<Name> plugins with nipype
from tests.plugin.workflows import burn, burn_node, fast

SLOW_S = 120


def sleep_long(pid_file, _):  # type: ignore[no-untyped-def]
    """Say where this node runs, then outlast the test."""
    import os
    import time

    with open(pid_file + ".tmp", "w") as handle:
        handle.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    time.sleep(120)
    return 0


def workflow(base_dir: Path) -> pe.Workflow:
    wf = fast(pe.Workflow("victim", base_dir=str(base_dir)))
    slow = pe.Node(Function(["pid_file", "_"], ["out"], sleep_long), name="slow")
    slow.inputs.pid_file = str(base_dir / "slow.pid")
    after = pe.Node(Function(["seconds"], ["out"], burn), name="after")
    wf.connect(
        [(burn_node("quick", 0.2), slow, [("out", "_")]), (slow, after, [("out", "seconds")])]
    )
    return wf


def main() -> None:
    plugin, base_dir = sys.argv[1], Path(sys.argv[2])
    args = {"n_procs": 2} if plugin == "MultiProc" else {}
    workflow(base_dir).run(plugin=f"Carbon{plugin}", plugin_args={**args, "region": "GB"})


if __name__ == "__main__":
    main()
