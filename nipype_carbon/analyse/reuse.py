"""Energy that caching avoided: what earlier runs spent on the nodes a run found cached.

When a node's result is reused, the recorder points the run at the earlier
session that holds the record of the run that did the work (a
``cached_energy_sources`` event). The caller loads those sessions (the report
model, once, never a renderer); they are attributed here. Pure: no file is read.
"""

from __future__ import annotations

from collections.abc import Mapping

from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.analyse.reconcile import reconcile
from nipype_carbon.record.session import SOURCES_EVENT, Session


def cached_energy_sources(session: Session) -> dict[str, str]:
    """Node name -> file name of the earlier session that spent its energy."""
    sources: dict[str, str] = {}
    for event in session.events:
        if event.get("kind") == SOURCES_EVENT:
            sources.update(event.get("sessions", {}))
    return sources


def energy_avoided_by_caching(
    session: Session, earlier: Mapping[str, Session], idle: str = "separate"
) -> float:
    """Energy earlier sessions spent on the nodes this run found cached (their full cost), J.

    ``earlier`` maps the file names :func:`cached_energy_sources` gives to those sessions;
    one that could not be read (removed, damaged) is absent and counts as zero.
    """
    sources = cached_energy_sources(session)
    total = 0.0
    for filename, session_then in earlier.items():
        wanted = [n for n, f in sources.items() if f == filename]
        if not wanted:
            continue
        result = attribute_energy(session_then, idle=idle)
        parts = reconcile(session_then, result)
        total += sum(
            parts.full_cost_j(n, result.nodes[n].energy_j) for n in wanted if n in result.nodes
        )
    return total
