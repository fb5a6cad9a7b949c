"""Meter every ``Workflow.run`` of a program that never heard of nipype-carbon.

Under ``nipype-carbon run -- COMMAND`` each Python process that COMMAND starts
loads :mod:`nipype_carbon.startup`, which calls :func:`patch_workflow` once
nipype's workflow module is imported. From then on ``Workflow.run`` swaps the
plugin it is given for its Carbon variant:

- a name (``"MultiProc"``, from code or a ``--use-plugin`` YAML file) becomes
  ``"CarbonMultiProc"`` with the same ``plugin_args``;
- a plugin object (nipype's class, an app's subclass, or an app's own copy such
  as niworkflows' ``MultiProcPlugin`` with its forkserver pool) is wrapped in a
  :class:`~nipype_carbon.plugin.runner.CarbonPlugin` that drives that very
  object, pool and all;
- a Carbon plugin is left as it is;
- a workflow run from inside a metered node (a node that runs a workflow of its own) is left
  as it is: it is part of that node's work, already metered.

The carbon settings come from the ``NIPYPE_CARBON_*`` variables the command set.
A run that cannot be wrapped still runs, unmetered; a warning says why and a
note is left in the carbon directory, so the command's report counts it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from nipype_carbon.files.safe import write_new
from nipype_carbon.record.noderun import inside_node
from nipype_carbon.record.settings import ENV_PREFIX, RUN_VARIABLE

logger = logging.getLogger("nipype.workflow")

#: the note left in the carbon directory by a workflow run that could not be metered
UNMETERED_PREFIX = "unmetered-"


def patch_workflow(module: ModuleType) -> None:
    """Wrap ``module.Workflow.run`` (``nipype.pipeline.engine.workflows``); idempotent."""
    workflow_cls = module.Workflow
    original = workflow_cls.run
    if getattr(original, "_nipype_carbon", False):
        return

    @functools.wraps(original)
    def run(self: Any, plugin: Any = None, plugin_args: dict | None = None, **kwargs: Any) -> Any:
        if inside_node():  # a workflow run by a node: that node's meter already counts it
            return original(self, plugin=plugin, plugin_args=plugin_args, **kwargs)
        try:
            plugin, plugin_args = carbon_variant(plugin, plugin_args)
        except Exception as err:  # the program's run goes on, unmetered and said so
            logger.warning("nipype-carbon: workflow %s not metered: %s", self.name, err)
            _leave_note(self.name, err)
        return original(self, plugin=plugin, plugin_args=plugin_args, **kwargs)

    run._nipype_carbon = True  # type: ignore[attr-defined]
    workflow_cls.run = run


def carbon_variant(plugin: Any, plugin_args: dict | None) -> tuple[Any, dict | None]:
    """The Carbon plugin (name or object) to run in place of ``plugin``."""
    from nipype_carbon.plugin.runner import CarbonPlugin

    if plugin is None:
        from nipype import config

        plugin = config.get("execution", "plugin")
    if isinstance(plugin, bytes):
        plugin = plugin.decode()
    if isinstance(plugin, str):
        name = plugin[: -len("Plugin")] if plugin.endswith("Plugin") else plugin
        if name.startswith("Carbon"):
            return plugin, plugin_args
        from nipype_carbon.plugin.runner import base_plugin_class

        base_plugin_class(name)  # an unknown name: not metered, and nipype says why
        return f"Carbon{name}", plugin_args
    if isinstance(plugin, CarbonPlugin):
        return plugin, plugin_args
    runner = CarbonPlugin(plugin, dict(getattr(plugin, "plugin_args", None) or {}))
    return runner, plugin_args


def _leave_note(workflow: str, err: BaseException) -> None:
    """A one-line JSON note in the carbon directory: this run was not metered, and why."""
    directory = os.environ.get(f"{ENV_PREFIX}CARBON_DIR")
    if not directory:
        return
    try:
        note = {
            "launched_by": os.environ.get(RUN_VARIABLE),
            "workflow": workflow,
            "time": time.time(),
            "pid": os.getpid(),
            "error": f"{type(err).__name__}: {err}",
        }
        path = Path(directory) / f"{UNMETERED_PREFIX}{os.getpid()}-{time.time_ns()}.json"
        write_new(path, json.dumps(note) + "\n")  # created afresh: no link followed
    except OSError as write_err:
        logger.warning("nipype-carbon: note of the unmetered run not written: %s", write_err)
