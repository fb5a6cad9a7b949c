"""Who besides the user can change a path: owners and modes, from the root down.

Code is imported only from a folder no other user can change: the folder and
every folder above it belong to the user or to root, and none of them is
writable by a group or by every user, except a sticky folder (``/tmp``) whose
entry on the way down belongs to the user or root (in a sticky folder nobody
else can rename or remove it). It is the rule OpenSSH applies to
``authorized_keys``. Links on the way are followed only where the user or
root owns them, and the folders they lead to are checked the same way.

Examples
--------
>>> import os, tempfile
>>> folder = tempfile.mkdtemp()  # mode 0700, the user's own
>>> change_problem(folder) is None
True
>>> os.chmod(folder, 0o777)
>>> change_problem(folder)  # doctest: +ELLIPSIS
'... is writable by every user (mode 0777)'
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def trusted_owners() -> frozenset[int]:
    """The users whose files this process may execute: itself and root."""
    return frozenset({0, os.geteuid()})


def owner_name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return f"gid {gid}"


def writers(st: os.stat_result) -> str | None:
    """Who besides the owner can write to what ``st`` describes (None: nobody)."""
    if st.st_mode & stat.S_IWOTH:
        return "every user"
    if st.st_mode & stat.S_IWGRP:
        return f"group {group_name(st.st_gid)}"
    return None


def _mode(st: os.stat_result) -> str:
    return f"mode {stat.S_IMODE(st.st_mode):04o}"


def change_problem(path: str | os.PathLike[str]) -> str | None:
    """Why a user other than this one (or root) could change ``path`` or what it holds;
    None when nobody else can. A path not there yet is judged by the folders above it."""
    absolute = Path(os.path.abspath(path))
    trusted = trusted_owners()
    problem = _chain_problem(absolute, trusted)
    if problem is None:
        problem = _chain_problem(Path(os.path.realpath(absolute)), trusted)
    return problem


def _chain_problem(path: Path, trusted: frozenset[int]) -> str | None:
    parts = [*reversed(path.parents), path]
    for i, part in enumerate(parts):
        try:
            st = os.lstat(part)
        except FileNotFoundError:
            return None  # what is not there yet will be this user's
        except OSError as err:
            return f"{part} cannot be examined ({err.strerror or err})"
        if st.st_uid not in trusted:
            return f"{part} belongs to {owner_name(st.st_uid)}"
        if stat.S_ISLNK(st.st_mode):
            try:
                st = os.stat(part)  # the link is the user's: judge where it leads
            except OSError:
                return None
            if st.st_uid not in trusted:
                return f"{part} leads to a folder of {owner_name(st.st_uid)}"
        who = writers(st)
        if who is None:
            continue
        last = i == len(parts) - 1
        if last or not st.st_mode & stat.S_ISVTX:
            return f"{part} is writable by {who} ({_mode(st)})"
        owner = _entry_owner(parts[i + 1])
        if owner is not None and owner not in trusted:  # sticky, but the entry is not ours
            return f"{parts[i + 1]} belongs to {owner_name(owner)} (in {part}, {_mode(st)})"
    return None


def _entry_owner(entry: Path) -> int | None:
    """Who owns an entry of a sticky folder (None: not there yet, so it will be this user's;
    nobody else can rename or remove it there)."""
    try:
        return os.lstat(entry).st_uid
    except FileNotFoundError:
        return None
    except OSError:
        return -1


def tree_problem(root: str | os.PathLike[str]) -> str | None:
    """Why a folder's contents could have been changed by someone else: an entry that is a
    link, not this user's or root's, or writable by others; None when none is."""
    trusted = trusted_owners()
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except OSError as err:
                return f"{path} cannot be examined ({err.strerror or err})"
            if stat.S_ISLNK(st.st_mode):
                return f"{path} is a link"
            if st.st_uid not in trusted:
                return f"{path} belongs to {owner_name(st.st_uid)}"
            who = writers(st)
            if who is not None:
                return f"{path} is writable by {who} ({_mode(st)})"
    return None


def shared_folder_warning(folder: str | os.PathLike[str]) -> str | None:
    """One line for a carbon directory others can change (None when they cannot): what that
    allows them, and what nipype-carbon does about it."""
    problem = change_problem(folder)
    if problem is None:
        return None
    return (
        f"carbon directory {folder} can be changed by other users: {problem}. They can add, "
        "replace or remove run records there, so its reports are only as trustworthy as they "
        "are; nipype-carbon executes nothing from it and follows no link in it. Make it "
        "yours alone (chmod go-w) or use a carbon directory of your own"
    )
