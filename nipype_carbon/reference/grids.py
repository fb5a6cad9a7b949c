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

Regions are found as people name them, too: a code in any case, a country or province name
(``"Quebec"``, ``"germany"``, ``"Québec"``), or a common alias (``UK``, ``USA``, ``Holland``).

>>> lookup_region("UK").region, lookup_region("Québec").region, lookup_region("usa").region
('GB', 'CA-QC', 'US')
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.reference.tables import read_table

WORLD = "WORLD"
#: Default PUE: 1.0, right for a workstation. Uptime Institute's 2024 survey average for
#: data centres is 1.56: set ``pue`` for a cluster.
DEFAULT_PUE = 1.0

#: Names people use that are neither a code nor the table's name, by normalised name (see
#: ``_key``). Codes that are not ISO 3166 but common (UK, EL) are here too.
ALIASES = {
    "UK": "GB", "GREAT BRITAIN": "GB", "BRITAIN": "GB", "ENGLAND": "GB", "SCOTLAND": "GB",
    "WALES": "GB", "UNITED KINGDOM OF GREAT BRITAIN AND NORTHERN IRELAND": "GB",
    "USA": "US", "UNITED STATES": "US", "UNITED STATES OF AMERICA": "US", "AMERICA": "US",
    "EL": "GR", "HOLLAND": "NL", "THE NETHERLANDS": "NL", "CZECH REPUBLIC": "CZ",
    "KOREA": "KR", "REPUBLIC OF KOREA": "KR", "RUSSIAN FEDERATION": "RU", "TURKIYE": "TR",
    "VIET NAM": "VN", "IVORY COAST": "CI", "SWAZILAND": "SZ", "BURMA": "MM",
    "MACEDONIA": "MK", "CABO VERDE": "CV", "TIMOR-LESTE": "TL", "DRC": "CD",
    "DR CONGO": "CD", "WASHINGTON DC": "US-DC", "NEWFOUNDLAND": "CA-NL",
    "PEI": "CA-PE", "EARTH": "WORLD", "GLOBAL": "WORLD",
    "US-USA": "US",  # the eGRID national row of versions up to 0.1, merged into US
}  # fmt: skip


class UnknownRegionError(NipypeCarbonError, ValueError):
    """A region that is neither a code, a name nor an alias of the shipped table.

    ``str(err)`` suggests the setting ``intensity_g_per_kwh``; a command-line tool gives
    :meth:`for_cli` instead, which names its own option.
    """

    def __init__(self, region: str, suggestions: list[str], own_value: str | None = None) -> None:
        self.region = region
        self.suggestions = suggestions
        if own_value is None:
            own_value = "set intensity_g_per_kwh (gCO2e/kWh) to a value of your own"
        table = intensity_table()
        named = ", ".join(f"{code} ({table[code].name})" for code in suggestions)
        super().__init__(
            f"{self._problem(named)} Use a code, country or province name from "
            f"`nipype-carbon regions`" + (f", or {own_value}." if own_value else ".")
        )

    def _problem(self, named: str) -> str:
        return f"unknown region {self.region!r}." + (f" Did you mean {named}?" if named else "")

    def for_cli(self, option: str | None = "--intensity G") -> UnknownRegionError:
        """The same error, phrased for a command line: ``option`` instead of the setting
        (``None`` for a command that takes no intensity of its own)."""
        own_value = f"give {option} (gCO2e/kWh)" if option else ""
        return type(self)(self.region, self.suggestions, own_value)


class AmbiguousRegionError(UnknownRegionError):
    """A name that several zones share (``Georgia``: the country and the US state)."""

    def _problem(self, named: str) -> str:
        return f"region {self.region!r} names several zones: {named}; give its code."


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


def _key(name: str) -> str:
    """A name as compared: accents, case, punctuation, parentheses and a leading "the" dropped."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    plain = re.sub(r"\(.*?\)", " ", plain).replace("&", " and ")
    words = re.sub(r"[^A-Za-z0-9-]+", " ", plain).upper().split()
    if words[:1] == ["THE"] and len(words) > 1:
        words = words[1:]
    return " ".join(words)


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, list[str]]:
    """Codes by normalised name: the table's names, then the aliases."""
    found: dict[str, list[str]] = {}
    for code, grid in intensity_table().items():
        found.setdefault(_key(grid.name), []).append(code)
    for alias, code in ALIASES.items():
        found.setdefault(_key(alias), [code])
    return found


def region_codes(region: str) -> list[str]:
    """The codes ``region`` names: its code (any case), else the zones of that name or alias.

    Examples
    --------
    >>> region_codes("gb"), region_codes("Great Britain"), region_codes("Georgia")
    (['GB'], ['GB'], ['GE', 'US-GA'])
    >>> region_codes("Atlantis")
    []
    """
    code = _normalise(region)
    if code in intensity_table():
        return [code]
    return list(_codes_by_name().get(_key(region), [])) if region.strip() else []


def suggest_regions(region: str, limit: int = 5) -> list[str]:
    """Codes close to ``region``: named by it, then close by name, then close by code."""
    table = intensity_table()
    wanted = _key(region)
    if not wanted:
        return []
    names = _codes_by_name()
    close_names = difflib.get_close_matches(wanted, list(names), n=limit, cutoff=0.75)
    by_close_name = [code for name in close_names for code in names[name]]
    containing = [
        code
        for code, grid in table.items()
        if len(wanted) > 2 and wanted in _key(grid.name) and code != WORLD
    ]
    close_codes = difflib.get_close_matches(_normalise(region), list(table), n=limit, cutoff=0.5)
    found = region_codes(region) + by_close_name + containing + close_codes
    return list(dict.fromkeys(found))[:limit]


def lookup_region(region: str) -> GridIntensity:
    """The table's row for a region: an ISO code in any case (``GB``, ``ca-qc``, ``US-CA``,
    ``WORLD``), a zone's name (``Quebec``, ``Germany``) or a common alias (``UK``, ``USA``).

    Raises
    ------
    UnknownRegionError
        With close zones to try and the command that lists them all (``AmbiguousRegionError``
        when a name fits several zones, naming them).
    """
    codes = region_codes(region)
    if len(codes) == 1:
        return intensity_table()[codes[0]]
    if codes:
        raise AmbiguousRegionError(region, codes)
    raise UnknownRegionError(region, suggest_regions(region))


def search_regions(text: str) -> list[GridIntensity]:
    """Zones matching ``text``, best first: the zone it names (code, name or alias), zones
    whose code starts with it (``US`` -> ``US-XX``), whose name starts with it, then whose
    code or name contains it.

    Examples
    --------
    >>> [grid.region for grid in search_regions("US")][:3]
    ['US', 'US-AK', 'US-AL']
    >>> search_regions("uk")[0].region
    'GB'
    """
    table = intensity_table()
    wanted = text.strip().lower()
    key = _key(text).lower() or wanted
    if not wanted:
        return list(table.values())
    named = set(region_codes(text))

    def rank(grid: GridIntensity) -> int | None:
        code, name = grid.region.lower(), _key(grid.name).lower()
        if grid.region in named:
            return 0
        if code.startswith(wanted + "-"):
            return 1
        if name.startswith(key):
            return 2
        if wanted in code or key in name:
            return 3
        return None

    ranked = [(rank(grid), i, grid) for i, grid in enumerate(table.values())]
    return [grid for r, _, grid in sorted((r, i, g) for r, i, g in ranked if r is not None)]


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
