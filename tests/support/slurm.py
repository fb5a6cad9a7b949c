"""Helpers to get a real single-node SLURM on localhost for tests.

The cluster itself is started by ``scripts/slurm/start-local-slurm.sh`` (see
there for the configuration).  This module only:

* checks whether that cluster is up (:func:`slurm_available`), and
* starts it when needed and returns the environment variables that SLURM
  clients need (:func:`ensure_local_slurm`).

It deliberately does not import pytest, so it can be used from scripts too;
fixtures turn :class:`SlurmUnavailableError` into ``pytest.skip``.

Environment knobs (shared with the shell scripts):

``NIPYPE_CARBON_SLURM_DIR``
    state directory (default ``/tmp/nipype-carbon-slurm``); ``slurm.conf``
    lives there and is what ``SLURM_CONF`` points at.
``NIPYPE_CARBON_SLURM_AUTOSTART``
    set to ``0`` to never run the start script (only use a running cluster).

Note: ``sacct`` only works with ``ensure_local_slurm(accounting=True)``
(slurmdbd + a private MariaDB); without it sacct prints "Slurm accounting
storage is disabled".  nipype's SLURM/SLURMGraph plugins do not need sacct;
Pydra's slurm worker does.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from pathlib import Path

__all__ = [
    "START_SCRIPT",
    "STOP_SCRIPT",
    "SlurmUnavailableError",
    "accounting_enabled",
    "ensure_local_slurm",
    "slurm_available",
    "slurm_conf_path",
    "slurm_env",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
START_SCRIPT = REPO_ROOT / "scripts" / "slurm" / "start-local-slurm.sh"
STOP_SCRIPT = REPO_ROOT / "scripts" / "slurm" / "stop-local-slurm.sh"
DEFAULT_STATE_DIR = "/tmp/nipype-carbon-slurm"
_USABLE_STATES = {"idle", "mixed", "allocated", "completing"}


class SlurmUnavailableError(RuntimeError):
    """The local SLURM cluster is not running and cannot be started here."""


def slurm_conf_path() -> Path:
    """Path of the slurm.conf written by the start script."""
    return Path(os.environ.get("NIPYPE_CARBON_SLURM_DIR", DEFAULT_STATE_DIR)) / "slurm.conf"


def _dir_prefix() -> str:
    d = os.environ.get("NIPYPE_CARBON_SLURM_DIR")
    return f"NIPYPE_CARBON_SLURM_DIR={d} " if d else ""


def slurm_env() -> dict[str, str]:
    """Environment variables SLURM clients (sbatch/squeue/nipype/pydra) need.

    ``LOGNAME`` is required by nipype's SLURM plugin, which builds job names
    from ``os.environ["LOGNAME"]`` (KeyError in minimal containers otherwise).
    """
    logname = os.environ.get("LOGNAME") or os.environ.get("USER") or getpass.getuser()
    return {"SLURM_CONF": str(slurm_conf_path()), "LOGNAME": logname}


def _node_state(env: dict[str, str], timeout: float = 10.0) -> str | None:
    if shutil.which("sinfo") is None:
        return None
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-n", "localhost", "-o", "%T"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return None
    lines = proc.stdout.split()
    return lines[0] if lines else None


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
    except PermissionError:  # exists, owned by root (we are not root)
        return True
    except (OSError, ValueError):
        return False
    return True


def accounting_enabled() -> bool:
    """True when the written slurm.conf sends job records to slurmdbd."""
    try:
        text = slurm_conf_path().read_text()
    except OSError:
        return False
    return "AccountingStorageType=accounting_storage/slurmdbd" in text


def slurm_available(accounting: bool = False) -> bool:
    """True when the local cluster answers and its node can run jobs.

    With ``accounting=True`` it must also run slurmdbd (``sacct`` works).
    """
    conf = slurm_conf_path()
    if not conf.is_file():
        return False
    if accounting and not (
        accounting_enabled() and _pid_alive(conf.parent / "run" / "slurmdbd.pid")
    ):
        return False
    # Cheap check first: with slurmctld down, sinfo retries for about
    # MessageTimeout (10 s) before giving up.
    if not _pid_alive(conf.parent / "run" / "slurmctld.pid"):
        return False
    return _node_state(slurm_env()) in _USABLE_STATES


def ensure_local_slurm(accounting: bool = False, timeout: float = 600.0) -> dict[str, str]:
    """Make sure the local SLURM is up; return the client environment.

    Runs ``scripts/slurm/start-local-slurm.sh`` when the cluster is not up
    (that may ``apt-get install slurm-wlm munge`` on first use, which needs
    root).  Raises :class:`SlurmUnavailableError` with a readable message when
    it cannot be started (not root, autostart disabled, start failure).

    ``accounting=True`` additionally needs slurmdbd + a private MariaDB so
    that ``sacct`` answers (Pydra's slurm worker checks job exit codes with
    ``sacct``).  A cluster that already has accounting also satisfies
    ``accounting=False``; enabling it on a running cluster restarts
    slurmctld/slurmd (a few seconds; mariadb-server/slurmdbd are installed on
    first use).

    The caller must put the returned variables into ``os.environ`` (e.g. with
    ``monkeypatch.setenv``) before using nipype/pydra SLURM plugins, because
    they spawn ``sbatch``/``squeue`` with the process environment.
    """
    env = slurm_env()
    if slurm_available(accounting=accounting):
        return env

    what = "local SLURM" + (" with accounting (slurmdbd)" if accounting else "")
    cmd_hint = _dir_prefix() + ("NIPYPE_CARBON_SLURM_ACCOUNTING=1 " if accounting else "")
    if os.environ.get("NIPYPE_CARBON_SLURM_AUTOSTART", "1") == "0":
        raise SlurmUnavailableError(
            f"{what} is not running (SLURM_CONF={env['SLURM_CONF']}) and "
            f"NIPYPE_CARBON_SLURM_AUTOSTART=0; run `{cmd_hint}bash {START_SCRIPT}` as root"
        )
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not is_root:
        needed = ["slurmctld", "slurmd", "munged"] + (
            ["slurmdbd", "mariadbd"] if accounting else []
        )
        installed = all(shutil.which(c) for c in needed)
        why = "it is not installed" if not installed else "its daemons are not running"
        raise SlurmUnavailableError(
            f"{what} unavailable: {why} and this process is not root; "
            f"run `sudo {cmd_hint}bash {START_SCRIPT}` first"
        )
    run_env = dict(os.environ)
    if accounting:
        run_env["NIPYPE_CARBON_SLURM_ACCOUNTING"] = "1"
    else:  # keep whatever the existing state dir uses
        run_env.pop("NIPYPE_CARBON_SLURM_ACCOUNTING", None)
    try:
        proc = subprocess.run(
            ["bash", str(START_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=run_env,
        )
    except subprocess.TimeoutExpired as exc:
        raise SlurmUnavailableError(f"{START_SCRIPT} timed out after {timeout}s") from exc
    if proc.returncode != 0:
        raise SlurmUnavailableError(
            f"{START_SCRIPT} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
        )
    if not slurm_available(accounting=accounting):
        raise SlurmUnavailableError(
            f"{START_SCRIPT} succeeded but {what} is not usable:\n{proc.stderr[-4000:]}"
        )
    return env
