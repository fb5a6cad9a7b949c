"""Energy that caching avoided: what earlier runs spent on the nodes a run found cached.

When a node's result is reused, the recorder points the run at the earlier
session that holds the record of the run that did the work (a
``cached_energy_sources`` event). Those sessions are loaded and attributed
here, once, when a report is built, never inside a renderer.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.analyse.reconcile import reconcile
from nipype_carbon.record.session import Session, load_session

logger = logging.getLogger("nipype_carbon.analyse")


def cached_energy_sources(session: Session) -> dict[str, str]:
    """Node name -> file name of the earlier session that spent its energy."""
    sources: dict[str, str] = {}
    for event in session.events:
        if event.get("kind") == "cached_energy_sources":
            sources.update(event.get("sessions", {}))
    return sources


def energy_avoided_by_caching(session: Session, idle: str = "separate") -> float:
    """Energy earlier sessions spent on the nodes this run found cached (their full cost), J.

    Earlier sessions that can no longer be read (removed, damaged) count as zero.
    """
    sources = cached_energy_sources(session)
    if not sources or session.path is None:
        return 0.0
    total = 0.0
    for filename in set(sources.values()):
        path = Path(session.path).parent / filename
        try:
            session_then = load_session(path)
            earlier = attribute_energy(session_then, idle=idle)
        except Exception as err:  # an earlier session may have been removed
            logger.info("earlier session %s not read: %s", path, err)
            continue
        parts = reconcile(session_then, earlier)
        total += sum(
            parts.full_cost_j(n, earlier.nodes[n].energy_j)
            for n, f in sources.items()
            if f == filename and n in earlier.nodes
        )
    return total
