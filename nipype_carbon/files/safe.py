"""Files created, appended, replaced and read without trusting the folder they are in.

- :func:`write_new` creates a file that must not exist yet (``O_EXCL``: a planted
  file or link makes it fail, never write elsewhere);
- :func:`open_append` opens an existing regular file for appending without
  following a link, so the caller can check it is still the file it created;
- :func:`replace_file` writes an output by replacing it: a new file beside it,
  then a rename, so a link planted at the output's name is replaced, never
  written through;
- :func:`read_limited` and :func:`iter_lines` read regular files only (a pipe,
  a device or a folder is refused at once, never waited on), with a bound on
  the whole file or on each line, so a damaged or foreign file costs bounded
  memory;
- :func:`private_dir` makes (or checks) a folder only this user can change.

Errors are :class:`FileRefused`, an :class:`OSError` whose message names the
path and what it is.

Examples
--------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()
>>> target = os.path.join(folder, "out.txt")
>>> os.symlink("/etc/hostname", target)
>>> _ = replace_file(target, "report\\n")
>>> os.path.islink(target), open(target).read()
(False, 'report\\n')
>>> read_limited("/dev/zero", 10)
Traceback (most recent call last):
...
nipype_carbon.files.safe.FileRefused: /dev/zero is a character device, not a regular file
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.files.trust import change_problem

#: how much is read at a time when lines are split
CHUNK_B = 1 << 20
_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a link",
}


class FileRefused(OSError, NipypeCarbonError):
    """A file that is not what it should be: a link, a device, a pipe, a folder, too large."""

    def __str__(self) -> str:
        return str(self.strerror or super().__str__())


def kind_of(st: os.stat_result) -> str:
    return _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")


def open_regular(
    path: str | os.PathLike[str], flags: int = os.O_RDONLY, follow: bool = True
) -> int:
    """A descriptor of the regular file at ``path``; :class:`FileRefused` for anything else.

    Opened non-blocking, so a named pipe is refused at once instead of waited on.
    """
    extra = os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags | extra)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow:
            raise FileRefused(errno.ELOOP, f"{path} is a link: not followed") from None
        if err.errno == errno.EISDIR:
            raise FileRefused(errno.EISDIR, f"{path} is a folder, not a regular file") from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise FileRefused(errno.EINVAL, f"{path} is {kind_of(st)}, not a regular file")
    return fd


def read_limited(path: str | os.PathLike[str], limit_b: int, follow: bool = True) -> bytes:
    """The whole of a regular file of at most ``limit_b`` bytes (refused when larger)."""
    with os.fdopen(open_regular(path, follow=follow), "rb") as handle:
        data = handle.read(limit_b + 1)
    if len(data) > limit_b:
        raise FileRefused(errno.EFBIG, f"{path} is larger than {_size(limit_b)}: not read")
    return data


def _size(n: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def iter_lines(handle: BinaryIO, max_line_b: int) -> Iterator[bytes | None]:
    """Each line of ``handle`` (without its newline), or None for one longer than
    ``max_line_b``: such a line is skipped as it is read, never held whole."""
    held = bytearray()
    too_long = False
    while True:
        chunk = handle.read(CHUNK_B)
        if not chunk:
            break
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            piece = chunk[start:] if end < 0 else chunk[start:end]
            if not too_long:
                held += piece
                if len(held) > max_line_b:
                    too_long = True
                    held = bytearray()
            if end < 0:
                break
            yield None if too_long else bytes(held)
            held, too_long, start = bytearray(), False, end + 1
    if held or too_long:
        yield None if too_long else bytes(held)


def write_new(path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> None:
    """Create ``path`` with ``data``; :class:`FileExistsError` if anything is there (a link too)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    try:
        _write_all(fd, payload)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(errno.ENOSPC, "short write")
        view = view[n:]


def temporary_beside(target: Path, mode: int = 0o644) -> tuple[int, Path]:
    """A new, exclusively created file in ``target``'s folder: its descriptor and path."""
    folder = target.parent
    for _ in range(100):
        candidate = folder / f".{target.name[:60]}.{secrets.token_hex(6)}.tmp"
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            return os.open(candidate, flags, mode), candidate
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name in {folder}")


def replace_file(
    path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644, sync: bool = False
) -> Path:
    """Write ``data`` at ``path`` by replacing what is there (a link is replaced, never
    followed); return the path."""
    target = Path(path)
    if target.is_dir() and not target.is_symlink():
        raise FileRefused(errno.EISDIR, f"{target} is a folder: give a file name")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = temporary_beside(target, mode)
    try:
        try:
            _write_all(fd, payload)
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def open_append(path: str | os.PathLike[str]) -> int:
    """A descriptor appending to the existing regular file ``path`` (a link is refused)."""
    return open_regular(path, os.O_RDWR | os.O_APPEND, follow=False)


def private_dir(path: str | os.PathLike[str], mode: int = 0o700) -> Path:
    """``path`` as a folder only this user (and root) can change, made if missing.

    Raises :class:`FileRefused` naming who else could change it.
    """
    folder = Path(os.path.abspath(path))
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=mode, parents=True)
    problem = change_problem(folder)
    if problem is None and (folder.is_symlink() or not folder.is_dir()):
        problem = f"{folder} is not a folder of its own"
    if problem is not None:
        raise FileRefused(errno.EPERM, problem)
    return folder
