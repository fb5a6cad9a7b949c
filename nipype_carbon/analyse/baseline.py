"""The baseline: a host's idle power per domain, and how it was found.

In order: the model's own idle power (exact for the model); a baseline recorded with the
host; the run's calibration (``cpu_baseline_w``, or ``nipype-carbon doctor --calibrate``
on a quiet host, handed in by the caller); else estimated from the domain's own timeline
(:func:`estimate_baseline_power`): a fit of power against CPU utilisation where
utilisation varied, the rated idle power where it is no higher than the power seen, the
lowest power seen. Pure functions of a host's record and its timeline.
"""

from __future__ import annotations

import numpy as np

from nipype_carbon.analyse.host_timeline import SPLIT_BIN_S, HostTimeline
from nipype_carbon.record.records import HostRecord


def baseline_power(
    host: HostRecord,
    timeline: HostTimeline,
    name: str,
    calibrated_w: tuple[float | None, str] | None,
) -> tuple[float, str]:
    """A domain's baseline power and how it was found: the model's own, a recorded one, the
    run's calibration, else :func:`estimate_baseline_power` (see the module)."""
    domain = timeline.domains[name]
    if domain.method == "model" and domain.component == "gpu":
        return 0.0, "model: a declared GPU's board power, all of it the running nodes'"
    known = host.baseline_power_w.get(name)
    if known is not None:
        how = "model: idle share of rated power" if domain.method == "model" else "recorded"
        return float(known), how
    cpu = [d for d in timeline.domains.values() if d.component == "cpu"]
    if calibrated_w is not None and domain.component == "cpu" and calibrated_w[0] is not None:
        return calibrated_w[0] / len(cpu), calibrated_w[1]
    watts, how = estimate_baseline_power(
        timeline, name, host.logical_cpus, rated_idle_w(host, timeline, name)
    )
    if calibrated_w is not None and domain.component == "cpu":
        how = f"{how} (recorded {calibrated_w[1]})"
    return watts, how


def rated_idle_w(host: HostRecord, timeline: HostTimeline, name: str) -> float | None:
    """The model's idle power of the host's CPUs, for a measured CPU domain (None otherwise)."""
    if timeline.domains[name].component != "cpu":
        return None
    packages = [d for d in timeline.domains.values() if d.component == "cpu"]
    constants = host.model_constants()
    if constants is None or not constants.has_cpu_idle:
        return None
    return constants.cpu_idle_w / max(len(packages), 1)


#: width of the bins the baseline is fitted on: long against the counters' and /proc/stat's
#: resolution (1 µJ, 10 ms), short enough for a baseline window of half a second
BIN_S = 0.1
#: the "lowest" power of a domain: a low percentile of its bins, not one stray bin
LOW_PERCENTILE = 10
#: the least share of the power's variance a fit must explain to be believed
FIT_MIN_R2 = 0.8
#: the least spread of CPU utilisation across bins for a fit of power against it
FIT_MIN_SPREAD = 0.2


def binned_power(
    timeline: HostTimeline, name: str, logical_cpus: int, width_s: float = BIN_S
) -> tuple[np.ndarray, np.ndarray]:
    """Mean power (W) and CPU utilisation (0-1) of a domain in bins of ``width_s``.

    Both come from cumulative quantities (energy, busy CPU seconds)
    interpolated at the bin edges, so no bin depends on how the merged
    samples of several processes happen to interleave.
    """
    t = timeline.t
    if len(t) < 2 or t[-1] - t[0] < 2 * width_s:
        return np.zeros(0), np.zeros(0)
    edges = t[0] + width_s * np.arange(int((t[-1] - t[0]) / width_s) + 1)
    energy = np.concatenate([[0.0], np.cumsum(timeline.energy_j[name])])
    power = np.diff(np.interp(edges, t, energy)) / width_s
    busy = np.diff(np.interp(edges, t, timeline.busy_cpu_s))
    return power, busy / (width_s * max(logical_cpus, 1))


def robust_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float, int] | None:
    """Least squares of ``y`` on ``x`` without the outliers (residuals beyond 3.5 robust
    standard deviations of a first fit): intercept, slope, the intercept's standard error,
    r² and the points kept; None if too few are left or ``x`` no longer varies."""
    keep = np.ones(len(x), dtype=bool)
    for _ in range(2):
        slope, intercept = np.polyfit(x[keep], y[keep], 1)
        residual = y - (slope * x + intercept)
        mad = float(np.median(np.abs(residual[keep] - np.median(residual[keep]))))
        keep = np.abs(residual) <= max(3.5 * 1.4826 * mad, 1e-9 * float(np.abs(y).max()))
        if keep.sum() < 5 or np.ptp(x[keep]) < FIT_MIN_SPREAD:
            return None
    (slope, intercept), cov = np.polyfit(x[keep], y[keep], 1, cov=True)
    residual = y[keep] - (slope * x[keep] + intercept)
    spread = float(((y[keep] - y[keep].mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / spread if spread > 0 else 0.0
    error = float(np.sqrt(max(cov[1, 1], 0.0)))
    return float(intercept), float(slope), error, r2, int(keep.sum())


def estimate_baseline_power(
    timeline: HostTimeline, name: str, logical_cpus: int, rated_idle_w: float | None = None
) -> tuple[float, str]:
    """Baseline power of a domain from its own timeline, and how it was found.

    In order: a linear fit of power against the host's CPU utilisation, when
    utilisation varied (CPU domains; the intercept is the power at zero load,
    with its standard error); else the idle power of the CPU's rated power
    (the model's assumption), never above the lowest power seen; else the
    lowest power seen (an upper bound).
    """
    power, util = binned_power(timeline, name, logical_cpus)
    if not len(power):
        return 0.0, "none: the run is too short to tell"
    coarse, _ = binned_power(timeline, name, logical_cpus, SPLIT_BIN_S)
    seen = coarse if len(coarse) else power
    # a low percentile ignores a stray bin; with few bins, the lowest is all there is
    lowest = float(np.percentile(seen, LOW_PERCENTILE) if len(seen) >= 20 else seen.min())
    cpu_domain = timeline.domains[name].component == "cpu"  # GPU power does not follow CPU use
    if cpu_domain and len(power) >= 5 and np.ptp(util) >= FIT_MIN_SPREAD:
        fit = robust_line(util, power)
        if fit is not None:
            intercept, slope, error, r2, kept = fit
            if intercept >= 0 and slope >= 0 and r2 >= FIT_MIN_R2:
                return intercept, (
                    f"fitted: power against CPU utilisation over {kept} of {len(power)} bins "
                    f"of {BIN_S:g} s (± {error:.2g} W, r² {r2:.2f})"
                )
    if rated_idle_w is not None and rated_idle_w <= lowest:
        return rated_idle_w, (
            "rated: idle share of the CPU's rated power (model assumption; utilisation "
            "did not vary enough to fit)"
        )
    return lowest, (
        f"lowest: power seen ({LOW_PERCENTILE}th percentile of {SPLIT_BIN_S:g}-s bins; an "
        "upper bound: utilisation did not vary enough to fit)"
    )
