"""Reports of saved sessions: tables, hotspots, graph, timeline, HTML, comparisons.

Everything here reads saved sessions only; nothing imports a meter or an engine.

Usage (a saved run)::

    from nipype_carbon.report import build_report
    report = build_report("work/wf/carbon", region="CA-QC")
    report.nodes.head()          # a pandas DataFrame, one row per node
    report.interfaces().head()   # per-interface totals
"""

from nipype_carbon.report.model import Report, build_report, interface_frame, node_frame

__all__ = ["Report", "build_report", "interface_frame", "node_frame"]
