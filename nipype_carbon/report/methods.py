"""A methods paragraph, ready for a paper: how every number was obtained.

It names the tool and version, how each energy component was obtained
(measured by RAPL or NVML, or modelled, with the model's constants), the
hardware, region and intensity source, PUE, runtime, energy, CO2e and everyday
equivalents with their cited constants.
"""

from __future__ import annotations

from typing import Any

from nipype_carbon.report.equivalents import sentence
from nipype_carbon.report.model import Report
from nipype_carbon.report.units import duration, emissions, energy
from nipype_carbon.report.vocabulary import DEFINITIONS, FULL_COST, RUN_ENERGY, node_count

MEASURED = {
    "rapl": "measured with the CPU's RAPL energy counters (Linux powercap interface)",
    "pyrapl": "measured with the CPU's RAPL energy counters (read through pyRAPL)",
    "nvml": "measured with NVIDIA's NVML (energy counters or power sampling)",
}


def _model_details(report: Report) -> dict[str, Any]:
    for host in report.hosts.values():
        constants = host.model
        if constants is not None:
            return {
                k: v
                for k, v in {
                    "cpu_tdp_w": constants.cpu_tdp_w,
                    "cpu_tdp_source": constants.cpu_tdp_source,
                    "cpu_idle_fraction": constants.cpu_idle_fraction,
                    "memory_w_per_gb": constants.memory_w_per_gb,
                }.items()
                if v is not None
            }
    return {}


def component_sentence(component: str, method: str, model: dict[str, Any]) -> str:
    """How one component's energy was obtained."""
    if method in MEASURED:
        return f"{component} energy was {MEASURED[method]}"
    if component == "CPU":
        return (
            f"CPU energy was estimated (not measured) from CPU utilisation and a rated power of "
            f"{model.get('cpu_tdp_w', '?'):g} W ({model.get('cpu_tdp_source', 'unknown source')}), "
            f"with an idle power of {model.get('cpu_idle_fraction', 0.3):g} of rated power and "
            "power linear in utilisation (Fan, Weber and Barroso 2007)"
        )
    if component == "memory":
        return (
            f"memory energy was estimated at {model.get('memory_w_per_gb', 0.3725):g} W per GB "
            "of installed memory (Lannelongue et al. 2021)"
        )
    return f"{component} energy was estimated from the declared GPUs' rated board power"


def hardware(report: Report) -> str:
    hosts = [h for h in report.hosts.values() if h.recorded]
    if not hosts:
        return "unrecorded hardware"
    host = hosts[0]
    text = (
        f"{host.cpu_model or 'an unknown CPU'} ({host.logical_cpus} logical CPUs, "
        f"{host.memory_total_b / 1024**3:.0f} GB of memory)"
    )
    return text + (f" and {len(hosts) - 1} other host(s)" if len(hosts) > 1 else "")


def methods_paragraph(report: Report) -> str:
    """The paragraph, in plain text."""
    totals, grid = report.totals, report.grid
    methods = _component_methods(report)
    model = _model_details(report)
    names = {"cpu": "CPU", "dram": "memory", "gpu": "GPU"}
    parts = [component_sentence(names[c], m, model) for c, m in sorted(methods.items())]
    region = (
        "the world average, as no region was set"
        if grid.is_default
        else f"{grid.name} ({grid.region})"
    )
    version = report.tool_version
    return (
        f"Energy use was profiled per workflow node with nipype-carbon {version}. "
        + "".join(p[0].upper() + p[1:] + ". " for p in parts)
        + "CPU and memory energy was attributed to each node by its share of busy CPU time "
        "and of resident memory in each sampling interval; baseline (idle) power was "
        + ("reported separately. " if totals.idle == "separate" else "shared among running nodes. ")
        + f"The workflow ran on {hardware(report)} for {duration(totals.wall_time_s)} "
        f"({node_count(totals.nodes, totals.mapnodes, report.split_names)}) with a {RUN_ENERGY} of "
        f"{energy(totals.energy_j)} ({totals.energy_j / 3.6e6:.3g} kWh: "
        f"{DEFINITIONS[RUN_ENERGY]}); each node's {FULL_COST} is {DEFINITIONS[FULL_COST]}. "
        "With a carbon "
        f"intensity of {grid.intensity_g_per_kwh:g} gCO2e/kWh for {region} "
        f"({grid.source}{', ' + grid.year if grid.year else ''}) and a PUE of {report.pue:g}, this "
        f"corresponds to {emissions(totals.emissions_g)}, {sentence(totals.emissions_g)}."
    )


def _component_methods(report: Report) -> dict[str, str]:
    return report.component_methods
