"""Readable quantities: energy, emissions, durations, with their units.

Text from the session is made safe for its reader in :mod:`nipype_carbon.report.escape`.
"""

from __future__ import annotations

from typing import Any


def energy(energy_j: Any) -> str:
    """Energy in a readable unit: ``500 mJ``, ``12.3 J``, ``4.5 kJ``, ``20 Wh``, ``2 kWh``."""
    energy_j = float(energy_j)  # numbers from pandas rows too
    for unit, threshold_j, size_j in (
        ("kWh", 3.6e6, 3.6e6),
        ("Wh", 3.6e4, 3.6e3),
        ("kJ", 1e3, 1e3),
        ("J", 1.0, 1.0),
    ):
        if energy_j >= threshold_j:
            return f"{energy_j / size_j:.3g} {unit}"
    return f"{energy_j * 1e3:.3g} mJ" if energy_j > 0 else "0 J"


def grams(emissions_g: Any) -> str:
    """CO2e mass in a readable unit: ``20 ng``, ``30 µg``, ``2.1 mg``, ``5 g``, ``1.2 kg``."""
    emissions_g = float(emissions_g)
    for unit, size_g in (("t", 1e6), ("kg", 1e3), ("g", 1.0), ("mg", 1e-3), ("µg", 1e-6)):
        if emissions_g >= size_g:
            return f"{emissions_g / size_g:.3g} {unit}"
    return f"{emissions_g * 1e9:.3g} ng" if emissions_g > 0 else "0 g"


def emissions(emissions_g: Any) -> str:
    """``5 g CO2e``, ``30 µg CO2e``."""
    return f"{grams(emissions_g)} CO2e"


def duration(seconds: Any) -> str:
    """``42 s``, ``3.5 min``, ``2.1 h``, ``1.5 d``."""
    seconds = float(seconds)  # numbers from pandas rows too
    if seconds >= 86400:
        return f"{seconds / 86400:.2g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:.2g} h"
    if seconds >= 60:
        return f"{seconds / 60:.2g} min"
    return f"{seconds:.3g} s"


def percent(share: Any) -> str:
    share = float(share)  # numbers from pandas rows too
    return f"{100 * share:.1f}%"
