"""The ``carbon`` Pydra worker: ``Submitter(worker="carbon", base="cf", region="GB")``.

Pydra 1.0 finds a worker named ``carbon`` by importing ``pydra.workers.carbon``
(a module of the ``pydra`` namespace package) and taking its ``Worker``. Pydra
imports every ``pydra.workers`` module whenever it looks up any worker by
name, so this module is imported by every Pydra user: it imports nothing of
nipype-carbon and changes nothing. The real worker
(:class:`pydra_carbon.worker.CarbonWorker`) is loaded when a carbon worker is
made; an import failure is reported then, and only then.
"""

from __future__ import annotations

from typing import Any

import pydra.engine  # noqa: F401 - pydra.workers.base cannot be the first pydra import
from pydra.workers.base import Worker as _Worker


class Worker(_Worker):
    """Stands for :class:`pydra_carbon.worker.CarbonWorker` until one is made."""

    _plugin_name = "carbon"

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        from pydra_carbon.worker import CarbonWorker

        return CarbonWorker(*args, **kwargs)

    def run(self, job: Any, rerun: bool = False) -> Any:  # never called: __new__ returns another
        raise NotImplementedError


__all__ = ["Worker"]
