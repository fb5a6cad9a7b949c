"""One run of the DWI example under one tracker; prints one JSON line. Run by trackers.py.

Runs in the tool's own environment (a peer's venv, or the project's for plain MultiProc
and CarbonMultiProc), inside the private mount namespace that ``trackers.py`` sets up.
Each peer is wrapped around ``wf.run`` as its documentation shows, with documented
options only. Around the tracker's start and stop this script reads the emulated
package counter (the truth, when there is one) and the CPU time of its own process tree.

    python tracker_run.py TOOL --data-dir D --work-dir W [--n-procs 2] [--intensity G]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

COUNTER = Path("/sys/class/powercap/intel-rapl:0/energy_uj")
J_PER_KWH = 3.6e6


def counter_j() -> float | None:
    """The emulated package counter (joules), or None where there is none."""
    try:
        return int(COUNTER.read_text()) / 1e6
    except OSError:
        return None


def descendants_cpu_s(root: int) -> float:
    """CPU seconds (user + system) of the live descendants of ``root``, from /proc."""
    parent, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        children = [p for p, pp in parent.items() if pp == pid]
        total += sum(cpu[p] for p in children)
        todo.extend(children)
    return total


def tree_cpu_s() -> float:
    """CPU seconds of this process, its reaped children and its live descendants."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = descendants_cpu_s(os.getpid())
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + live


class Plain:
    """No tracker: the reference run."""

    plugin = "MultiProc"

    def __init__(self, out: Path, args: argparse.Namespace) -> None:
        self.out, self.args = out, args

    def start(self) -> None:
        pass

    def stop(self) -> dict[str, Any]:
        return {}


class NipypeCarbon(Plain):
    """CarbonMultiProc: the plugin name is the only change; the driver reads the session."""

    plugin = "CarbonMultiProc"


class CodeCarbon(Plain):
    """CodeCarbon's documented offline tracker (``OfflineEmissionsTracker``)."""

    mode = "machine"

    def start(self) -> None:
        from codecarbon import OfflineEmissionsTracker

        self.tracker = OfflineEmissionsTracker(
            country_iso_code=self.args.country3,
            tracking_mode=self.mode,
            output_dir=str(self.out),
            save_to_file=True,
        )
        self.tracker.start()

    def stop(self) -> dict[str, Any]:
        kg = self.tracker.stop()
        data = self.tracker.final_emissions_data
        return {
            "energy_j": data.energy_consumed * J_PER_KWH,
            "cpu_j": data.cpu_energy * J_PER_KWH,
            "ram_j": data.ram_energy * J_PER_KWH,
            "own_co2_g": (kg or 0.0) * 1000,
            "own_intensity": "country " + self.args.country3,
            "method": "; ".join(self.tracker._conf.get("hardware", [])),  # its own words
        }


class CodeCarbonProcess(CodeCarbon):
    mode = "process"


class Carbontracker(Plain):
    """Carbontracker's documented use: one epoch around the work, logs parsed with its parser."""

    def start(self) -> None:
        from carbontracker.tracker import CarbonTracker

        self.logdir = self.out / "ct-logs"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.tracker = CarbonTracker(
            epochs=1, monitor_epochs=1, epochs_before_pred=0, log_dir=str(self.logdir),
            verbose=0, components="cpu",
        )  # fmt: skip
        self.tracker.epoch_start()

    def stop(self) -> dict[str, Any]:
        from carbontracker import constants, parser

        self.tracker.epoch_end()
        self.tracker.stop()
        logs = parser.parse_all_logs(log_dir=str(self.logdir))
        actual = logs[-1]["actual"] if logs else None
        if not actual:
            raise RuntimeError(f"carbontracker wrote no 'actual' figures: {logs!r}")
        # its energy includes its built-in PUE (tracker.total_energy_per_epoch)
        pue = constants.PUE_2023
        return {
            "energy_j": actual["energy (kWh)"] * J_PER_KWH / pue,
            "energy_with_own_pue_j": actual["energy (kWh)"] * J_PER_KWH,
            "own_pue": pue,
            "own_co2_g": actual["co2eq (g)"],
            "own_intensity": "its default (offline)",
            "method": self.components_found(),
        }

    def components_found(self) -> str:
        """Its own words: the output log's 'components were found' line."""
        for log in self.logdir.glob("*_output.log"):
            for line in log.read_text().splitlines():
                if "components were found" in line:
                    return line.split("CarbonTracker: ", 1)[-1].strip()
        return "not logged"


