"""Everyday equivalents of emissions, with the constants' sources.

Green Algorithms reference values (Lannelongue, Grealey and Inouye 2021,
Advanced Science, doi:10.1002/advs.202100707, and the calculator's reference
values): a tree absorbs about 917 gCO2 a month; an average car emits 175 gCO2/km
(EU) or 251 gCO2/km (US); a flight New York - San Francisco is about 570 kgCO2e
per passenger.
"""

from __future__ import annotations

TREE_MONTH_G = 917.0
CAR_EU_G_PER_KM = 175.0
CAR_US_G_PER_KM = 251.0
FLIGHT_NY_SF_G = 570_000.0
SOURCE = "Green Algorithms reference values (Lannelongue et al. 2021)"


def equivalents(emissions_g: float) -> dict[str, float]:
    """Tree-months, EU car km, US car km and NY-SF flights for ``emissions_g``."""
    return {
        "tree_months": emissions_g / TREE_MONTH_G,
        "car_km_eu": emissions_g / CAR_EU_G_PER_KM,
        "car_km_us": emissions_g / CAR_US_G_PER_KM,
        "flights_ny_sf": emissions_g / FLIGHT_NY_SF_G,
    }


def sentence(emissions_g: float) -> str:
    """One sentence for a report or a paper."""
    eq = equivalents(emissions_g)
    return (
        f"about {eq['car_km_eu']:.3g} km driven by an average EU car (175 gCO2/km) or "
        f"{eq['tree_months']:.3g} tree-months of carbon sequestration (917 gCO2 per tree-month; "
        f"{SOURCE})"
    )
