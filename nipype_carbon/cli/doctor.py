"""``nipype-carbon doctor``: what this machine can measure, and what the model assumes.

Looks for every meter in the order a run would (RAPL through sysfs, pyRAPL,
NVML), says why each one that is unusable is unusable and how to fix it, and
prints the rated power and constants the model meter will use for the rest,
and the idle CPU power kept for this host (``--calibrate SECONDS`` measures it).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from nipype_carbon.cli.options import number_in
from nipype_carbon.measure.calibration import (
    CALIBRATE_S_RANGE,
    QUIET_UTILISATION,
    calibrate,
    calibration_path,
    check_writable,
    read_calibrations,
    save_calibration,
)
from nipype_carbon.measure.host import HostInfo
from nipype_carbon.measure.meters.factory import MeterSelection, select_meters
from nipype_carbon.measure.meters.utilisation import ModelMeter
from nipype_carbon.record.settings import (
    RANGES,
    CarbonSettings,
    SettingsError,
    check_powercap_root,
)
from nipype_carbon.reference.grids import UnknownRegionError, lookup_region, resolve_intensity

LOOKED_FOR = {
    "rapl": "RAPL energy counters (powercap sysfs)",
    "pyrapl": "RAPL through pyRAPL",
    "nvml": "NVIDIA GPUs through NVML (pynvml)",
}


def diagnose(settings: CarbonSettings) -> dict[str, Any]:
    """Everything doctor reports, as data."""
    selection = select_meters(
        powercap_root=settings.powercap_root,
        cpu_tdp_w=settings.cpu_tdp_w,
        memory_w_per_gb=settings.memory_w_per_gb,
        cpu_idle_fraction=settings.cpu_idle_fraction,
        declared_gpus=list(settings.gpus),
    )
    grid = resolve_intensity(settings.region, settings.intensity_g_per_kwh)
    host = HostInfo.collect()
    kept, problems = read_calibrations()
    return {
        "host": host.to_dict(),
        "methods": selection.methods(),
        "meters": _meter_lines(selection),
        "selection": selection.to_dict(),
        "grid": grid.to_dict(),
        "pue": settings.pue,
        "calibration": {
            "path": str(calibration_path()),
            "this_host": kept.get(host.name),
            "problems": problems,
        },
    }


def _meter_lines(selection: MeterSelection) -> dict[str, str]:
    used = {m.kind: m for m in selection.meters}
    lines = {}
    for kind in LOOKED_FOR:
        if kind in used:
            names = ", ".join(d.name for d in used[kind].domains())
            lines[kind] = f"available: {names}"
        else:
            lines[kind] = selection.skipped.get(kind, "not tried")
    return lines


def render(report: dict[str, Any]) -> str:
    host = report["host"]
    out = [
        f"nipype-carbon doctor on {host['name']}: {host['cpu_model']}, "
        f"{host['logical_cpus']} logical CPUs, {host['memory_total_b'] / 1024**3:.1f} GB",
        "",
        "Meters looked for:",
    ]
    for kind, text in report["meters"].items():
        out.append(f"  {LOOKED_FOR[kind]:<40} {text}")
    methods = report["methods"]
    out += ["", "Each component will be obtained by:"]
    out += [f"  {component:<5} {method}" for component, method in sorted(methods.items())]
    model = [m for m in report["selection"]["meters"] if m["kind"] == "model"]
    if model:
        out += ["", "The model meter (estimates, labelled 'model' in every report) will use:"]
        out += _model_lines(model[0]["details"])
    grid = report["grid"]
    where = "no region set: world average" if grid["is_default"] else grid["region"]
    out += [
        "",
        f"Grid: {where}, {grid['intensity_g_per_kwh']:g} gCO2e/kWh ({grid['source']}); "
        f"PUE {report['pue']:g}.",
    ]
    return "\n".join([*out, "", *_calibration_lines(report["calibration"])])


def _calibration_lines(c: dict[str, Any]) -> list[str]:
    kept = c["this_host"]
    if kept:
        line = (
            f"Calibration: idle CPU power {kept['cpu_baseline_w']:.3g} W, measured by "
            f"{kept.get('method', '?')} ({kept.get('measured', 'no date')}), kept in {c['path']}."
        )
    else:
        line = f"Calibration: none kept for this host in {c['path']} (--calibrate SECONDS)."
    return [line] + [f"  {problem}" for problem in c["problems"]]


def _model_lines(d: dict[str, Any]) -> list[str]:
    lines = []
    if "cpu" in d["components"]:
        lines += [
            f"  CPU rated power   {d['cpu_tdp_w']:g} W ({d['cpu_tdp_source']})",
            f"  CPU idle power    {d['cpu_idle_power_w']:g} W "
            f"(idle fraction {d['cpu_idle_fraction']:g}: a project assumption, "
            "setting cpu_idle_fraction)",
            f"  CPU dynamic       {d['joules_per_busy_cpu_s']:.3g} J per busy CPU-second "
            "(linear utilisation model, Fan et al. 2007)",
        ]
    if "dram" in d["components"]:
        lines.append(
            f"  Memory            {d['memory_w_per_gb']:g} W/GB x {d['memory_total_gb']:.1f} GB = "
            f"{d['dram_power_w']:.2f} W (Green Algorithms, Lannelongue et al. 2021)"
        )
    for gpu in d.get("declared_gpus", []):
        lines.append(f"  GPU (declared)    {gpu['name']}: {gpu['power_w']:g} W rated board power")
    return lines


def _for_cli(err: Exception, region: str | None) -> Exception:
    """An unknown region's error as the command line says it (doctor asks no intensity)."""
    try:
        lookup_region(region or "WORLD")
    except UnknownRegionError as region_err:
        return region_err.for_cli(None)
    return err


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nipype-carbon doctor", description=__doc__)
    parser.add_argument("--powercap-root", help="powercap sysfs root (default /sys/class/powercap)")
    low, high, unit = RANGES["cpu_tdp_w"]
    parser.add_argument(
        "--cpu-tdp-w",
        type=number_in(low, high, unit),
        help=f"rated CPU power, overriding the table ({low:g}-{high:,g} W)",
    )
    parser.add_argument("--region", help="grid region to show (ISO code)")
    parser.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    shortest, longest = CALIBRATE_S_RANGE
    parser.add_argument(
        "--calibrate",
        type=number_in(shortest, longest, " s"),
        metavar="SECONDS",
        help="measure this quiet host's idle CPU power over SECONDS "
        f"({shortest:g}-{longest:,g}) and keep it for later runs",
    )
    args = parser.parse_args(argv)
    given = {
        "powercap_root": args.powercap_root,
        "cpu_tdp_w": args.cpu_tdp_w,
        "region": args.region,
    }
    try:
        settings = CarbonSettings.from_mapping({k: v for k, v in given.items() if v is not None})
        if settings.powercap_root:
            check_powercap_root(settings.powercap_root)
    except SettingsError as err:
        parser.exit(2, f"nipype-carbon doctor: {_for_cli(err, args.region)}\n")
    if args.calibrate is not None:
        return run_calibration(settings, args.calibrate)
    report = diagnose(settings)
    print(json.dumps(report, indent=2, default=str) if args.json else render(report))
    return 0


