"""Readable quantities: energy, emissions, durations, with their units."""

from __future__ import annotations

from typing import Any


def energy(energy_j: Any) -> str:
    """``12.3 J``, ``4.56 kJ``, ``7.89 Wh``, ``1.23 kWh``."""
    energy_j = float(energy_j)  # numbers from pandas rows too
    if energy_j >= 3.6e6:
        return f"{energy_j / 3.6e6:.3g} kWh"
    if energy_j >= 3.6e3:
        return f"{energy_j / 3.6e3:.3g} Wh"
    if energy_j >= 1e3:
        return f"{energy_j / 1e3:.3g} kJ"
    return f"{energy_j:.3g} J"


def emissions(emissions_g: Any) -> str:
    """``0.12 mg``, ``3.4 g``, ``5.6 kg``, ``7.8 t`` CO2e."""
    emissions_g = float(emissions_g)  # numbers from pandas rows too
    if emissions_g >= 1e6:
        return f"{emissions_g / 1e6:.3g} t CO2e"
    if emissions_g >= 1e3:
        return f"{emissions_g / 1e3:.3g} kg CO2e"
    if emissions_g >= 1 or emissions_g == 0:
        return f"{emissions_g:.3g} g CO2e"
    return f"{emissions_g * 1e3:.3g} mg CO2e"


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
