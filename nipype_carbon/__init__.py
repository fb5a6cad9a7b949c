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
"""

from __future__ import annotations

from nipype_carbon._version import __version__ as __version__
from nipype_carbon.plugin.names import install as _install_nipype_plugins

#: not ``typing.TYPE_CHECKING``: this module loads at every interpreter start-up, and
#: importing ``typing`` alone costs more than all of nipype-carbon's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: public name -> module that defines it
_PUBLIC = {
    "AttributionResult": "nipype_carbon.analyse.attribution",
    "attribute_energy": "nipype_carbon.analyse.attribution",
    "emissions_g": "nipype_carbon.analyse.carbon",
    "GridIntensity": "nipype_carbon.reference.grids",
    "UnknownRegionError": "nipype_carbon.reference.grids",
    "resolve_intensity": "nipype_carbon.reference.grids",
    "Measurement": "nipype_carbon.measure.measurement",
    "NodeMeter": "nipype_carbon.measure.nodemeter",
    "NodeRecord": "nipype_carbon.record.records",
    "Session": "nipype_carbon.record.session",
    "SessionError": "nipype_carbon.record.runs",
    "load_session": "nipype_carbon.record.reader",
    "CarbonSettings": "nipype_carbon.record.settings",
    "SettingsError": "nipype_carbon.record.settings",
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
