"""The ``carbon`` Pydra worker: ``Submitter(worker="carbon", base="cf", region="GB")``.

Pydra 1.0 finds a worker named ``carbon`` by importing ``pydra.workers.carbon``
(a module of the ``pydra`` namespace package) and taking its ``Worker``. The
code lives in :mod:`pydra_carbon`. Pydra imports every ``pydra.workers``
module whenever it looks up any worker by name, so a failure to import
pydra_carbon must not break the other workers: it is reported when ``carbon``
itself is asked for.
"""

from __future__ import annotations

from typing import Any

try:
    from pydra_carbon.worker import CarbonWorker
except ImportError as _error:  # keep pydra's other workers usable
    from pydra.workers.base import Worker as _Worker

    _import_error = _error

    class CarbonWorker(_Worker):  # type: ignore[no-redef]
        """Stands in for the carbon worker when pydra_carbon cannot be imported."""

        _plugin_name = "carbon"

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                f"the carbon worker needs pydra_carbon, which failed to import: {_import_error}"
            ) from _import_error

        def run(self, job: Any, rerun: bool = False) -> Any:
            raise NotImplementedError


Worker = CarbonWorker

__all__ = ["CarbonWorker", "Worker"]
