"""The Nipype adapter: ``Carbon<Name>`` plugins that meter every node.

>>> import nipype_carbon  # doctest: +SKIP
>>> args = {"n_procs": 8, "region": "CA-QC"}
>>> wf.run(plugin="CarbonMultiProc", plugin_args=args)  # doctest: +SKIP
"""

from nipype_carbon.plugin.runner import CarbonPlugin
from nipype_carbon.plugin_hook import install, register

__all__ = ["CarbonPlugin", "install", "register"]
