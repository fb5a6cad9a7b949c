"""The CSV tables shipped in ``nipype_carbon/reference/data`` (standard library only)."""

from __future__ import annotations

import csv
from importlib import resources


def data_text(name: str) -> str:
    """The text of a package data file."""
    folder = resources.files("nipype_carbon.reference").joinpath("data")
    return folder.joinpath(name).read_text(encoding="utf-8")


def read_table(name: str) -> list[dict[str, str]]:
    """Rows of a shipped CSV table."""
    return list(csv.DictReader(data_text(name).splitlines()))
