"""The few lines logged at the end of a run: energy, CO2e, method, the hottest nodes.

Built from the one report model (:func:`~nipype_carbon.report.model.build_report`)
and formatted by the same functions as the console report; the engine
adapters log it when a run finishes. Where the report's own dependencies are
missing (pandas, inside an app's container), the log says how to render the
report later instead.

Examples
--------
>>> from nipype_carbon.record.session import Session
>>> from nipype_carbon.report.model import build_report
>>> print(summary_text(build_report(Session())))  # doctest: +ELLIPSIS
nipype-carbon: run summary
Run INTERRUPTED...
0 nodes: none
Run energy 0 J (before PUE), 0 g CO2e [no region set: WORLD average, ...
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nipype_carbon.report.model import Report


def summary_text(report: Report, top: int = 5) -> str:
    """The run's header lines and its ``top`` hottest nodes, each line safe for a terminal
    (:func:`~nipype_carbon.report.escape.visible`)."""
    from nipype_carbon.report.escape import visible
    from nipype_carbon.report.hotspots import top_nodes
    from nipype_carbon.report.sentences import header_lines, hottest_heading, mostly_baseline
    from nipype_carbon.report.units import emissions, energy

    lines = ["nipype-carbon: run summary", *header_lines(report)]
    hottest = top_nodes(report, top).to_dict("records")
    lines += [hottest_heading(report)] if hottest else []
    for row in hottest:
        note = mostly_baseline(row)
        lines.append(
            f"  {energy(row['energy_j']):>9}  {emissions(row['emissions_g']):>13}  "
            f"cpu {row['cpu_s']:8.2f} s  [{row['method']}]  {row['node']}"
            + (f"  ({note})" if note else "")
        )
    return "\n".join(visible(line) for line in lines)


def log_run_summary(session: Any, logger: logging.Logger) -> None:
    """Log the summary of a finished run's session, priced with the settings it recorded.

    Never raises: the workflow has finished, and its session is on disk whatever happens here.
    """
    if session is None:
        return
    from nipype_carbon.report.escape import visible  # standard library only

    try:  # the report's modules load here: the adapters import this one beside the nodes
        from nipype_carbon.report.model import build_report

        text = summary_text(build_report(session))
    except ImportError as err:  # pandas missing where the workflow ran
        text = f"nipype-carbon: summary skipped ({err}); render it with `nipype-carbon report`"
    except Exception as err:
        logger.warning("nipype-carbon: summary not rendered: %s", visible(err), exc_info=True)
        text = "nipype-carbon: summary not rendered; the session is complete on disk"
    logger.info("%s\n  session: %s", text, visible(session.path))
