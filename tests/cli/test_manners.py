"""Mistakes get nipype-carbon's own one line: a region no zone matches, a plugin name in the
wrong case."""

from __future__ import annotations

import nipype.pipeline.plugins as nipype_plugins
import pytest

import nipype_carbon  # noqa: F401 - registers the Carbon plugin names
from tests.faults.helpers import run_cli


def test_a_region_no_zone_matches_fails_with_the_closest() -> None:
    status, out, err = run_cli("regions", "Frnace")
    assert status == 1 and out == ""
    assert "no zone matches 'Frnace'; closest: FR (France)" in err


def test_a_region_with_nothing_close_says_what_to_give() -> None:
    status, _, err = run_cli("regions", "XX")
    assert status == 1
    assert "give a country code" in err and "`nipype-carbon regions` lists every zone" in err


def test_a_plugin_name_in_the_wrong_case_gets_the_right_one() -> None:
    with pytest.raises(AttributeError) as caught:
        _ = nipype_plugins.CarbonMultiprocPlugin
    assert "did you mean plugin='CarbonMultiProc'? (plugin names are case-sensitive)" in str(
        caught.value
    )
    # none of Python's own guesses beside ours (it would offer 'LegacyMultiProcPlugin')
    assert caught.value.name is None


def test_a_misspelt_plugin_gets_the_closest_and_the_list() -> None:
    with pytest.raises(AttributeError) as caught:
        _ = nipype_plugins.CarbonLinaerPlugin
    assert "did you mean 'CarbonLinear'" in str(caught.value)
    assert "MultiProc" in str(caught.value)
