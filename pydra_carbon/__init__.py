"""The Pydra adapter: a ``carbon`` worker and carbon hooks that meter Pydra 1.0 tasks.

Every task is measured where it runs and recorded in the same session format
as the Nipype plugin, so every ``nipype-carbon`` report works unchanged.

Usage::

    from pydra.engine.submitter import Submitter
    with Submitter(worker="carbon", base="cf", n_procs=4, region="GB") as sub:
        result = sub(my_workflow)

Built on nipype_carbon's core; imports pydra, never nipype.
"""

from pydra_carbon.hooks import TaskMeter
from pydra_carbon.recorder import CarbonRecorder
from pydra_carbon.worker import CarbonWorker

__all__ = ["CarbonRecorder", "CarbonWorker", "TaskMeter"]
