"""Make ``Carbon<Name>`` plugin names known to nipype.

``import nipype_carbon`` must stay light (the core imports no engine), yet
``wf.run(plugin="CarbonMultiProc")`` must work whichever of nipype and
nipype_carbon was imported first. So: if nipype's plugin module is already
loaded, register now; otherwise a small import hook registers right after
nipype loads it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

PLUGINS_MODULE = "nipype.pipeline.plugins"


def register(plugins: ModuleType | None = None) -> list[str]:
    """Add ``Carbon<Name>Plugin`` for every ``<Name>Plugin`` of nipype; return the names."""
    from nipype_carbon.plugin.runner import CarbonPlugin

    plugins = plugins or sys.modules[PLUGINS_MODULE]
    added = []
    for attr in list(vars(plugins)):
        if not attr.endswith("Plugin") or attr.startswith("Carbon"):
            continue
        base = attr[: -len("Plugin")]
        cls = type(
            f"Carbon{attr}",
            (CarbonPlugin,),
            {
                "__init__": _init_for(base),
                "__module__": PLUGINS_MODULE,
                "__doc__": f"The {base} plugin with an energy meter on every node.",
            },
        )
        setattr(plugins, f"Carbon{attr}", cls)
        added.append(f"Carbon{base}")
    plugins.CarbonPlugin = CarbonPlugin  # type: ignore[attr-defined]
    return added


def _init_for(base: str) -> Any:
    from nipype_carbon.plugin.runner import CarbonPlugin

    def __init__(self: CarbonPlugin, plugin_args: dict | None = None) -> None:
        CarbonPlugin.__init__(self, base, plugin_args)

    return __init__


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Registers the Carbon plugins once nipype has loaded its plugin module."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != PLUGINS_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            spec = getattr(finder, "find_spec", lambda *a: None)(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader)
                return spec
        return None


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        try:
            register(module)
        except Exception:  # never break nipype's own import
            import logging

            logging.getLogger("nipype_carbon").warning("Carbon plugins not registered", exc_info=True)


def install() -> None:
    """Register now if nipype is loaded, else when it loads."""
    if PLUGINS_MODULE in sys.modules:
        register(sys.modules[PLUGINS_MODULE])
    elif not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
