"""The Nipype adapter: ``Carbon<Name>`` plugins that meter every node.

>>> import nipype_carbon                     # doctest: +SKIP
>>> wf.run(plugin="CarbonMultiProc", plugin_args={"n_procs": 8, "region": "CA-QC"})  # doctest: +SKIP
"""

from nipype_carbon.plugin_hook import install, register
from nipype_carbon.plugin.runner import CarbonPlugin

__all__ = ["CarbonPlugin", "install", "register"]
