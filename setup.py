"""Build hook: ship ``nipype_carbon-startup.pth`` at the top of site-packages.

Everything else about the package is declared in setup.cfg. The ``.pth`` file
makes each Python process of the environment import :mod:`nipype_carbon.startup`
(cheap: it registers the ``Carbon<Name>`` plugin names for when nipype loads),
so an app that only reads ``plugin: CarbonMultiProc`` from a plugin file finds
the plugin without importing nipype_carbon. An editable install (``pip install
-e``) gets no ``.pth`` of ours: setuptools installs only its own there.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

PTH_NAME = "nipype_carbon-startup.pth"
#: one line; Python's site module runs lines that start with "import"
PTH_LINE = "import nipype_carbon.startup\n"


class BuildWithStartup(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib) / PTH_NAME
        target.write_text(PTH_LINE, encoding="utf-8")

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / PTH_NAME)]


setup(cmdclass={"build_py": BuildWithStartup})
