"""Call a function on a module right after it is first imported (a post-import hook).

The adapters use it to touch an engine only once the user's program has loaded
it: the Nipype adapter registers its plugin names on ``nipype.pipeline.plugins``,
and under ``nipype-carbon run`` the engines' run entry points are wrapped. Nothing
here imports an engine; a failing callback is logged, never raised into the
import.

Standard library only: this module is imported at interpreter start-up.
"""

from __future__ import annotations

import _thread
import sys

#: not ``typing.TYPE_CHECKING``: this module loads at every interpreter start-up, and
#: importing ``typing`` alone costs more than all of nipype-carbon's start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
    from typing import Any


_callbacks: dict[str, list[Callable[[ModuleType], None]]] = {}
_lock = _thread.allocate_lock()  # not threading: cheaper at start-up


def after_import(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Run ``callback(module)`` once module ``name`` is imported (now, if it already is).

    A callback is registered once per (name, callback): installing twice is harmless.
    """
    with _lock:
        callbacks = _callbacks.setdefault(name, [])
        if callback in callbacks:
            return
        callbacks.append(callback)
        if not any(isinstance(f, _AfterImport) for f in sys.meta_path):
            sys.meta_path.insert(0, _AfterImport())
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__spec__", None) is not None:
        _call(callback, module)


def _call(callback: Callable[[ModuleType], None], module: ModuleType) -> None:
    try:
        callback(module)
    except Exception:  # never break the program's own import
        import logging

        logging.getLogger("nipype_carbon").warning(
            "nipype-carbon: hook on %s failed", module.__name__, exc_info=True
        )


class _AfterImport:
    """Wraps the loader of a watched module so the callbacks run after it executes.

    A meta path finder by protocol (``find_spec``), not by subclassing
    ``importlib.abc``: that module alone costs milliseconds at every start-up.
    """

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _callbacks:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None and spec.loader is not None:
                spec.loader = _Loader(spec.loader, fullname)
                return spec
        return None


class _Loader:
    """A loader by protocol: the real one's module, then the callbacks."""

    def __init__(self, inner: Any, name: str) -> None:
        self.inner = inner
        self.name = name

    def create_module(self, spec: Any) -> Any:
        return self.inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.inner.exec_module(module)
        for callback in list(_callbacks.get(self.name, ())):
            _call(callback, module)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ...
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)
