"""Grid intensity, PUE and settings: values, provenance and errors that name the fix."""

from __future__ import annotations

import pytest

from nipype_carbon.analyse.carbon import emissions_g
from nipype_carbon.record.settings import CarbonSettings, SettingsError
from nipype_carbon.reference.grids import (
    UnknownRegionError,
    check_pue,
    intensity_table,
    resolve_intensity,
)


def test_shipped_regions_have_sources() -> None:
    table = intensity_table()
    for code in ("WORLD", "GB", "CA-QC", "US-CA", "FR"):
        assert table[code].intensity_g_per_kwh > 0 and table[code].source
    assert table["CA-QC"].intensity_g_per_kwh < table["US-CA"].intensity_g_per_kwh


def test_no_region_is_the_world_average_and_says_so() -> None:
    grid = resolve_intensity()
    assert grid.region == "WORLD" and grid.is_default


def test_unknown_region_suggests_close_codes() -> None:
    with pytest.raises(UnknownRegionError, match="CA-QC") as err:
        resolve_intensity("CA-QB")
    assert "nipype-carbon regions" in str(err.value)


def test_misspelt_region_name_is_suggested() -> None:
    with pytest.raises(UnknownRegionError, match=r"CA-QC \(Quebec\)"):
        resolve_intensity("Quebek")


def test_explicit_intensity_overrides_region() -> None:
    grid = resolve_intensity("GB", intensity_g_per_kwh=100.0)
    assert grid.intensity_g_per_kwh == 100.0 and grid.source == "user setting"


def test_emissions_formula() -> None:
    grid = resolve_intensity(intensity_g_per_kwh=200.0)
    assert emissions_g(7.2e6, grid, pue=1.5) == pytest.approx(2 * 200 * 1.5)


@pytest.mark.parametrize("pue", [-1, 0, 0.9, float("nan")])
def test_bad_pue_is_refused(pue: float) -> None:
    with pytest.raises(ValueError, match=r"pue must be >= 1\.0"):
        check_pue(pue)


def test_settings_come_from_keywords_then_environment() -> None:
    env = {"NIPYPE_CARBON_REGION": "fr", "NIPYPE_CARBON_PUE": "1.4", "NIPYPE_CARBON_GPUS": "A,B"}
    settings = CarbonSettings.from_mapping({"pue": 1.2}, env=env)
    assert (settings.region, settings.pue, settings.gpus) == ("FR", 1.2, ("A", "B"))


def test_split_strips_carbon_settings_from_plugin_args() -> None:
    settings, rest = CarbonSettings.split(
        {"n_procs": 2, "region": "GB", "idle": "shared", "sample_interval_s": 0.5}, env={}
    )
    assert rest == {"n_procs": 2}
    assert settings.idle == "shared" and settings.sample_interval_s == 0.5


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"region": "Atlantis"}, "unknown region"),
        ({"pue": -1}, "pue must be"),
        ({"idle": "sometimes"}, "idle must be"),
        ({"sample_interval_s": 0}, "sample_interval_s"),
        ({"cpu_tdp_w": "lots"}, "cpu_tdp_w must be a number"),
        ({"colour": "green"}, "unknown carbon setting"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(values: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        CarbonSettings.from_mapping(values, env={})


def test_bad_environment_value_is_refused() -> None:
    with pytest.raises(SettingsError, match="pue"):
        CarbonSettings.from_mapping({}, env={"NIPYPE_CARBON_PUE": "0.5"})
