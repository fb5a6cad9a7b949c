"""Which subject a run processed, and the step a node is across subjects.

A run's subjects come, in order, from its ``subject`` setting; from the names BIDS Apps give
their per-subject workflows (``sub_01_wf``, ``single_subject_01_wf``, ``sub-01``); from the
command line the session recorded (``--participant-label 01 02``); else from a pattern the
user gives (``--subject-from``), matched against the session's path and workflow name.

A step is a node's name with its subject part taken out, so that
``sub_01_wf.anat_wf.brain_extraction`` and ``sub_02_wf.anat_wf.brain_extraction`` are one
step. Pure functions of names: no session is read here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

#: a BIDS label: letters and digits (BIDS specification, "entities")
LABEL = r"[A-Za-z0-9]+"
#: a whole name segment that is one subject's workflow, with the label as group 1
_SUBJECT_SEGMENT = re.compile(
    rf"^(?:single_subject|sub)[-_]({LABEL})(?:_wf)?$|^(?:sub)[-_]({LABEL})_.*_wf$"
)
#: a subject inside a longer segment (``dwi_sub-01_denoise``): label as group 1
_SUBJECT_INSIDE = re.compile(rf"(?<![A-Za-z0-9])sub[-_]({LABEL})(?=$|[._-])")
#: the options BIDS Apps take subject labels with
_PARTICIPANT_OPTIONS = ("--participant-label", "--participant_label", "--subject-label")
#: what a node of no subject is called in a run of several
SHARED = "(shared)"
#: the study's name for a run of no known subject
NO_SUBJECT = "(no subject)"


def segment_subject(segment: str) -> str | None:
    """The subject a name segment is the workflow of (``sub_01_wf`` -> ``01``), or None."""
    found = _SUBJECT_SEGMENT.match(segment)
    if found is None:
        return None
    return found.group(1) or found.group(2)


def node_subject(name: str) -> str | None:
    """The subject a node belongs to by its dotted name (its first subject workflow)."""
    for segment in name.split("."):
        label = segment_subject(segment)
        if label is not None:
            return label
    return None


def subjects_in_names(names: Iterable[str]) -> list[str]:
    """The subjects whose workflows the node names show, in order of first appearance."""
    found: dict[str, None] = {}
    for name in names:
        label = node_subject(name)
        if label is not None:
            found.setdefault(label, None)
    return list(found)


def subjects_in_argv(argv: Sequence[str]) -> list[str]:
    """The labels a BIDS App's command line names (``--participant-label 01 sub-02``,
    ``--participant-label=03``), without ``sub-``; empty when it names none."""
    found: list[str] = []
    taking = False
    for item in argv:
        item = str(item)
        option, sep, value = item.partition("=")
        if option in _PARTICIPANT_OPTIONS:
            taking = not sep
            if sep:
                found.extend(_labels(value.split(",")))
            continue
        if taking and item.startswith("-"):
            taking = False
        if taking:
            found.extend(_labels([item]))
    return list(dict.fromkeys(found))


def _labels(items: Iterable[str]) -> list[str]:
    out = []
    for item in items:
        item = item.strip()
        item = item[4:] if item.lower().startswith("sub-") else item
        if re.fullmatch(LABEL, item):
            out.append(item)
    return out


def subject_from_pattern(pattern: re.Pattern[str], texts: Iterable[str]) -> str | None:
    """The first group (or the whole match) of ``pattern`` in the first text it matches."""
    for text in texts:
        found = pattern.search(text)
        if found is not None:
            label = found.group(1) if found.groups() else found.group(0)
            label = label[4:] if label.lower().startswith("sub-") else label
            if label:
                return label
    return None


def step_name(name: str) -> str:
    """A node's step: its name without the segment that is a subject's workflow, and with
    any other subject label shown as ``*`` (``dwi_sub-01.denoise`` -> ``dwi_sub-*.denoise``).

    >>> step_name("fmriprep_wf.sub_01_wf.anat_wf.brain_extraction")
    'fmriprep_wf.anat_wf.brain_extraction'
    >>> step_name("single_subject_02_wf.func_wf.bold_hmc")
    'func_wf.bold_hmc'
    >>> step_name("dwi_sub-01.denoise")
    'dwi_sub-*.denoise'
    """
    kept = [s for s in name.split(".") if segment_subject(s) is None]
    out = ".".join(_SUBJECT_INSIDE.sub(lambda m: m.group(0)[:4] + "*", s) for s in kept)
    return out or name
