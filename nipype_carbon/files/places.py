"""Folders of the user's own: where what must not sit in a shared folder goes instead.

``cache`` holds what can be rebuilt (the runtime folder ``nipype-carbon run``
imports from, when the carbon directory is shared); ``state`` holds what must
survive until it is written where it belongs (node records a full or read-only
carbon directory could not take). Each is tried in order, and the first one
only this user can change is used: ``$XDG_CACHE_HOME`` / ``$XDG_STATE_HOME``,
then ``~/.cache`` / ``~/.local/state``, then ``/var/tmp/nipype-carbon-<uid>``.
"""

from __future__ import annotations

import os
from pathlib import Path

from nipype_carbon.files.safe import FileRefused, private_dir

#: per kind: the XDG variable, and its default below the home folder
_XDG = {"cache": ("XDG_CACHE_HOME", ".cache"), "state": ("XDG_STATE_HOME", ".local/state")}


def user_folders(kind: str) -> list[Path]:
    """Where the user's own ``kind`` folders of nipype-carbon may be, best first."""
    variable, default = _XDG[kind]
    found = []
    given = os.environ.get(variable, "")
    if os.path.isabs(given):
        found.append(Path(given) / "nipype-carbon")
    home = os.path.expanduser("~")
    if os.path.isabs(home):
        found.append(Path(home) / default / "nipype-carbon")
    found.append(Path("/var/tmp") / f"nipype-carbon-{os.geteuid()}" / kind)
    return list(dict.fromkeys(found))


def user_folder(kind: str, *parts: str, mode: int = 0o700) -> Path:
    """The first of :func:`user_folders` (with ``parts`` below it) only this user can change,
    made if missing. Raises :class:`FileRefused` when there is none."""
    reasons = []
    for base in user_folders(kind):
        try:
            return private_dir(base.joinpath(*parts), mode)
        except OSError as err:
            reasons.append(str(err))
    raise FileRefused(0, f"no folder of your own for nipype-carbon's {kind}: {'; '.join(reasons)}")
