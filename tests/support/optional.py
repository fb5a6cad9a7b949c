"""Skip markers for tests that need optional tools, with the reason and the fix.

The example pipelines need MRtrix3 (Debian's ``mrtrix3``) and the Python packages dipy,
nitime and nibabel; ``bash scripts/install-example-deps.sh`` installs them. Without them
these tests are skipped with that message, never errors.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

INSTALL_HINT = "run bash scripts/install-example-deps.sh"


def missing(modules: tuple[str, ...] = (), commands: tuple[str, ...] = ()) -> list[str]:
    """Names of the Python modules and commands (of those given) that are not installed."""
    absent = [m for m in modules if importlib.util.find_spec(m) is None]
    return absent + [f"{c} (MRtrix3)" for c in commands if shutil.which(c) is None]


def needs(modules: tuple[str, ...] = (), commands: tuple[str, ...] = ()) -> pytest.MarkDecorator:
    """A ``skipif`` marker naming what is missing and how to install it."""
    absent = missing(modules, commands)
    return pytest.mark.skipif(bool(absent), reason=f"{', '.join(absent)} missing; {INSTALL_HINT}")


needs_dipy = needs(modules=("dipy",))
needs_example_deps = needs(("dipy", "nitime", "nibabel"), ("dwidenoise",))
