"""The model mode of a whole run against the Green Algorithms formula, by hand.

Green Algorithms (Lannelongue, Grealey and Inouye 2021, Advanced Science,
doi:10.1002/advs.202100707) estimates a job's energy as

    E = t x (n_c x P_c x u_c + n_m x P_m) x PUE

with ``n_c x u_c x t`` the CPU time, ``P_c`` the power per core, ``n_m`` the
memory in GB and ``P_m`` = 0.3725 W/GB. With no idle power in the model
(``cpu_idle_fraction=0``) and the rated power spread over the logical CPUs,
nipype-carbon's model is that formula per node: computed here from each
node's CPU time and memory, it must match the report within 1 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nipype_carbon.record.runs import session_files
from nipype_carbon.report import build_report
from tests.plugin import workflows

TDP_W, MEMORY_W_PER_GB, PUE, INTENSITY = 40.0, 0.3725, 1.5, 200.0


def green_algorithms_kwh(cpu_s: float, power_per_core_w: float, gb_s: float) -> float:
    """E (kWh) = t (h) x (n_c x P_c x u_c + n_m x P_m) / 1000, with n_c x u_c x t = CPU time."""
    return (cpu_s / 3600 * power_per_core_w + gb_s / 3600 * MEMORY_W_PER_GB) / 1000


def test_model_mode_matches_green_algorithms_by_hand(tmp_path: Path) -> None:
    import os

    (tmp_path / "no-rapl").mkdir()  # an empty powercap tree: no RAPL zone
    workflows.known_costs(tmp_path).run(
        plugin="CarbonMultiProc",
        plugin_args={
            "n_procs": 2,
            "cpu_tdp_w": TDP_W,
            "cpu_idle_fraction": 0.0,
            "memory_w_per_gb": MEMORY_W_PER_GB,
            "pue": PUE,
            "intensity_g_per_kwh": INTENSITY,
            "powercap_root": str(tmp_path / "no-rapl"),  # the model, whatever the host has
        },
    )
    report = build_report(session_files(tmp_path / "known" / "carbon")[-1])
    power_per_core_w = TDP_W / (os.cpu_count() or 1)  # one package's TDP over its CPUs
    for name in ("known.burn_a", "known.burn_b", "known.cli", "known.after"):
        record = report.session.nodes[name]
        samples = record.measurement["samples"]
        t, rss = np.asarray(samples["t"]), np.asarray(samples["rss_b"]) / 1024**3
        gb_s = float(np.trapezoid(rss, t)) if len(t) > 1 else 0.0
        kwh = green_algorithms_kwh(record.measurement["cpu_s"], power_per_core_w, gb_s)
        row = report.nodes.set_index("node").loc[name]
        assert row["own_energy_j"] / 3.6e6 == pytest.approx(kwh, rel=0.01), name
        grams = kwh * INTENSITY * PUE
        assert report.emissions_g(row["own_energy_j"]) == pytest.approx(grams, rel=0.01)
