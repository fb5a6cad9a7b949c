"""A counter's energy per interval, by hand: wraps, stale readings, jumps, resets, freezes.

Each case is a counter at a steady 40 W read every half second, broken one way, with a
model that says 10 W (so what was modelled can be told from what was measured). The
expected energies are worked out in each docstring from the readings alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from nipype_carbon.analyse.counters import FROZEN_S, counter_energy
from nipype_carbon.measure.measurement import Domain

WATTS, MODEL_W = 40.0, 10.0
T = np.arange(0.0, 10.01, 0.5)  # 21 readings, 20 intervals
DOMAIN = Domain("rapl:package-0", "cpu", "counter", "rapl", wrap_j=1e12, power_bound_w=100.0)


def model(t: np.ndarray = T) -> np.ndarray:
    return MODEL_W * np.diff(t)


def energy_of(values: np.ndarray, t: np.ndarray = T):  # type: ignore[no-untyped-def]
    return counter_energy(t, values, DOMAIN, shape=model(t), model=model(t))


def test_a_steady_counter_is_measured_whole() -> None:
    found = energy_of(WATTS * T)
    assert found.energy_j.sum() == pytest.approx(400.0) and not found.glitches
    assert not found.modelled.any()


def test_a_jump_that_stays_is_modelled_for_its_interval_and_followed_after() -> None:
    """+1e9 J from t = 5 on: 40 W x 4.5 s measured, the interval 4.5-5 s modelled (10 W x
    0.5 s), then 40 W x 5 s measured from the new value: 180 + 5 + 200 = 385 J."""
    values = WATTS * T + np.where(T >= 5.0, 1e9, 0.0)
    found = energy_of(values)
    assert found.energy_j.sum() == pytest.approx(385.0)
    (glitch,) = found.glitches
    assert (glitch.kind, glitch.start, glitch.end) == ("jump", 4.5, 5.0)
    assert glitch.modelled_j == pytest.approx(5.0)


def test_one_stray_reading_is_left_out_and_nothing_modelled() -> None:
    """One reading of 1e9 J at t = 5, the next back on course: 400 J, all measured."""
    values = WATTS * T
    values[10] += 1e9
    found = energy_of(values)
    assert found.energy_j.sum() == pytest.approx(400.0) and not found.glitches


def test_a_reset_is_modelled_for_its_interval_and_followed_from_zero() -> None:
    """The counter at 100 kJ falls to zero at t = 4.75 (a driver reloaded) and counts on:
    180 J measured to 4.5 s, 4.5-5 s modelled (5 J), then 40 W x 5 s: 385 J."""
    values = np.where(T < 4.75, 1e5 + WATTS * T, WATTS * (T - 4.75))
    found = energy_of(values)
    assert found.energy_j.sum() == pytest.approx(385.0)
    (glitch,) = found.glitches
    assert (glitch.kind, glitch.start, glitch.end) == ("reset", 4.5, 5.0)


def test_stale_readings_of_another_process_add_nothing_and_are_no_reset() -> None:
    """Two processes: one reads on the half second, the other 0.1 s later with a value as
    old as 0.2 s before its time (8 J below the reading before it). The counter is known to
    have reached 40 W x 10 s, its freshest reading; the stale last one adds nothing."""
    t = np.sort(np.concatenate([T, T + 0.1]))
    values = np.where(np.isin(t, T), WATTS * t, WATTS * (t - 0.2))
    found = energy_of(values, t)
    assert found.energy_j.sum() == pytest.approx(400.0)
    assert not found.glitches and (found.energy_j >= 0).all()


def test_a_frozen_counter_is_modelled_from_the_first_still_reading_to_the_next_move() -> None:
    """Frozen at 120 J from t = 3 to 7, moving again from 7 on (it stopped counting): 120 J
    measured to 3 s, 3-7.5 s modelled (10 W x 4.5 s = 45 J), 7.5-10 s measured (100 J)."""
    values = np.where(T <= 3.0, WATTS * T, np.where(T <= 7.0, 120.0, 120.0 + WATTS * (T - 7.0)))
    found = energy_of(values)
    assert found.energy_j.sum() == pytest.approx(120.0 + 45.0 + 100.0)
    (glitch,) = found.glitches
    assert (glitch.kind, glitch.start, glitch.end) == ("frozen", 3.0, 7.5)
    assert glitch.modelled_j == pytest.approx(45.0)


def test_a_freeze_across_many_short_nodes_is_found_on_the_merged_timeline() -> None:
    """Eight nodes of 0.5 s each, in turn in two processes (each far shorter than a freeze
    takes to show in one node), with the counter frozen from 1 s to 5 s."""
    t = np.round(np.arange(0.0, 6.01, 0.25), 2)
    values = np.where(t <= 1.0, WATTS * t, np.where(t <= 5.0, 40.0, 40.0 + WATTS * (t - 5.0)))
    found = energy_of(values, t)
    (glitch,) = found.glitches
    assert glitch.kind == "frozen" and glitch.end - glitch.start >= FROZEN_S
    assert found.modelled[4:20].all() and not found.modelled[:4].any()


def test_a_counter_read_seldom_is_measured_and_spread_by_the_models_shape() -> None:
    """No reading from 2 s to 8 s (the reads hung): the 240 J between the two readings
    around the gap is measured, spread over its intervals as the model's power (10 W idle +
    5 J per busy CPU-second) says, so the busier intervals get more."""
    t = np.arange(0.0, 10.01, 1.0)
    values = WATTS * t
    values[3:8] = np.nan
    busy = np.array([0.0, 0, 0, 2, 0, 0, 1, 0, 0, 0])  # per interval
    shape = MODEL_W * np.diff(t) + 5.0 * busy
    found = counter_energy(t, values, DOMAIN, shape=shape, model=shape)
    assert found.energy_j.sum() == pytest.approx(400.0) and not found.glitches
    gap = found.energy_j[2:8]
    assert gap.sum() == pytest.approx(240.0)
    assert gap / gap.sum() == pytest.approx(shape[2:8] / shape[2:8].sum())


def test_no_reading_after_a_meter_dropped_is_modelled_and_named_unread() -> None:
    values = WATTS * T
    values[T > 6.0] = np.nan
    found = energy_of(values)
    (glitch,) = found.glitches
    assert (glitch.kind, glitch.start, glitch.end) == ("unread", 6.0, 10.0)
    assert found.energy_j.sum() == pytest.approx(240.0 + MODEL_W * 4.0)
