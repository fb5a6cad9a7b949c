"""The Nipype adapter: ``Carbon<Name>`` plugins that meter every node.

Usage::

    import nipype_carbon
    wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": 8, "region": "CA-QC"})

Modules: :mod:`~nipype_carbon.plugin.runner` (``CarbonPlugin``, the run),
:mod:`~nipype_carbon.plugin.metered` (what travels with each node),
:mod:`~nipype_carbon.plugin.names` (plugin names made known to nipype). This
package imports nipype only when ``CarbonPlugin`` is asked for, so the hook
can be installed without loading nipype.
"""

from __future__ import annotations

from nipype_carbon.plugin.names import install, register

#: not ``typing.TYPE_CHECKING``: this module loads at every interpreter start-up, and
#: importing ``typing`` alone costs more than all of nipype-carbon's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CarbonPlugin", "install", "register"]


def __getattr__(name: str) -> Any:
    if name == "CarbonPlugin":
        from nipype_carbon.plugin.runner import CarbonPlugin

        return CarbonPlugin
    raise AttributeError(f"module 'nipype_carbon.plugin' has no attribute {name!r}")
