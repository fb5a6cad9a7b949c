"""The pure parts of benchmarks/trackers/compare.py: its tables, against cases worked by hand.

No peer is installed or run here (that needs venvs, root and minutes): the rows are
the JSON a run of ``benchmarks/trackers/run.py`` prints.
"""

from __future__ import annotations

import pytest

from benchmarks.trackers.compare import kernel_layout
from benchmarks.trackers.table import (
    measured_table,
    node_error_table,
    summarise,
)
from testkit.powercap import FakePowercap


def plain(wall_s: float, cpu_s: float, case: str = "rapl") -> dict:
    return {"tool": "MultiProc", "case": case, "wall_s": wall_s, "tree_cpu_s": cpu_s}


def cc(cpu_j: float, truth_j: float, cpu_s: float) -> dict:
    return {
        "tool": "codecarbon-machine", "case": "rapl", "wall_s": 50.0, "tree_cpu_s": cpu_s,
        "energy_j": cpu_j + 100.0, "cpu_j": cpu_j, "truth_j": truth_j, "method": "CPU(Intel Rapl)",
    }  # fmt: skip


RUNS = [
    plain(40.0, 60.0),
    plain(44.0, 62.0),
    plain(42.0, 64.0),
    cc(1000.0, 1000.0, 63.0),
    cc(1050.0, 1000.0, 65.0),
    cc(980.0, 1000.0, 70.0),
]


def test_overhead_is_the_tools_median_tree_cpu_less_plain_multiprocs():
    # tool: median(63, 65, 70) = 65; plain: median(60, 62, 64) = 62
    assert summarise(RUNS, "codecarbon-machine", "rapl")["overhead_cpu_s"] == pytest.approx(3.0)
    assert summarise(RUNS, "MultiProc", "rapl")["overhead_cpu_s"] is None


def test_error_is_the_cpu_part_against_the_truth_median_and_worst():
    row = summarise(RUNS, "codecarbon-machine", "rapl")
    # errors 0, +5 %, -2 %: median 0, worst +5 %
    assert row["error"] == pytest.approx(0.0)
    assert row["worst_error"] == pytest.approx(0.05)
    assert row["read_j"] == pytest.approx(1000.0)
    assert row["energy_j"] == pytest.approx(1100.0)  # median of 1100, 1150, 1080
    assert row["runs"] == "3/3"


def test_co2e_at_the_common_intensity_by_hand():
    # 1,100 J = 1100 / 3.6e6 kWh; x 300 g/kWh x PUE 1 = 0.091667 g
    row = summarise(RUNS, "codecarbon-machine", "rapl")
    assert row["co2e_g"] == pytest.approx(1100 / 3.6e6 * 300)


def test_a_tool_without_a_cpu_part_is_judged_on_its_total():
    run = {
        "tool": "carbontracker", "case": "rapl", "wall_s": 1.0, "tree_cpu_s": 61.0,
        "energy_j": 900.0, "truth_j": 1000.0,
    }  # fmt: skip
    assert summarise([*RUNS, run], "carbontracker", "rapl")["error"] == pytest.approx(-0.1)


def test_a_tool_that_always_failed_gets_a_row_saying_why():
    failed = {
        "tool": "experiment-impact-tracker", "case": "rapl",
        "error": "in start: TypeError: float() argument must be ...",
        "log_errors": ["Status code Unknown from http://ipinfo.io/json: ERROR - no network"],
    }  # fmt: skip
    table = measured_table([*RUNS, failed])
    row = next(line for line in table.splitlines() if "experiment-impact-tracker" in line)
    assert "| 0/1 |" in row
    assert "**failed**: in start: TypeError" in row
    assert "ipinfo.io" in row
    ok = next(line for line in table.splitlines() if "CodeCarbon" in line)
    assert "+0.0% (+5.0%)" in ok


def test_model_case_rows_have_no_truth():
    runs = [plain(40.0, 60.0, "model"), {**cc(500.0, 0.0, 61.0), "case": "model"}]
    runs[1].pop("truth_j")
    row = summarise(runs, "codecarbon-machine", "model")
    assert row["truth_j"] is None and row["error"] is None
    assert row["overhead_cpu_s"] == pytest.approx(1.0)


def test_node_errors_per_baseline_variant():
    runs = [
        {"tool": "nipype-carbon", "case": "rapl", "wall_s": 1, "tree_cpu_s": 1,
         "node_errors": {"as found": {"wf.diffusion.denoise_dipy": e}}}
        for e in (0.01, -0.03, 0.02)
    ]  # fmt: skip
    table = node_error_table(runs)
    assert "| as found | denoise_dipy | 3 | +1.0% | -3.0% |" in table


def test_kernel_layout_leads_to_the_one_package_counter(tmp_path):
    tree = FakePowercap(tmp_path / "powercap")
    tree.zone("intel-rapl:0", "package-0", 10.0)
    kernel_layout(tree.root)
    control = tree.root / "intel-rapl"
    assert (control / "subsystem").resolve() == tree.root.resolve()
    through = control / "intel-rapl:0" / "energy_uj"
    assert through.resolve() == (tree.root / "intel-rapl:0" / "energy_uj").resolve()
    assert (control / "subsystem" / "intel-rapl:0" / "name").read_text() == "package-0\n"


def test_node_labels_keep_a_mapnode_childs_parent():
    from benchmarks.trackers.table import node_label

    assert node_label("dwi.diffusion.tensor_dipy._tensor_dipy0") == "tensor_dipy._tensor_dipy0"
    assert node_label("dwi.diffusion.denoise_dipy") == "denoise_dipy"
    assert node_label("baseline (rated)") == "baseline (rated)"
