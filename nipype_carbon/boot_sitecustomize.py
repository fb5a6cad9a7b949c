# The runtime folder's sitecustomize.py: `nipype-carbon run` copies this file there under
# that name, first on COMMAND's PYTHONPATH. Every Nipype and Pydra run of a Python process
# that reads it is metered; then the sitecustomize it hides (if any) runs as usual. Plain
# syntax on purpose (no annotations, no f-strings): any Python a command starts reads this
# file, and older ones must not choke. Imported under its own name, it does nothing.
import os
import sys


def _nipype_carbon_boot():
    # type: () -> None
    if sys.version_info < (3, 10):
        return
    try:
        import nipype_carbon.startup  # noqa: F401
    except Exception as err:
        sys.stderr.write("nipype-carbon: this process is not metered: %s\n" % (err,))


def _nipype_carbon_chain():
    # type: () -> None
    if sys.version_info < (3, 4):
        return
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


if __name__ == "sitecustomize":
    _nipype_carbon_boot()
    _nipype_carbon_chain()
