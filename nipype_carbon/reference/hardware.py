"""Reference tables shipped as package data: CPU and GPU rated power.

Sources and licences are in ``nipype_carbon/reference/data/README.md``; the CPU table
was compiled by the CodeCarbon project (MIT licence), the GPU table from
vendor datasheets (a few rows via Green Algorithms, CC BY 4.0).

Examples
--------
>>> lookup_cpu_tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz").tdp_w
150.0
>>> lookup_cpu_tdp("AMD EPYC 7763 64-Core Processor").model
'AMD EPYC 7763'
>>> lookup_cpu_tdp("AMD EPYC") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nipype_carbon.reference.tables import read_table

_NOISE = re.compile(
    r"\((r|tm)\)|\bcpu\b|@.*$|\b\d+-core\b|\bprocessor\b|\bwith .*$|\bw/ .*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RatedPower:
    """A rated power found in a table, and the row that matched."""

    model: str
    tdp_w: float
    source: str


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_NOISE.sub(" ", text).lower().replace(",", " ").split())


@lru_cache(maxsize=1)
def _cpu_rows() -> tuple[tuple[tuple[str, ...], str, float], ...]:
    rows = []
    for row in read_table("cpu_tdp.csv"):
        try:
            rows.append((_tokens(row["model"]), row["model"], float(row["tdp_w"])))
        except (KeyError, ValueError):
            continue
    return tuple(rows)


def lookup_cpu_tdp(brand: str) -> RatedPower | None:
    """Rated power of the CPU whose brand string the kernel reports.

    A table row matches when all its words appear in the brand string (after
    removing ``(R)``, ``CPU @ 2.50GHz`` and similar); the longest such row
    wins, so ``Core i7-8700K`` is not taken for ``Core i7-8700``. Returns None
    when no row matches: a generic name such as ``AMD EPYC`` (common in
    virtual machines) matches nothing.
    """
    wanted = _tokens(brand)
    if not wanted:
        return None
    best: tuple[int, str, float] | None = None
    wanted_set = set(wanted)
    for tokens, model, tdp_w in _cpu_rows():
        if tokens and wanted_set.issuperset(tokens) and any(c.isdigit() for c in "".join(tokens)):
            score = sum(len(t) for t in tokens)
            if best is None or score > best[0]:
                best = (score, model, tdp_w)
    if best is None:
        return None
    return RatedPower(best[1], best[2], "CodeCarbon CPU TDP table (MIT licence)")


def lookup_gpu_tdp(name: str) -> RatedPower | None:
    """Board power of an NVIDIA GPU by the name NVML reports (case-insensitive)."""
    key = name.strip().lower()
    for row in read_table("gpu_tdp.csv"):
        if row["model"].strip().lower() == key:
            return RatedPower(row["model"], float(row["tdp_w"]), row["source"])
    return None
