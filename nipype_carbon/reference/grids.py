"""Grid carbon intensity by region, and PUE: the reference values a run is priced with.

Intensities come from the offline table shipped in ``nipype_carbon/reference/data``
(countries: Our World in Data / Ember, CC BY 4.0; US states: EPA eGRID2023;
Canadian provinces: Canada's National Inventory Report via Green Algorithms,
CC BY 4.0). No network access, no IP geolocation: with no region set the
world average is used, and every report says so.

The emissions formula itself is :func:`nipype_carbon.analyse.carbon.emissions_g`.

Examples
--------
>>> grid = resolve_intensity("ca-qc")
>>> grid.region, grid.intensity_g_per_kwh
('CA-QC', 1.5)
>>> resolve_intensity(None).is_default
True
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from nipype_carbon.reference.tables import read_table

WORLD = "WORLD"
#: Default PUE: 1.0, right for a workstation. Uptime Institute's 2024 survey average for
#: data centres is 1.56: set ``pue`` for a cluster.
DEFAULT_PUE = 1.0


class UnknownRegionError(ValueError):
    """A region code that is not in the shipped table."""


@dataclass(frozen=True)
class GridIntensity:
    """Carbon intensity of the electricity a run used, with its provenance."""

    region: str
    name: str
    intensity_g_per_kwh: float
    year: str
    source: str
    licence: str
    is_default: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=1)
def intensity_table() -> dict[str, GridIntensity]:
    """Every zone of the shipped table, by code."""
    table = {}
    for row in read_table("grid_intensity.csv"):
        zone = row["zone"].strip().upper()
        table[zone] = GridIntensity(
            region=zone,
            name=row["name"],
            intensity_g_per_kwh=float(row["gco2e_per_kwh"]),
            year=row["year"],
            source=row["source"],
            licence=row["licence"],
        )
    return table


def _normalise(region: str) -> str:
    return region.strip().upper().replace("_", "-")


def suggest_regions(region: str, limit: int = 5) -> list[str]:
    """Codes close to ``region``, by code and by zone name."""
    table = intensity_table()
    wanted = _normalise(region)
    close = difflib.get_close_matches(wanted, list(table), n=limit, cutoff=0.5)
    by_name = [
        code for code, grid in table.items() if wanted.lower() in grid.name.lower() and wanted
    ]
    return list(dict.fromkeys(by_name + close))[:limit]


def lookup_region(region: str) -> GridIntensity:
    """The table's row for an ISO code (``GB``, ``CA-QC``, ``US-CA``, ``WORLD``).

    Raises
    ------
    UnknownRegionError
        With close codes to try and the command that lists them all.
    """
    code = _normalise(region)
    table = intensity_table()
    if code in table:
        return table[code]
    hints = suggest_regions(region)
    hint = f" Did you mean {', '.join(hints)}?" if hints else ""
    raise UnknownRegionError(
        f"unknown region {region!r}.{hint} Use an ISO 3166 code from `nipype-carbon regions`, "
        "or set intensity_g_per_kwh to a value of your own."
    )


def resolve_intensity(
    region: str | None = None, intensity_g_per_kwh: float | None = None
) -> GridIntensity:
    """The intensity to use: an explicit value, else the region, else the world average."""
    if intensity_g_per_kwh is not None:
        value = float(intensity_g_per_kwh)
        if value < 0:
            raise ValueError(f"intensity_g_per_kwh must be >= 0, got {value}")
        label = _normalise(region) if region else "custom"
        return GridIntensity(label, "user value", value, "", "user setting", "")
    if region:
        return lookup_region(region)
    world = intensity_table()[WORLD]
    return GridIntensity(**{**world.to_dict(), "is_default": True})


def check_pue(pue: float) -> float:
    """A valid PUE (>= 1.0), or an error that says what PUE means."""
    value = float(pue)
    if not value >= 1.0:
        raise ValueError(
            f"pue must be >= 1.0 (1.0 for a workstation; 1.56 is the Uptime Institute 2024 "
            f"average for data centres), got {pue!r}"
        )
    return value
