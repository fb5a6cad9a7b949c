"""Make ``Carbon<Name>`` plugin names known to nipype.

``import nipype_carbon`` must stay light (the core imports no engine), yet
``wf.run(plugin="CarbonMultiProc")`` must work whichever of nipype and
nipype_carbon was imported first. So: if nipype's plugin module is already
loaded, register now; otherwise a small import hook
(:mod:`nipype_carbon._importhook`) registers right after nipype loads it.
"""

from __future__ import annotations

import sys

from nipype_carbon._importhook import after_import

#: not ``typing.TYPE_CHECKING``: this module loads at every interpreter start-up, and
#: importing ``typing`` alone costs more than all of nipype-carbon's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

PLUGINS_MODULE = "nipype.pipeline.plugins"


def register(plugins: ModuleType | None = None) -> None:
    """Make ``Carbon<Name>Plugin`` resolvable on nipype's plugin module.

    The classes are made on first access (a module ``__getattr__``), so
    registering imports nothing, even while nipype_carbon's own plugin module
    is being imported.
    """
    plugins = plugins or sys.modules[PLUGINS_MODULE]
    previous = getattr(plugins, "__getattr__", None)
    if getattr(previous, "_nipype_carbon", False):
        return

    def __getattr__(name: str) -> Any:
        if name == "CarbonPlugin" or (name.startswith("Carbon") and name.endswith("Plugin")):
            cls = carbon_plugin_class(plugins, name)
            setattr(plugins, name, cls)
            return cls
        if previous is not None:
            return previous(name)
        raise AttributeError(f"module {plugins.__name__!r} has no attribute {name!r}")

    __getattr__._nipype_carbon = True  # type: ignore[attr-defined]
    plugins.__getattr__ = __getattr__  # type: ignore[method-assign]


def carbon_plugin_class(plugins: ModuleType, name: str) -> type:
    """``CarbonMultiProcPlugin``: a CarbonPlugin subclass whose base is ``MultiProcPlugin``."""
    from nipype_carbon.plugin.runner import CarbonPlugin

    if name == "CarbonPlugin":
        return CarbonPlugin
    base = name[len("Carbon") : -len("Plugin")]
    if not isinstance(getattr(plugins, f"{base}Plugin", None), type):
        raise _no_such_plugin(plugins, base)

    def __init__(self: CarbonPlugin, plugin_args: dict | None = None) -> None:
        CarbonPlugin.__init__(self, base, plugin_args)

    doc = f"The {base} plugin with an energy meter on every node."
    return type(name, (CarbonPlugin,), {"__init__": __init__, "__doc__": doc})


def _no_such_plugin(plugins: ModuleType, base: str) -> AttributeError:
    """The error for ``plugin="Carbon<base>"`` where nipype has no ``<base>``: the name in
    the right case when that is all that is wrong, else the closest ones and where the list is."""
    import difflib

    known = sorted(n[: -len("Plugin")] for n in dir(plugins) if n.endswith("Plugin"))
    known = [n for n in known if n and not n.startswith("Carbon")]
    same = [n for n in known if n.lower() == base.lower()]
    if same:
        hint = f"did you mean plugin='Carbon{same[0]}'? (plugin names are case-sensitive)"
    else:
        close = difflib.get_close_matches(base, known, n=3)
        hint = (
            f"did you mean {' or '.join(repr('Carbon' + c) for c in close)}? " if close else ""
        ) + f"(nipype's plugins: {', '.join(known)}, each with a Carbon variant)"
    err = AttributeError(
        f"nipype-carbon: no nipype plugin {base!r} to meter as 'Carbon{base}'; {hint}"
    )
    err.name, err.obj = None, None  # no guess of Python's own beside ours
    return err


def install() -> None:
    """Register now if nipype is loaded, else when it loads."""
    after_import(PLUGINS_MODULE, register)
