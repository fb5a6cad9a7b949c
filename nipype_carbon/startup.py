"""What every Python process does at start-up where nipype-carbon is installed.

Two ways in, both cheap (the standard library and this package's first lines;
``benchmarks/cost/overhead.py`` prints the cost):

- **installed with pip**: a ``nipype_carbon-startup.pth`` file in site-packages
  imports this module, so ``plugin: CarbonMultiProc`` in an app's plugin file
  (fMRIPrep's ``--use-plugin``) resolves without the app importing
  nipype_carbon;
- **under** ``nipype-carbon run``: a ``sitecustomize`` in the run's runtime
  folder on ``PYTHONPATH`` imports it (this also works inside a container
  whose Python has only nipype).

Importing ``nipype_carbon`` makes the ``Carbon<Name>`` plugin names known once
nipype loads. With ``NIPYPE_CARBON_RUN`` set (by ``nipype-carbon run``), every
``Workflow.run`` and Pydra ``Submitter`` of the process is also metered: the
engines' entry points are wrapped right after the program imports them, and
nothing of nipype or pydra is imported here.
"""

from __future__ import annotations

import os

#: set by ``nipype-carbon run`` for COMMAND: meter every workflow in every Python process
#: (``record.settings.RUN_VARIABLE``, not imported: start-up stays light)
RUN_VARIABLE = "NIPYPE_CARBON_RUN"


def boot() -> None:
    """Register the plugin names; under ``nipype-carbon run``, meter every run of every
    engine adapter (:data:`nipype_carbon.adapters.ADAPTERS`)."""
    import nipype_carbon  # noqa: F401 - registers the Carbon plugin names when nipype loads

    if os.environ.get(RUN_VARIABLE):
        from nipype_carbon._importhook import after_import
        from nipype_carbon.adapters import ADAPTERS

        for adapter in ADAPTERS:
            after_import(adapter.engine_module, adapter.patch_engine)


try:
    boot()
except Exception as _err:  # start-up of the user's program never fails because of us
    import sys

    print(f"nipype-carbon: start-up hook not installed: {_err}", file=sys.stderr)
