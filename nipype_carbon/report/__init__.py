"""Reports of saved sessions: tables, hotspots, graph, timeline, HTML, comparisons.

Everything here reads saved sessions only; nothing imports a meter or an engine.

Usage (a saved run)::

    from nipype_carbon.report import build_report
    report = build_report("work/wf/carbon", region="CA-QC")
    report.nodes.head()          # a pandas DataFrame, one row per node
    report.interfaces().head()   # per-interface totals
"""

from __future__ import annotations

from typing import Any

__all__ = ["Report", "build_report", "interface_frame", "node_frame"]


def __getattr__(name: str) -> Any:
    # loaded on first use: the adapters import report.summary beside the nodes, where
    # pandas may be missing (an app's container); the model needs it, the summary's log not
    if name in __all__:
        from nipype_carbon.report import model

        return getattr(model, name)
    raise AttributeError(f"module 'nipype_carbon.report' has no attribute {name!r}")
