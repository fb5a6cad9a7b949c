# ruff: noqa: E501 - markdown table rows are one line each
"""The text of ``docs/comparison.md``, around the tables ``benchmarks/trackers/compare.py`` measured.

The tables are generated from the saved results; the prose states what was read in each
peer's installed source (file and constant), in the venvs ``tracker_venvs.py`` makes.
"""

from __future__ import annotations

from typing import Any

from benchmarks.trackers.table import (
    COMMON_INTENSITY_G_PER_KWH,
    COMMON_PUE,
    REFERENCE,
    idle_table,
    measured_table,
    model_table,
    node_error_table,
    summarise,
)

#: each tool's fallback when it finds no counter, as read in its installed source
FALLBACKS = """\
| tool | what it assumes without a counter (file: constant) |
|---|---|
| nipype-carbon | `nipype_carbon/measure/meters/utilisation.py`: rated power from its CPU table, else `DEFAULT_TDP_PER_CPU_W = 10.0` W per logical CPU (20 W here); idle `DEFAULT_CPU_IDLE_FRACTION = 0.3` of rated (6 W); the rest in proportion to busy CPU (7 J per busy CPU-second here); memory `DEFAULT_MEMORY_W_PER_GB = 0.3725` W per installed GB (Green Algorithms). Labelled `model`. |
| CodeCarbon 3.3.2 | `codecarbon/core/cpu.py`: a CPU not in its table ("AMD EPYC" here) gets `DEFAULT_POWER_PER_CORE = 4` W per thread (8 W); then `cpu_load` mode, `codecarbon/external/hardware.py`: machine mode `TDP x (0.1 + 0.9 x load^3)` of the machine's CPU load; process mode the process tree's CPU-time deltas between samples, normalised by the CPU count. RAM, `codecarbon/external/ram.py`: `RAM_SLOT_POWER_X86 = 5` W per DIMM, DIMMs guessed from installed memory (20 W here, "4 DIMMs"), in process mode scaled by the tree's share of memory. |
| Carbontracker 2.4.7 | `carbontracker/components/cpu/generic.py`: the CPU brand matched by substring in `carbontracker/data/cpu_power.csv` ("AMD EPYC" matched "AMD EPYC 7232P", 120 W), half of it (60 W, "50% utilization") whatever the load; no RAM. Every figure times `PUE_2023 = 1.58` (`carbontracker/constants.py`); offline, `WORLD_AVG_CARBON_INTENSITY = 445` g/kWh. |
| eco2ai 0.3.12 | `eco2ai/tools/tools_cpu.py`: never reads RAPL: `TDP x CPU% x cpu_num x dt`, the CPU% from one `top -b -n1` snapshot per `measure_period` (10 s), of the main process only (`cpu_processes="current"`) or summed over every process on the host (`"all"`); TDP from `eco2ai/data/cpu_names.csv` by fuzzy name ("AMD EPYC" took 500 W here), `CONSTANT_CONSUMPTION = 100.1` W when no name matches. RAM, `eco2ai/tools/tools_ram.py`: 3/8 W per GB used. |
| experiment-impact-tracker 0.1.8 | No model: power only from RAPL (`experiment_impact_tracker/cpu/intel.py`) and NVML, times `PUE = 1.58` (`emissions/constants.py`). Its region, needed before it measures anything, comes from `geocoder.ip('me')` (`emissions/get_region_metrics.py`, `get_current_location`); 0.1.8 has no option to give it. |
"""

FEATURES = """\
| | nipype-carbon | CodeCarbon | Carbontracker | eco2ai | experiment-impact-tracker |
|---|---|---|---|---|---|
| per-node attribution | yes (each node, command-line children included) | no (one process or machine; `start_task` spans are marked by hand in one process) | no | no | no |
| per-interface totals | yes | no | no | no | no |
| workflow graph | yes (SVG coloured by energy) | no | no | no | no |
| what-if region / PUE without re-running | yes (`report --region/--intensity/--pue`) | no (recompute by hand from its energy) | no | no | no |
| HTML report | yes (one self-contained file) | a dashboard (separate extra) | PDF (`pdfreport` extra) | no (CSV) | yes (`create-compute-appendix`) |
| SLURM | yes (nodes as jobs, merged per host) | per job; warns when several ranks meter one node | no | no | no |
| GPU | NVML, or a declared GPU model | NVML (+ AMD) | NVML | NVML | NVML |
| root needed | no; RAPL needs read access to `energy_uj` (root by default) | same for RAPL | same for RAPL | no (never reads RAPL) | same for RAPL |
| offline | yes (offline grid table) | yes (`OfflineEmissionsTracker`) | yes (falls back to 445 g/kWh) | yes (`alpha_2_code`) | no (measured here: crashes without IP geolocation) |
"""


