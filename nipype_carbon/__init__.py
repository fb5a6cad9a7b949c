"""nipype-carbon: per-node energy and carbon profiles of neuroimaging workflows.

The package is laid out by stage, each importing only the stages below it::

    plugin/ (Nipype adapter), cli/      the engines and the user
    report/                             one report model and its renderers
    analyse/                            host timelines, attribution, carbon
    record/                             run recorder, spool, session, settings
    measure/                            meters, node meter, process tree, host
    reference/                          shipped tables: rated power, grid intensity

The Pydra adapter is the sibling package ``pydra_carbon``. The core (all but
the adapters) imports neither nipype nor pydra. The public names below are
loaded on first use, so ``import nipype_carbon`` stays cheap; importing it
registers the ``Carbon<Name>`` plugin names with nipype (when nipype loads,
without importing it).

In a notebook::

    import nipype_carbon
    nodes = nipype_carbon.read_nodes("work/wf/carbon", region="GB")  # a pandas DataFrame
    nodes.nlargest(5, "energy_j")[["node", "energy_j", "emissions_g", "method"]]
"""

from __future__ import annotations

from nipype_carbon._version import __version__ as __version__
from nipype_carbon.plugin.names import install as _install_nipype_plugins

#: not ``typing.TYPE_CHECKING``: this module loads at every interpreter start-up, and
#: importing ``typing`` alone costs more than all of nipype-carbon's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: public name -> module that defines it: what a user calls (run a workflow, read a run, price
#: it for a grid, catch what was refused), not the machinery inside
_PUBLIC = {
    # metering a run
    "CarbonPlugin": "nipype_carbon.plugin.runner",
    "CarbonSettings": "nipype_carbon.record.settings",
    # reading a run
    "load_session": "nipype_carbon.record.reader",
    "Session": "nipype_carbon.record.session",
    "NodeRecord": "nipype_carbon.record.records",
    "build_report": "nipype_carbon.report.model",
    "Report": "nipype_carbon.report.model",
    "read_nodes": "nipype_carbon.report.model",
    # grids
    "GridIntensity": "nipype_carbon.reference.grids",
    "resolve_intensity": "nipype_carbon.reference.grids",
    # what nipype-carbon refused
    "NipypeCarbonError": "nipype_carbon.errors",
    "SettingsError": "nipype_carbon.record.settings",
    "SessionError": "nipype_carbon.record.runs",
    "UnknownRegionError": "nipype_carbon.reference.grids",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'nipype_carbon' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


_install_nipype_plugins()