class Eco2ai(Plain):
    """eco2ai's documented ``Tracker`` with a fixed region (no IP lookup)."""

    processes = "current"

    def start(self) -> None:
        import eco2ai

        self.csv = self.out / "eco2ai.csv"
        self.tracker = eco2ai.Tracker(
            project_name="nipype-carbon-comparison", experiment_description="dwi example",
            file_name=str(self.csv), alpha_2_code=self.args.country2, pue=1,
            cpu_processes=self.processes, ignore_warnings=True,
        )  # fmt: skip
        self.tracker.start()

    def stop(self) -> dict[str, Any]:
        import csv

        self.tracker.stop()
        with open(self.csv) as handle:
            row = list(csv.DictReader(handle))[-1]
        return {
            "energy_j": float(row["power_consumption(kWh)"]) * J_PER_KWH,
            "own_co2_g": float(row["CO2_emissions(kg)"]) * 1000,
            "own_intensity": "region " + self.args.country2,
            "method": "model (TDP x top's CPU%; it has no RAPL reader)",
        }


class Eco2aiAll(Eco2ai):
    processes = "all"


class ImpactTracker(Plain):
    """experiment-impact-tracker's documented ``ImpactTracker`` and ``DataInterface``."""

    def start(self) -> None:
        from experiment_impact_tracker.compute_tracker import ImpactTracker

        self.logdir = self.out / "eit"
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.tracker = ImpactTracker(str(self.logdir))
        self.tracker.launch_impact_monitor()

    def stop(self) -> dict[str, Any]:
        # 0.1.8 has no stop(): its atexit hook terminates the monitor and logs the final
        # info; the figures come from utils.gather_additional_info, as its appendix script does
        from experiment_impact_tracker.data_utils import load_initial_info, log_final_info
        from experiment_impact_tracker.utils import gather_additional_info

        self.tracker.p.terminate()
        log_final_info(str(self.logdir))
        extra = gather_additional_info(load_initial_info(str(self.logdir)), str(self.logdir))
        return {
            "energy_j": extra["total_power"] * J_PER_KWH,
            "own_co2_g": extra["estimated_carbon_impact_kg"] * 1000,
            "own_intensity": "its own IP-based lookup",
        }


TOOLS: dict[str, type[Plain]] = {
    "MultiProc": Plain,
    "nipype-carbon": NipypeCarbon,
    "codecarbon-machine": CodeCarbon,
    "codecarbon-process": CodeCarbonProcess,
    "carbontracker": Carbontracker,
    "eco2ai": Eco2ai,
    "eco2ai-all": Eco2aiAll,
    "experiment-impact-tracker": ImpactTracker,
}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from examples.dwi_pipeline.run import configure, plugin_args_for
    from examples.dwi_pipeline.workflow import build_workflow

    out = Path(args.work_dir)
    tool = TOOLS[args.tool](out / "tool", args)
    tool.out.mkdir(parents=True, exist_ok=True)
    wf = build_workflow(Path(args.data_dir), out / "work", nthreads=1)
    plugin_args = plugin_args_for(tool.plugin, args.n_procs, {})
    configure(wf, out, plugin_args)
    found: dict[str, Any] = {"tool": args.tool, "pid": os.getpid()}
    c0, t0 = tree_cpu_s(), time.perf_counter()
    e0 = e1 = w0 = w1 = None
    stage = "start"
    try:
        tool.start()
        # the tool's window: from its start to its stop (the truth is read at both ends)
        e0, w0, stage = counter_j(), time.perf_counter(), "the workflow"
        if args.idle_s:  # the tool's own cost: around a sleep, no workflow
            time.sleep(args.idle_s)
        else:
            wf.run(plugin=tool.plugin, plugin_args=plugin_args)
        e1, w1, stage = counter_j(), time.perf_counter(), "stop"
        found.update(tool.stop())
    except BaseException as err:  # a peer's failure is a result, not a crash of the benchmark
        found["error"] = f"in {stage}: {type(err).__name__}: {err}"
        found["traceback"] = traceback.format_exc(limit=-4)
    t1, c1 = time.perf_counter(), tree_cpu_s()
    found.update(wall_s=t1 - t0, tree_cpu_s=c1 - c0, carbon_dir=str(out / "work"))
    if w0 is not None and w1 is not None:
        found["window_s"] = w1 - w0
    if e0 is not None and e1 is not None:
        found["truth_j"] = e1 - e0
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tool", choices=list(TOOLS))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--n-procs", type=int, default=2)
    p.add_argument("--idle-s", type=float, default=0.0, help="sleep this long, no workflow")
    p.add_argument("--country2", default="GB")
    p.add_argument("--country3", default="GBR")
    args = p.parse_args(argv)
    import logging

    from nipype import config
    from nipype import logging as nipype_logging

    config.set("logging", "workflow_level", "ERROR")
    nipype_logging.update_logging(config)
    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    print("TRACKER-RESULT " + json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