def _row(saved: dict[str, Any], tool: str, case: str = "rapl") -> dict[str, Any]:
    return summarise(saved["results"], tool, case)


def _j(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} J"


def why_totals_differ(saved: dict[str, Any]) -> str:
    """The reasons, with this run's figures where a figure says it."""
    nc, ccm, ccp = (
        _row(saved, t) for t in ("nipype-carbon", "codecarbon-machine", "codecarbon-process")
    )
    ct, eco, eco_all = (_row(saved, t) for t in ("carbontracker", "eco2ai", "eco2ai-all"))
    model = {
        t: _row(saved, t, "model")
        for t in ("nipype-carbon", "codecarbon-machine", "carbontracker", "eco2ai-all")
    }
    return f"""\
- **Same counter, same total.** Where a tool reads the (emulated) RAPL counter over its own
  window, its CPU energy is the truth to within its sampling: CodeCarbon machine mode
  {_j(ccm["read_j"])} against {_j(ccm["truth_j"])}, nipype-carbon {_j(nc["read_j"])} against
  {_j(nc["truth_j"])} over `wf.run` (its own window is the session's, from its first reading to
  its last), Carbontracker {_j(ct["read_j"])} against {_j(ct["truth_j"])} (its figure divided by
  its built-in PUE 1.58; it integrates power sampled during the epoch). What differs is what they add: CodeCarbon adds a modelled RAM power
  (its total {_j(ccm["energy_j"])}), nipype-carbon the modelled memory of what the nodes held.
- **"Process" does not mean the process's share when RAPL is read.** CodeCarbon's process mode
  read the same package counter ({_j(ccp["read_j"])} against {_j(ccp["truth_j"])}): RAPL has no
  per-process counter, and it charges the whole package to the process. Only nipype-carbon splits
  the measured energy among the processes that did the work (by busy CPU time per interval) and
  keeps other processes' share apart.
- **Sampling misses workers.** eco2ai reads `top` once per 10 s for the main process only: the
  MultiProc workers and MRtrix3 children never appear ({_j(eco["energy_j"])} in the main
  process); with `cpu_processes="all"` it charges every process on the host at the rated
  power it looked up ({_j(eco_all["energy_j"])}).
- **Without a counter the constants decide.** Model-only totals: nipype-carbon
  {_j(model["nipype-carbon"]["energy_j"])}, CodeCarbon (machine)
  {_j(model["codecarbon-machine"]["energy_j"])}, Carbontracker {_j(model["carbontracker"]["energy_j"])}
  (before its PUE), eco2ai (all processes) {_j(model["eco2ai-all"]["energy_j"])}; the table of
  fallbacks below says which constant gives each.
- **Grid and PUE.** Each tool's own CO2e uses its own intensity (CodeCarbon and eco2ai the
  country's, Carbontracker 445 g/kWh offline) and PUE (Carbontracker and
  experiment-impact-tracker 1.58, built in). The CO2e column re-expresses every tool's energy at
  {COMMON_INTENSITY_G_PER_KWH:g} g/kWh and PUE {COMMON_PUE:g}, so the columns compare energy.
"""


def passes_note(saved: dict[str, Any]) -> str:
    """The commands that actually made this page's figures, where it took more than one."""
    passes = saved.get("passes")
    if not passes:
        return ""
    listed = "\n".join(f"    {p}" for p in passes)
    return f"\n\nThis page's figures were measured in {len(passes)} passes into one results file:\n\n{listed}"


def plain_spread(results: list[dict[str, Any]]) -> str:
    """How much plain MultiProc's process tree CPU varied: the noise floor of the overheads."""
    cpu = sorted(
        r["tree_cpu_s"]
        for r in results
        if r["tool"] == REFERENCE and r["case"] == "rapl" and "error" not in r
    )
    if not cpu:
        return ""
    return (
        f"Plain MultiProc's process tree used {cpu[0]:.1f} to {cpu[-1]:.1f} CPU-s over its "
        f"{len(cpu)} run(s) on this shared host: a *tool's CPU s* within that spread is noise "
        "(the workflow's own CPU time varies with the other jobs' contention). The tools' own "
        "cost is measured apart below."
    )


def own_cpu_section(saved: dict[str, Any]) -> str:
    """Each peer's own CPU around a sleep, where the run measured it."""
    if not any(r["case"] == "idle" for r in saved["results"]):
        return ""
    return f"""### The tools' own CPU

Each peer started and stopped around a {saved.get("idle_s", 0):g}-s sleep instead of the
workflow (same namespace and emulated counter), once: the CPU of the harness's process tree from
just before the tool's start to just after its stop, less that of the harness alone. It includes
each tool's start (hardware detection) and stop, so it is not a rate. nipype-carbon meters nodes, so it has no such run: its cost
is per node ([performance](performance.md): about 1.4 ms of latency and 0.03 ms of sampler CPU
per node, measured by `benchmarks/cost/overhead.py`).

{idle_table(saved["results"])}
"""


