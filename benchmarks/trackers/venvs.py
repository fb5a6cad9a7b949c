"""Virtual environments for the peer trackers compared by ``benchmarks/trackers/compare.py``.

Each peer gets its own environment, made from Debian's ``/usr/bin/python3``, with the
versions it needs (pins stated here, with the reason) and the DWI example's own
dependencies (nipype, dipy, nitime), so the same workflow runs under each tool. An
environment is made once and reused while its requirements are unchanged (a stamp file
holds them), so reruns are fast.

Usage (make or refresh them all)::

    python -m benchmarks.trackers.venvs [--venv-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VENV_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / (
    "nipype-carbon-trackers"
)
BASE_PYTHON = "/usr/bin/python3"
#: the example's dependencies, as in the project's environment
EXAMPLE_DEPS = ("nipype==1.11.0", "dipy", "nitime", "nibabel", "psutil")


@dataclass(frozen=True)
class PeerEnv:
    """One peer's environment: what pip installs, and why any pin is there."""

    name: str
    requirements: tuple[str, ...]
    why_pins: str = ""

    def path(self, venv_dir: Path) -> Path:
        return venv_dir / self.name

    def python(self, venv_dir: Path) -> Path:
        return self.path(venv_dir) / "bin" / "python"

    def stamp(self) -> str:
        return "\n".join((*self.requirements, *EXAMPLE_DEPS)) + "\n"


PEER_ENVS = {
    env.name: env
    for env in (
        PeerEnv("codecarbon", ("codecarbon==3.3.2",)),
        PeerEnv("carbontracker", ("carbontracker==2.4.7",)),
        PeerEnv(
            "eco2ai",
            ("eco2ai==0.3.12", "pandas<3"),
            "pandas<3: eco2ai 0.3.12 crashes in stop() with pandas 3 (chained assignment)",
        ),
        PeerEnv(
            "experiment-impact-tracker",
            ("experiment-impact-tracker==0.1.8", "pandas<2", "numpy<2"),
            "pandas<2 (and numpy<2 for its wheels): experiment-impact-tracker 0.1.8 uses "
            "DataFrame.append, removed in pandas 2",
        ),
    )
}


def ensure_env(env: PeerEnv, venv_dir: Path, log: Path | None = None) -> Path:
    """Make (or reuse) ``env`` under ``venv_dir``; return its python. Raises on failure."""
    path = env.path(venv_dir)
    stamp = path / "nipype-carbon-requirements.txt"
    python = env.python(venv_dir)
    if stamp.exists() and stamp.read_text() == env.stamp() and python.exists():
        return python
    path.parent.mkdir(parents=True, exist_ok=True)
    out = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        subprocess.run([BASE_PYTHON, "-m", "venv", "--clear", str(path)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *env.requirements, *EXAMPLE_DEPS], check=True, stdout=out, stderr=out)
    finally:
        if log:
            out.close()  # type: ignore[union-attr]
    stamp.write_text(env.stamp())
    return python


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venv-dir", type=Path, default=DEFAULT_VENV_DIR)
    p.add_argument("peers", nargs="*", default=list(PEER_ENVS), choices=list(PEER_ENVS))
    args = p.parse_args(argv)
    failed = 0
    for name in args.peers:
        try:
            print(name, ensure_env(PEER_ENVS[name], args.venv_dir), flush=True)
        except subprocess.CalledProcessError as err:
            failed += 1
            print(f"{name}: failed ({err})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
