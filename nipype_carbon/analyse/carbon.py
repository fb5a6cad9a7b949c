"""Carbon: the one emissions formula, applied at render time.

Grid intensity and PUE come from :mod:`nipype_carbon.reference.grids` (an
offline table, or a value the user gives); energy from attribution. So "what
if this ran in Quebec?" needs no re-run::

    emissions_g = energy_j / 3.6e6 * intensity_g_per_kwh * pue

Examples
--------
>>> from nipype_carbon.reference.grids import resolve_intensity
>>> round(emissions_g(3.6e6, resolve_intensity(intensity_g_per_kwh=100.0), pue=1.5), 6)
150.0
"""

from __future__ import annotations

from nipype_carbon.reference.grids import DEFAULT_PUE, GridIntensity

J_PER_KWH = 3.6e6


def emissions_g(energy_j: float, grid: GridIntensity, pue: float = DEFAULT_PUE) -> float:
    """Grams CO2e for ``energy_j`` joules on ``grid`` with ``pue``."""
    return energy_j / J_PER_KWH * grid.intensity_g_per_kwh * pue
