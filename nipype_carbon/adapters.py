"""The engine adapters: the one list that start-up, ``nipype-carbon run`` and the runtime
folder read.

An adapter is a package that meters one engine (:mod:`nipype_carbon.plugin` for Nipype,
:mod:`pydra_carbon` for Pydra 1.0) over the engine-free core. Each names the engine
module whose run entry point it wraps under ``nipype-carbon run`` (once the program
imports it) and the function that wraps it. Adding an engine is a package and one entry
here (see docs/architecture.md, "Adding an engine adapter").

Standard library only, and no ``typing`` nor ``dataclasses``: this module loads at every
interpreter start-up.
"""

from __future__ import annotations


class Adapter:
    """One engine adapter: its name, package, the engine's run module and the wrapper."""

    __slots__ = ("engine_module", "name", "package", "patch")

    def __init__(self, name: str, package: str, engine_module: str, patch: str) -> None:
        self.name = name
        #: the package that holds the adapter (copied into ``nipype-carbon run``'s runtime)
        self.package = package
        #: the engine module whose run entry point is wrapped once it is imported
        self.engine_module = engine_module
        #: ``module:function`` that wraps it, given the engine module
        self.patch = patch

    def patch_engine(self, module: object) -> None:
        """Wrap the engine module's run entry point (the adapter is imported only now)."""
        import importlib

        where, name = self.patch.split(":")
        getattr(importlib.import_module(where), name)(module)

    def __repr__(self) -> str:
        return f"Adapter({self.name!r}, {self.package!r})"


ADAPTERS = (
    Adapter(
        "nipype",
        package="nipype_carbon",
        engine_module="nipype.pipeline.engine.workflows",
        patch="nipype_carbon.plugin.apprun:patch_workflow",
    ),
    Adapter(
        "pydra",
        package="pydra_carbon",
        engine_module="pydra.engine.submitter",
        patch="pydra_carbon.apprun:patch_submitter",
    ),
)


def packages() -> tuple[str, ...]:
    """The packages a runtime folder holds: the core and every adapter's."""
    return tuple(dict.fromkeys(("nipype_carbon", *(a.package for a in ADAPTERS))))
