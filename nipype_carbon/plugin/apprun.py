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
import logging
import os
from types import ModuleType
from typing import Any

from nipype_carbon.record.noderun import inside_node
from nipype_carbon.record.runs import leave_unmetered_note
from nipype_carbon.record.settings import ENV_PREFIX, RUN_VARIABLE

logger = logging.getLogger("nipype.workflow")


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
    """A note in the carbon directory: this run was not metered, and why."""
    leave_unmetered_note(
        os.environ.get(f"{ENV_PREFIX}CARBON_DIR"),
        os.environ.get(RUN_VARIABLE),
        workflow,
        err,
        engine="nipype",
    )
