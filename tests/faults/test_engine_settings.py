"""What the base plugin reserves, the powercap folder and our other environment variables are
checked where they enter: one line naming the field and the fix, before any node runs."""

from __future__ import annotations

from pathlib import Path

import nipype.pipeline.engine as pe
import pytest

from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.analyse.reconcile import reconcile
from nipype_carbon.record.settings import ENV_NOT_SETTINGS, CarbonSettings, SettingsError
from testkit.sessions import NodeSpec, build_session
from tests.plugin.workflows import burn_node, fast

PROCS = "n_procs must be a whole number of processes, 1 or more, got {}: give plugin_args "
PROCS_FIX = "n_procs=N, or leave it out (all CPUs)"
MEMORY = "memory_gb must be a number of GB above 0, got {}: give plugin_args memory_gb=N, "
MEMORY_FIX = "or leave it out (90 % of memory)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"n_procs": -50}, PROCS.format("-50") + PROCS_FIX),
        ({"n_procs": 0}, PROCS.format("0") + PROCS_FIX),
        ({"n_procs": 2.5}, PROCS.format("2.5") + PROCS_FIX),
        ({"n_procs": "4"}, PROCS.format("'4'") + PROCS_FIX),
        ({"n_procs": True}, PROCS.format("True") + PROCS_FIX),
        ({"memory_gb": -1}, MEMORY.format("-1") + MEMORY_FIX),
        ({"memory_gb": float("nan")}, MEMORY.format("nan") + MEMORY_FIX),
        ({"memory_gb": "lots"}, MEMORY.format("'lots'") + MEMORY_FIX),
    ],
)
def test_a_reservation_that_is_not_a_positive_number_is_one_line_naming_the_fix(
    args: dict, message: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        CarbonSettings.split(args, env={})
    assert str(caught.value) == message


def test_reservations_the_base_plugin_understands_pass_through() -> None:
    args = {"n_procs": 4, "memory_gb": 7.5}
    assert CarbonSettings.split({**args, "n_gpu_procs": 1}, env={})[1] == {
        **args,
        "n_gpu_procs": 1,
    }
    assert CarbonSettings.split({"n_procs": None}, env={})[1] == {"n_procs": None}


def test_a_negative_n_procs_stops_the_run_before_any_node(tmp_path: Path) -> None:
    wf = fast(pe.Workflow("procs", base_dir=str(tmp_path)))
    wf.add_nodes([burn_node("b", 0.05)])
    with pytest.raises(SettingsError, match="n_procs must be a whole number"):
        wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": -50})
    assert list((tmp_path / "procs").glob("*/result_*.pklz")) == []


@pytest.mark.parametrize("recorded", [-50, 0, "abc", float("inf"), None])
def test_a_recorded_n_procs_that_is_not_positive_counts_as_one_core(recorded: object) -> None:
    """Two nodes of equal length, one recording a reservation that cannot be right: each
    bears half the baseline (one core each), none more than the whole or less than none."""
    specs = [NodeSpec("a", 0.0, 10.0, 1.0, 11), NodeSpec("b", 0.0, 10.0, 1.0, 11)]
    session = build_session(specs)
    session.nodes["a"].extra["n_procs"] = recorded
    session.nodes["b"].extra["n_procs"] = 1
    parts = reconcile(session, attribute_energy(session))
    assert parts.baseline_j > 0
    for share in parts.baseline_share_j.values():
        assert share == pytest.approx(parts.baseline_j / 2)


def test_a_relative_powercap_root_is_made_absolute_where_the_settings_are_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "powercap").mkdir()
    monkeypatch.chdir(tmp_path)
    settings, _ = CarbonSettings.split({"powercap_root": "powercap"}, env={})
    assert settings.powercap_root == str(tmp_path / "powercap")
    monkeypatch.chdir("/")  # as nipype does, into each node's folder
    node_side = CarbonSettings.from_mapping(settings.to_dict(), env={})
    assert node_side.powercap_root == str(tmp_path / "powercap")


@pytest.mark.parametrize(
    ("make", "problem"), [(None, "does not exist"), ("file", "is not a directory")]
)
def test_a_powercap_root_that_is_not_a_directory_is_refused_naming_the_fix(
    tmp_path: Path, make: str | None, problem: str
) -> None:
    root = tmp_path / "powercap"
    if make == "file":
        root.write_text("")
    with pytest.raises(SettingsError) as caught:
        CarbonSettings.split({"powercap_root": str(root)}, env={})
    assert str(caught.value) == (
        f"powercap_root {root} {problem}: give the folder that holds the intel-rapl zones "
        "(default /sys/class/powercap; in a container, bind-mount it) or leave powercap_root unset"
    )


def test_a_missing_powercap_root_in_the_environment_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"powercap_root .* does not exist"):
        CarbonSettings.split({}, env={"NIPYPE_CARBON_POWERCAP_ROOT": str(tmp_path / "none")})


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("NIPYPE_CARBON_SLURM_DIRS", "NIPYPE_CARBON_SLURM_DIR"),
        ("NIPYPE_CARBON_RUNS", "NIPYPE_CARBON_RUN"),
        ("NIPYPE_CARBON_CALIBRATON", "NIPYPE_CARBON_CALIBRATION"),
        ("NIPYPE_CARBON_calibration", "NIPYPE_CARBON_CALIBRATION"),
        ("NIPYPE_CARBON_SLURM_ACCOUNTNG", "NIPYPE_CARBON_SLURM_ACCOUNTING"),
        ("NIPYPE_CARBON_REGOIN", "NIPYPE_CARBON_REGION"),
    ],
)
def test_a_typo_of_any_of_our_variables_is_refused_with_a_did_you_mean(
    variable: str, meant: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        CarbonSettings.from_mapping({}, env={variable: "1"})
    assert str(caught.value) == f"unknown environment variable {variable}: did you mean {meant}?"


def test_every_variable_of_ours_that_is_no_setting_is_left_alone() -> None:
    CarbonSettings.from_mapping({}, env=dict.fromkeys(ENV_NOT_SETTINGS, "1"))


def test_every_nipype_carbon_variable_in_the_repository_is_a_setting_or_known() -> None:
    """Grep the code (scripts and tests too): a variable we read that is not in
    ENV_NOT_SETTINGS would be refused as a typo in every run."""
    import re

    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for folder in ("nipype_carbon", "pydra_carbon", "scripts", "tests", "benchmarks", "examples"):
        for path in (root / folder).rglob("*"):
            if path.suffix in (".py", ".sh") and path.is_file():
                found |= set(re.findall(r"NIPYPE_CARBON_[A-Z][A-Z0-9_]*[A-Z0-9]", path.read_text()))
    settings = {f"NIPYPE_CARBON_{n.upper()}" for n in CarbonSettings.names()}
    typos_on_purpose = {"NIPYPE_CARBON_REGOIN", "NIPYPE_CARBON_COLOUR"}
    typos_on_purpose |= {
        v for v in found if v.endswith(("DIRS", "RUNS", "CALIBRATON", "ACCOUNTNG"))
    }
    assert found - settings - set(ENV_NOT_SETTINGS) - typos_on_purpose == set()
