"""Settings that cannot be right are refused before any node runs, saying what would be."""

from __future__ import annotations

from pathlib import Path

import nipype.pipeline.engine as pe
import pytest

from nipype_carbon.record.settings import CarbonSettings, SettingsError
from tests.plugin.workflows import burn_node, fast


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"regoin": "GB"}, "unknown carbon setting 'regoin': did you mean 'region'?"),
        ({"PUE": 1.2}, "did you mean 'pue'?"),
        ({"Carbon_Dir": "x"}, "did you mean 'carbon_dir'?"),
        ({"intensity": 100}, "did you mean 'intensity_g_per_kwh'?"),
        ({"pue": float("inf")}, "pue must be between 1.0 and 3.0, got inf"),
        ({"pue": 1e9}, "pue must be between 1.0 and 3.0"),
        ({"pue": True}, "pue must be a number, got True"),
        ({"pue": "nan"}, "pue must be between 1.0 and 3.0, got 'nan'"),
        ({"intensity_g_per_kwh": float("nan")}, "between 0.0 and 2,000 g/kWh"),
        ({"intensity_g_per_kwh": 1e12}, "between 0.0 and 2,000 g/kWh"),
        ({"intensity_g_per_kwh": -5}, "between 0.0 and 2,000 g/kWh"),
        ({"cpu_tdp_w": float("nan")}, "cpu_tdp_w must be between 1.0 and 1,000 W per package"),
        ({"memory_w_per_gb": 1e9}, "memory_w_per_gb must be between 0.0 and 1.0 W/GB"),
        ({"gpus": "A100=-100"}, "watts must be between 1.0 and 2,000 W per GPU"),
        ({"gpus": "A100=lots"}, "watts must be a number"),
        ({"sample_interval_s": 0}, "sample_interval_s must be between 0.01 and 3,600 s"),
    ],
)
def test_a_bad_setting_is_refused_with_the_fix(args: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CarbonSettings.split({"n_procs": 2, **args}, env={})
    assert message in str(caught.value)


def test_the_base_plugins_own_arguments_pass_through() -> None:
    base = {
        "n_procs": 4,
        "memory_gb": 8,
        "status_callback": print,
        "sbatch_args": "-p x",
        "qsub_args": "",
        "max_jobs": 2,
        "n_gpu_procs": 1,
        "raise_insufficiency": False,
        "graph_wait": True,
    }
    settings, rest = CarbonSettings.split({**base, "region": "gb", "pue": 1.5}, env={})
    assert rest == base and settings.region == "GB" and settings.pue == 1.5


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("NIPYPE_CARBON_REGOIN", "did you mean NIPYPE_CARBON_REGION?"),
        ("NIPYPE_CARBON_pue", "did you mean NIPYPE_CARBON_PUE?"),
        ("NIPYPE_CARBON_COLOUR", "unknown environment variable NIPYPE_CARBON_COLOUR; settings:"),
    ],
)
def test_an_unknown_environment_variable_is_refused(variable: str, message: str) -> None:
    with pytest.raises(SettingsError, match="unknown environment variable") as caught:
        CarbonSettings.from_mapping({}, env={variable: "1"})
    assert message in str(caught.value)


def test_a_bad_environment_value_is_refused_with_its_range() -> None:
    with pytest.raises(SettingsError) as caught:
        CarbonSettings.from_mapping({}, env={"NIPYPE_CARBON_PUE": "inf"})
    assert "pue must be between 1.0 and 3.0, got 'inf'" in str(caught.value)


def _workflow(base: Path) -> pe.Workflow:
    wf = fast(pe.Workflow("refused", base_dir=str(base)))
    wf.add_nodes([burn_node("b", 0.05)])
    return wf


def _ran(base: Path) -> list[Path]:
    return list((base / "refused").glob("*/result_*.pklz"))


@pytest.mark.parametrize("plugin", ["CarbonLinear", "CarbonMultiProc"])
def test_a_typo_in_plugin_args_stops_the_run_before_any_node(tmp_path: Path, plugin: str) -> None:
    with pytest.raises(SettingsError, match="did you mean 'region'"):
        _workflow(tmp_path).run(plugin=plugin, plugin_args={"regoin": "GB"})
    assert _ran(tmp_path) == []


def test_a_typo_in_the_environment_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIPYPE_CARBON_REGOIN", "GB")
    with pytest.raises(SettingsError, match="NIPYPE_CARBON_REGION"):
        _workflow(tmp_path).run(plugin="CarbonLinear")
    assert _ran(tmp_path) == []


def test_a_file_in_the_way_of_carbon_dir_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    (tmp_path / "in_the_way").write_text("")
    carbon = tmp_path / "in_the_way" / "carbon"
    with pytest.raises(SettingsError) as caught:
        _workflow(tmp_path).run(plugin="CarbonLinear", plugin_args={"carbon_dir": str(carbon)})
    message = str(caught.value)
    assert "\n" not in message and "is a file, not a directory" in message
    assert "choose another carbon_dir" in message
    assert _ran(tmp_path) == []


def test_pydra_worker_refuses_bad_settings_before_any_task() -> None:
    pytest.importorskip("pydra")
    from pydra_carbon.worker import CarbonWorker

    with pytest.raises(SettingsError, match="did you mean 'region'"):
        CarbonWorker("debug", regoin="GB")
    with pytest.raises(SettingsError, match="pue must be between"):
        CarbonWorker("debug", pue=float("inf"))
