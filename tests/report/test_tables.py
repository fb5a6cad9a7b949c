"""Report contracts: CSV and JSON columns, conservation, re-rendering for another grid."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from nipype_carbon.cli.main import main
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.report import build_report
from nipype_carbon.report.compare import compare_branches, nodes_frame, verdict
from nipype_carbon.report.formats import (
    render_console,
    render_csv,
    render_json,
    render_markdown,
)
from nipype_carbon.report.hotspots import advise, other_grids, top_nodes
from nipype_carbon.report.methods import methods_paragraph
from testkit.sessions import NodeSpec, build_session

CONTRACT = [
    "node",
    "interface",
    "status",
    "start",
    "end",
    "duration_s",
    "cpu_s",
    "energy_j",
    "energy_cpu_j",
    "energy_dram_j",
    "energy_gpu_j",
    "energy_idle_j",
    "emissions_g",
    "method",
]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    specs = [
        NodeSpec("wf.denoise_mrtrix", 0, 4, 1.0, 5, rss_b=0),
        NodeSpec("wf.denoise_dipy", 0, 4, 2.0, 5, rss_b=0),
        NodeSpec("wf.tensor", 4, 2, 1.0, 3),
    ]
    session = build_session(specs, other_rate=0.2)
    session.settings = {"region": "GB", "pue": 1.2}
    session.add_node(NodeRecord("wf.cached_step", "cached", 5, 5, "h", interface="x.Cached"))
    for record in session.nodes.values():
        record.interface = record.interface or "mod.Denoise"
    path = tmp_path / "session-1.jsonl"
    session.save(path)
    return path


def test_csv_has_the_contract_columns_and_sums(run: Path) -> None:
    report = build_report(run)
    frame = pd.read_csv(io.StringIO(render_csv(report)))
    assert list(frame.columns[: len(CONTRACT)]) == CONTRACT
    dynamic = frame[["energy_cpu_j", "energy_dram_j", "energy_gpu_j", "energy_idle_j"]].sum(axis=1)
    assert (frame["own_energy_j"] - dynamic).abs().max() < 1e-9
    full = dynamic + frame["baseline_share_j"] + frame["memory_share_j"]
    assert (frame["energy_j"] - full).abs().max() < 1e-9
    assert frame.loc[frame["node"] == "wf.cached_step", "energy_j"].item() == 0


# The fixture's run by hand: 10 W idle, 5 J per busy CPU-second, for 6 s. The nodes burn
# 1.0 x 4 + 2.0 x 4 + 1.0 x 2 = 14 CPU-s, other processes 0.2 x 6 = 1.2 CPU-s: the host's CPU
# counter reads 60 + 5 x 15.2 = 136 J, of which 6 J are other processes'. Modelled memory:
# 6 W for 16 GiB, of which the tensor node held 1e8 B for 2 s.
BASELINE_J, NODES_CPU_J, OTHER_J = 60.0, 70.0, 6.0
MEMORY_J = 6.0 * 1e8 / (16 * 1024**3) * 2


def test_json_totals_reconcile_the_run_by_hand(run: Path) -> None:
    data = json.loads(render_json(build_report(run)))
    totals, nodes = data["totals"], data["nodes"]
    assert set(CONTRACT) <= set(nodes[0])
    run_j = BASELINE_J + NODES_CPU_J + MEMORY_J
    assert totals["energy_j"] == pytest.approx(run_j, rel=1e-6)
    assert totals["host_energy_j"] == pytest.approx(run_j + OTHER_J, rel=1e-6)
    parts = totals["reconciliation_j"]
    assert parts["baseline_j"] == pytest.approx(BASELINE_J, rel=1e-6)
    assert parts["nodes_j"] == pytest.approx(NODES_CPU_J + MEMORY_J, rel=1e-6)
    assert parts["other_processes_j"] == pytest.approx(OTHER_J, rel=1e-6)
    # full costs: the baseline charged by cores x duration reserved (4 s, 4 s, 2 s of 1 core)
    full = {n["node"]: n["energy_j"] for n in nodes}
    assert full["wf.denoise_mrtrix"] == pytest.approx(5 * 4 + BASELINE_J * 0.4, rel=1e-6)
    assert full["wf.denoise_dipy"] == pytest.approx(5 * 8 + BASELINE_J * 0.4, rel=1e-6)
    assert full["wf.tensor"] == pytest.approx(5 * 2 + MEMORY_J + BASELINE_J * 0.2, rel=1e-6)
    assert totals["emissions_g"] == pytest.approx(
        totals["energy_j"] / 3.6e6 * totals["intensity_g_per_kwh"] * totals["pue"]
    )
    assert (totals["region"], totals["pue"]) == ("GB", 1.2)


def test_another_region_scales_emissions_by_the_intensity_ratio(run: Path) -> None:
    gb, qc = build_report(run), build_report(run, region="CA-QC")
    assert qc.totals.energy_j == pytest.approx(gb.totals.energy_j)
    ratio = qc.grid.intensity_g_per_kwh / gb.grid.intensity_g_per_kwh
    assert qc.totals.emissions_g == pytest.approx(gb.totals.emissions_g * ratio)
    assert list(qc.nodes["emissions_g"]) == pytest.approx(list(gb.nodes["emissions_g"] * ratio))


def test_no_region_says_world_average(run: Path, tmp_path: Path) -> None:
    report = build_report(run, region="WORLD")
    assert not report.totals.region_is_default
    session = build_session([NodeSpec("a", 0, 1, 1, 2)])
    path = session.save(tmp_path / "plain.jsonl")
    assert "no region set" in render_markdown(build_report(path))


def test_hotspots_shares_and_grids(run: Path) -> None:
    report = build_report(run)
    top = top_nodes(report, 2)
    assert top["node"].iloc[0] == "wf.denoise_dipy"
    assert top["cumulative_share"].iloc[-1] <= 1.0 + 1e-9
    grids = other_grids(report)
    assert grids["intensity_g_per_kwh"].is_monotonic_increasing and "CA-QC" in set(grids["region"])


def test_idle_dominated_run_gets_advice(tmp_path: Path) -> None:
    session = build_session([NodeSpec("wf.tiny", 0, 10, 0.01, 5)], idle_w=50.0, baseline_w=50.0)
    report = build_report(session)
    assert any(a.kind == "large idle share" for a in advise(report))


def test_methods_paragraph_says_modelled_and_cites(run: Path) -> None:
    text = methods_paragraph(build_report(run))
    assert "nipype-carbon" in text and "United Kingdom (GB)" in text and "PUE of 1.2" in text
    assert "tree-months" in text and "175 gCO2/km" in text


def test_branches_name_the_cheaper_alternative(run: Path) -> None:
    report = build_report(run)
    (step,) = compare_branches(report, ["denoise=denoise_mrtrix,denoise_dipy"])
    assert step.cheapest == "denoise_mrtrix"
    # same duration and reservation, so the same baseline share: they differ by 5 x 4 J
    assert step.energy_j["denoise_dipy"] - step.energy_j["denoise_mrtrix"] == pytest.approx(20.0)
    assert "denoise_mrtrix is cheaper" in step.verdict()
    (joined,) = compare_branches(report, ["all=denoise_mrtrix+tensor,denoise_dipy"])
    assert joined.energy_j["denoise_mrtrix+tensor"] > step.energy_j["denoise_mrtrix"]
    with pytest.raises(ValueError, match="no node matches"):
        compare_branches(report, ["x=nothing,none"])


def test_runs_are_matched_without_the_workflow_name(run: Path, tmp_path: Path) -> None:
    other = build_session([NodeSpec("wf2.denoise_mrtrix", 0, 4, 0.5, 5, rss_b=0)])
    path = other.save(tmp_path / "session-2.jsonl")
    reports = {"a": build_report(run), "b": build_report(path)}
    frame = nodes_frame(reports)
    # full costs by hand: a's 20 J + 40 % of its 60-J baseline; b's 10 J + all of its 40 J
    assert frame.loc["denoise_mrtrix", "a"] == pytest.approx(5 * 4 + BASELINE_J * 0.4)
    assert frame.loc["denoise_mrtrix", "b"] == pytest.approx(5 * 2 + 10 * 4)
    assert verdict(reports).startswith("b used the least energy")


def test_markdown_has_the_advice_the_console_gives(run: Path) -> None:
    report = build_report(run)
    markdown = render_markdown(report)
    section = markdown.split("## Advice\n")[1].split("\n## ")[0]
    items = [line[2:] for line in section.splitlines() if line.startswith("- ")]
    console = render_console(report).split("Advice:\n")[1]
    assert items and items[-1].startswith("Same run elsewhere: CA-QC")
    assert all(item in console for item in items)


def test_compare_notes_each_difference_before_the_verdict(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = build_session([NodeSpec("wf2.denoise_mrtrix", 0, 4, 0.5, 5, rss_b=0)], host="node7")
    other.settings = {"region": "FR", "pue": 1.5}
    path = other.save(tmp_path / "session-2.jsonl")
    assert main(["compare", str(run), str(path)]) == 0
    out = capsys.readouterr().out
    verdict_at = out.index("used the least energy")
    for what in ("grid (session-1: GB 210.89 gCO2e/kWh; session-2: FR", "PUE (session-1: 1.2;",
                 "host (session-1: h; session-2: node7)"):  # fmt: skip
        assert 0 <= out.index(f"Note: the runs differ in {what}") < verdict_at
    assert "differ in method" not in out  # both synthetic runs are 'rapl'
    # one grid and PUE for both: those notes go, the host's stays
    assert main(["compare", str(run), str(path), "--region", "GB", "--pue", "1"]) == 0
    out = capsys.readouterr().out
    assert "differ in grid" not in out and "differ in PUE" not in out
    assert "differ in host" in out


@pytest.mark.parametrize("suffix", [".csv", ".json", ".md"])
def test_cli_writes_each_format(run: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"report{suffix}"
    assert main(["report", str(run), "-o", str(out), "--region", "FR"]) == 0
    assert out.stat().st_size > 100


def test_console_says_energy_is_before_pue(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """PUE scales CO2e (the building's overhead), not the energy the meters saw."""
    headers = {}
    for pue in ("1", "1.5"):
        assert main(["report", str(run), "--pue", pue, "--region", "FR"]) == 0
        out = capsys.readouterr().out.splitlines()
        headers[pue] = next(line for line in out if line.startswith("Run energy "))
    assert all("(before PUE)" in line for line in headers.values())
    energy_of = {pue: line.split(" (before PUE)")[0] for pue, line in headers.items()}
    assert energy_of["1"] == energy_of["1.5"]
    grams = {pue: float(line.split(", ")[1].split()[0]) for pue, line in headers.items()}
    assert grams["1.5"] == pytest.approx(1.5 * grams["1"], rel=0.01)


def test_cli_errors_are_one_line(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(run), "--region", "Atlantis"]) == 2
    assert main(["report", "/no/such/run"]) == 2
    assert main(["report", str(run), "-o", "x.pdf"]) == 2
    assert main(["compare", str(run)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("nipype-carbon") for line in lines)
