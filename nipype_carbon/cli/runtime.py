"""The runtime folder of ``nipype-carbon run``: what COMMAND's Python processes import.

It holds a copy of nipype_carbon and pydra_carbon and a ``sitecustomize.py``,
and goes first on COMMAND's ``PYTHONPATH``: whoever can change it can run code
as the user. So it is only ever imported from a folder no other user can
change (:func:`nipype_carbon.files.trust.change_problem`): ``<carbon
dir>/.runtime`` when the carbon directory is the user's alone, else the user's
own cache folder (``~/.cache/nipype-carbon/runtime``; the reason is printed,
with the folder a container must bind). A folder made by an earlier run is
reused only when nobody else can have changed it and its files hash to its
name; otherwise it is made afresh. It is built aside and renamed into place
whole, so a half-made folder is never imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nipype_carbon._version import __version__
from nipype_carbon.adapters import packages
from nipype_carbon.files.places import user_folder
from nipype_carbon.files.safe import FileRefused, private_dir, read_limited
from nipype_carbon.files.trust import change_problem, tree_problem

#: the packages copied into the runtime folder (the core and every engine adapter's), and
#: the files of theirs that are needed
PACKAGES = packages()
RUNTIME_SUFFIXES = (".py", ".csv", ".md")
#: the largest file of the packages read back to check a folder's content
MAX_FILE_B = 16 << 20

#: the ``sitecustomize.py`` of the runtime folder: ``nipype_carbon/boot_sitecustomize.py``,
#: copied under that name (a real file, checked by the linters and the tests like the rest)
SITECUSTOMIZE_SOURCE = Path(__file__).resolve().parents[1] / "boot_sitecustomize.py"


def sitecustomize() -> bytes:
    """The runtime folder's ``sitecustomize.py``, as this installation ships it."""
    return SITECUSTOMIZE_SOURCE.read_bytes()


@dataclass
class Runtime:
    """The runtime folder to put on ``PYTHONPATH``, and why it is not where it was asked
    for (None when it is)."""

    path: Path
    moved_because: str | None = None


def prepare_runtime(carbon_dir: Path, runtime_dir: Path | None = None) -> Runtime:
    """The runtime folder for this installation: reused when it can be trusted, else made.

    ``runtime_dir`` (``--runtime-dir``) must be a folder only the user can change;
    without it, ``<carbon_dir>/.runtime`` is used when it is one, else the user's cache.
    Raises :class:`~nipype_carbon.files.safe.FileRefused` with the reason.
    """
    files = list(runtime_files())
    digest = content_digest((relative, source.read_bytes()) for source, relative in files)
    name = f"{__version__}-{digest[:12]}"
    if runtime_dir is not None:
        problem = change_problem(runtime_dir)
        if problem is not None:
            raise FileRefused(0, f"--runtime-dir {runtime_dir}: {problem}: give a folder of yours")
        base, moved = private_dir(runtime_dir, 0o755), None
    else:
        base, moved = _default_base(carbon_dir)
    target = base / name
    if target.exists() or target.is_symlink():
        if _trusted_copy(target, files, digest):
            return Runtime(target, moved)
        _discard(target)
    _build(target, files)
    return Runtime(target, moved)


def _default_base(carbon_dir: Path) -> tuple[Path, str | None]:
    """``<carbon_dir>/.runtime`` when nobody else can change it, else the user's cache."""
    candidate = carbon_dir / ".runtime"
    problem = change_problem(candidate)
    if problem is None:
        try:
            return private_dir(candidate, 0o755), None
        except OSError as err:
            problem = str(err)
    return user_folder("cache", "runtime", mode=0o755), problem


def content_digest(entries: Iterator[tuple[Path, bytes]]) -> str:
    """The hash a runtime folder is named by: each file's path and bytes, and the
    sitecustomize."""
    digest = hashlib.sha256()
    for relative, data in entries:
        digest.update(str(relative).encode())
        digest.update(data)
    digest.update(sitecustomize())
    return digest.hexdigest()


def _trusted_copy(target: Path, files: list[tuple[Path, Path]], digest: str) -> bool:
    """Whether an existing runtime folder is this user's alone and holds exactly what its
    name says (no file more, none changed)."""
    if target.is_symlink() or not target.is_dir():
        return False
    if change_problem(target) is not None or tree_problem(target) is not None:
        return False
    wanted = {str(relative) for _, relative in files} | {"sitecustomize.py"}
    present = {
        str(path.relative_to(target))
        for path in target.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    if present != wanted:
        return False
    try:
        found = content_digest(
            (relative, read_limited(target / relative, MAX_FILE_B, follow=False))
            for _, relative in files
        )
        boot = read_limited(target / "sitecustomize.py", MAX_FILE_B, follow=False)
    except OSError:
        return False
    return found == digest and boot == sitecustomize()


def _discard(target: Path) -> None:
    """Move an untrusted or damaged runtime folder aside and remove it (links not followed)."""
    aside = target.with_name(f".discarded-{os.getpid()}-{target.name}")
    with contextlib.suppress(OSError):
        os.replace(target, aside)
        if aside.is_symlink() or not aside.is_dir():
            aside.unlink()
        else:
            shutil.rmtree(aside)


def _build(target: Path, files: list[tuple[Path, Path]]) -> None:
    """Copy the packages into a fresh folder beside ``target``, then rename it into place."""
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        for source, relative in files:
            (building / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, building / relative)
        (building / "sitecustomize.py").write_bytes(sitecustomize())
        for folder, _dirs, names in os.walk(building):
            os.chmod(folder, 0o755)
            for name in names:
                os.chmod(os.path.join(folder, name), 0o644)
        try:
            building.rename(target)
        except OSError:  # made meanwhile by another run: used if it can be trusted
            if not _trusted_copy(target, files, content_digest(_read(files))):
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _read(files: list[tuple[Path, Path]]) -> Iterator[tuple[Path, bytes]]:
    for source, relative in files:
        yield relative, source.read_bytes()


def runtime_files() -> Iterator[tuple[Path, Path]]:
    """Each file of the packages to copy, with its path in the runtime folder.

    Found by their import specs, not imported: the CLI loads no engine adapter.
    """
    import importlib.util

    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise OSError(f"package {package} not found: reinstall nipype-carbon")
        root = Path(next(iter(spec.submodule_search_locations)))
        for path in sorted(root.rglob("*")):
            wanted = path.suffix in RUNTIME_SUFFIXES and "__pycache__" not in path.parts
            if wanted and path.is_file():
                yield path, Path(package) / path.relative_to(root)
