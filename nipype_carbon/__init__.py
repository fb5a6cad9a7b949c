"""nipype-carbon: per-node energy and carbon profiles of neuroimaging workflows.

The core (meters, node meter, session, attribution, carbon) imports neither
nipype nor pydra; the engine adapters live in their own subpackages.
"""

from nipype_carbon._version import __version__
from nipype_carbon.attribution import AttributionResult, attribute_energy
from nipype_carbon.carbon import GridIntensity, UnknownRegionError, resolve_intensity
from nipype_carbon.nodemeter import Measurement, NodeMeter

# ``Carbon<Name>`` plugins for nipype, registered when nipype loads (no nipype import here)
from nipype_carbon.plugin_hook import install as _install_nipype_plugins
from nipype_carbon.session import NodeRecord, Session, SessionError, load_session
from nipype_carbon.settings import CarbonSettings, SettingsError

_install_nipype_plugins()

__all__ = [
    "AttributionResult",
    "CarbonSettings",
    "GridIntensity",
    "Measurement",
    "NodeMeter",
    "NodeRecord",
    "Session",
    "SessionError",
    "SettingsError",
    "UnknownRegionError",
    "__version__",
    "attribute_energy",
    "load_session",
    "resolve_intensity",
]
