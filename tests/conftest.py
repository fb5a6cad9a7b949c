"""Fixtures shared by every test: no network, no sampler thread left behind."""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from nipype_carbon.measure.nodemeter import SAMPLER_THREAD_NAME

# nipype's and pydra's version checks (etelemetry) ask a web server: not in tests
os.environ.setdefault("NO_ET", "1")
os.environ.setdefault("NIPYPE_NO_ET", "1")

_real_connect = socket.socket.connect


def _is_loopback(address: object) -> bool:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return True  # AF_UNIX paths and the like stay on this machine


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
        raise RuntimeError(f"tests may not open network connections (tried {address!r})")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _no_sampler_thread_left() -> Iterator[None]:
    yield
    left = [t for t in threading.enumerate() if t.name == SAMPLER_THREAD_NAME and t.is_alive()]
    assert not left, f"a NodeMeter sampler thread outlived the test: {left}"


@pytest.fixture(scope="session")
def slurm_env() -> dict[str, str]:
    """The local single-node SLURM (started if needed): the variables its clients need."""
    from tests.support.slurm import SlurmUnavailableError, ensure_local_slurm

    try:
        return ensure_local_slurm()
    except SlurmUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def slurm(slurm_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``SLURM_CONF`` and ``LOGNAME`` in this test's environment."""
    for key, value in slurm_env.items():
        monkeypatch.setenv(key, value)
    return slurm_env


@pytest.fixture(autouse=True, scope="session")
def _own_user_folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's own cache and state folders (runtime folders, held records) in a folder
    of the test session's, not the real home."""
    base = tmp_path_factory.mktemp("user-folders")
    saved = {k: os.environ.get(k) for k in ("XDG_CACHE_HOME", "XDG_STATE_HOME")}
    os.environ["XDG_CACHE_HOME"] = str(base / "cache")
    os.environ["XDG_STATE_HOME"] = str(base / "state")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
