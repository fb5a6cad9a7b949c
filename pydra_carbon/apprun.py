"""Meter every Pydra ``Submitter`` of a program that never heard of nipype-carbon.

Under ``nipype-carbon run -- python script.py`` each Python process loads
:mod:`nipype_carbon.startup`, which calls :func:`patch_submitter` once Pydra's
submitter module is imported. From then on a ``Submitter(worker=W, ...)`` gets a
:class:`~pydra_carbon.worker.CarbonWorker` wrapping the worker the script chose
(a name, a Worker class with the script's keywords, or a Worker object); a
carbon worker is left as it is. The carbon settings come from the
``NIPYPE_CARBON_*`` variables the command set. A submitter whose worker cannot
be wrapped still works, unmetered, with a warning and a note in the carbon
directory (:func:`~nipype_carbon.record.runs.leave_unmetered_note`), so the
command's report lists it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from types import ModuleType
from typing import Any

from nipype_carbon.record.noderun import inside_node
from nipype_carbon.record.runs import leave_unmetered_note
from nipype_carbon.record.settings import ENV_PREFIX, RUN_VARIABLE

logger = logging.getLogger("pydra.carbon")


def patch_submitter(module: ModuleType) -> None:
    """Wrap ``module.Submitter.__init__`` (``pydra.engine.submitter``); idempotent."""
    submitter_cls = module.Submitter
    original = submitter_cls.__init__
    if getattr(original, "_nipype_carbon", False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if inside_node():  # a submitter inside a metered task: that task's meter counts it
            original(self, *args, **kwargs)
            return
        try:
            args, kwargs = carbon_arguments(signature, self, args, kwargs)
        except Exception as err:  # the script's submitter works, unmetered and said so
            logger.warning("pydra-carbon: submitter not metered: %s", err)
            leave_unmetered_note(
                os.environ.get(f"{ENV_PREFIX}CARBON_DIR"),
                os.environ.get(RUN_VARIABLE),
                "pydra submitter",
                err,
                engine="pydra",
            )
        original(self, *args, **kwargs)

    __init__._nipype_carbon = True  # type: ignore[attr-defined]
    submitter_cls.__init__ = __init__


def carbon_arguments(
    signature: inspect.Signature, submitter: Any, args: tuple, kwargs: dict[str, Any]
) -> tuple[tuple, dict[str, Any]]:
    """The submitter's arguments with its worker swapped for a carbon worker around it."""
    from pydra_carbon.worker import CarbonWorker

    bound = signature.bind(submitter, *args, **kwargs)
    named = {k: v for k, v in bound.arguments.items() if k not in ("self", "kwargs")}
    worker_kwargs = dict(bound.arguments.get("kwargs", {}))
    worker = named.get("worker", signature.parameters["worker"].default)
    if worker is None:
        worker = "debug"
    if _is_carbon(worker):
        return args, kwargs
    named["worker"] = CarbonWorker(worker, **worker_kwargs)
    return (), named


def _is_carbon(worker: Any) -> bool:
    from pydra_carbon.worker import CarbonWorker

    if isinstance(worker, str):
        return worker == "carbon"
    if isinstance(worker, type):
        return getattr(worker, "_plugin_name", None) == "carbon"
    return isinstance(worker, CarbonWorker)