def comparison_doc(saved: dict[str, Any]) -> str:
    """The whole page, from the saved results of one benchmark run."""
    results = saved["results"]
    truth = saved["truth"]
    loads = sorted(r["load_1min_before"] for r in results if "load_1min_before" in r)
    load = (
        f" Load average (1 min) before each run: median {loads[len(loads) // 2]:.1f}, "
        f"{loads[0]:.1f} to {loads[-1]:.1f}, on {saved['machine'].split(' ')[0]} CPUs."
        if loads
        else ""
    )
    repeats = saved["repeats"]
    minutes = saved.get("elapsed_s", 0) / 60
    return f"""# nipype-carbon and other carbon trackers, measured

<!-- Generated by `{saved["command"]}` (benchmarks/trackers/compare.py); do not edit by hand. -->

The working group this project serves compares carbon-footprinting tools for neuroimaging
pipelines. This page compares them on one real pipeline against a known truth: every figure
below was measured by the command at the end, on {saved["date"]}.

**Workload.** The DWI example (`examples/dwi_pipeline`), {saved["data"]}, under Nipype's
MultiProc with 2 processes; each peer wrapped around `wf.run` as its documentation says,
in its own virtual environment, with documented options only. Runs alternate across tools
(the order rotates each round), {repeats} round(s) with the emulated counter and
{saved["model_repeats"]} without.

**Truth.** Every run sees the same powercap emulator (`testkit/powercap.py`,
`LoadFollowingPowercap`) at `/sys/class/powercap`, in a private mount and network namespace
(`unshare --mount --net`: a tmpfs over `/sys/class`, the emulated tree bind-mounted there, laid
out as the kernel lays it out; no network, so "offline" is literal). Its package counter is
written every 5 ms as {truth["idle_w"]:g} W x elapsed time + {truth["j_per_cpu_s"]:g} J x busy
CPU-seconds of the whole host, parsed from `/proc/stat` by the emulator itself. The truth for a
run is that counter over the tool's window (read by the harness just after the tool's start and
just before its stop); for a nipype-carbon node, {truth["j_per_cpu_s"]:g} J x the node's CPU
seconds, as in [validation](validation.md).

**Machine.** {saved["machine"]}. The host was shared with other jobs while this ran: the truth
follows their load too (it is the machine's energy), and wall times and overheads carry their
noise.{load}

## Measured: every tool against the same emulated counter

Medians over the runs that finished. *tool's CPU s*: CPU time of the run's whole process tree
(the harness, the tool, the workflow's workers and their children, from `getrusage` and `/proc`)
less the median of plain MultiProc's, so within the run-to-run spread of plain MultiProc it is
noise. *energy*: the tool's own total without any PUE of its own (CPU, and RAM where it models
it). *CPU J it reports*: its CPU part, compared with the truth in *error* (median over runs, worst in
brackets). *CO2e*: the energy at {COMMON_INTENSITY_G_PER_KWH:g} g/kWh and PUE {COMMON_PUE:g}
for every tool. *method*: what the tool itself said it used.

{measured_table(results, "rapl")}

{plain_spread(results)}

### nipype-carbon per node

Each node's CPU energy against {truth["j_per_cpu_s"]:g} J x its CPU seconds (nodes of at least
0.5 CPU-s), with the baseline as the run found it and with `cpu_baseline_w` set to the
emulator's idle power (what `nipype-carbon doctor --calibrate` measures on the quiet emulated
host), re-attributed from the same sessions. On a host busy throughout, nothing measured can
tell the baseline from busy power; [validation](validation.md) shows what the rated fallback
costs.

{node_error_table(results)}

{own_cpu_section(saved)}
## Model only: no counter

The same runs with no `/sys/class/powercap`: each tool falls back on its constants. There is no
truth to compare with: these columns show how far constants alone spread the totals.

{model_table(results) if any(r["case"] == "model" for r in results) else "(Not run: `--no-model`.)"}

{FALLBACKS}
## Why the totals differ

{why_totals_differ(saved)}
## Features

{FEATURES}
## Reproduce

As root (the mount namespace), from the repository root, in the project's environment:

```console
$ {saved["command"]}
```

The script makes each peer's environment once (`benchmarks/trackers/venvs.py`, cached under
`~/.cache/nipype-carbon-trackers`; pins and why in that file) and took {minutes:.0f} minutes
here. `--quick` runs the small data once; `--from-results FILE --write-docs` re-renders this
page from a saved `--results FILE` (this page's: `benchmarks/results/trackers.json`).{passes_note(saved)}
"""