def run_calibration(settings: CarbonSettings, seconds: float) -> int:
    """Measure and keep the host's idle CPU power, or say why not (exit 2)."""
    try:  # a file that cannot be replaced is said before the measurement, not after
        check_writable()
    except OSError as err:
        print(f"nipype-carbon doctor: {err}", file=sys.stderr)
        return 2
    selection = select_meters(powercap_root=settings.powercap_root)
    meter = next(
        (
            m
            for m in selection.meters
            if m.kind != "model"
            and any(d.component == "cpu" and d.kind == "counter" for d in m.domains())
        ),
        None,
    )
    if meter is None:
        print(
            "nipype-carbon doctor: no CPU energy counter here (the model is used, and its "
            "baseline is its own assumption): nothing to calibrate"
        )
        return 0
    host = HostInfo.collect()
    model = ModelMeter(
        cpu_tdp_w=settings.cpu_tdp_w, cpu_idle_fraction=settings.cpu_idle_fraction, host=host
    )
    found = calibrate(meter, seconds, host.logical_cpus, model.joules_per_busy_cpu_s)
    if found.utilisation > QUIET_UTILISATION:
        print(
            f"nipype-carbon doctor: the host was {found.utilisation:.0%} busy while calibrating "
            f"(at most {QUIET_UTILISATION:.0%} is quiet): stop other work and calibrate again",
            file=sys.stderr,
        )
        return 2
    try:
        path = save_calibration(host.name, found)
    except OSError as err:
        print(
            f"nipype-carbon doctor: calibration not kept: {err}: set NIPYPE_CARBON_CALIBRATION "
            "to a file you can write",
            file=sys.stderr,
        )
        return 2
    print(
        f"idle CPU power of {host.name}: {found.cpu_baseline_w:.3g} W, measured by "
        f"{found.method} over {found.seconds:.3g} s at {found.utilisation:.0%} utilisation; "
        f"kept in {path}: runs on this host use it as their baseline (a run's own "
        "cpu_baseline_w wins)"
    )
    return 0
