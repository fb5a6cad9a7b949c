"""The Nipype adapter: ``Carbon<Name>`` plugins that meter every node.

Usage::

    import nipype_carbon
    wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": 8, "region": "CA-QC"})
"""

from nipype_carbon.plugin.runner import CarbonPlugin
from nipype_carbon.plugin_hook import install, register

__all__ = ["CarbonPlugin", "install", "register"]
