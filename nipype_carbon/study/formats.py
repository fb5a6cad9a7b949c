"""A study as a console page, CSV tables, JSON and Markdown, with its methods paragraph.

Every renderer reads the :class:`~nipype_carbon.study.build.Study` only. Energy is the full
cost (the report's vocabulary: a node's own energy plus its share of the baseline and of
unclaimed memory; a run's energy adds the engine overhead and baseline not charged), IT
energy before PUE; emissions are priced on each run's grid with its PUE, or the ones asked for.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd

from nipype_carbon.report.escape import csv_cell, valid_unicode, visible
from nipype_carbon.report.units import duration, emissions, energy, percent
from nipype_carbon.study.build import (
    HARDWARE_COLUMNS,
    RUN_COLUMNS,
    STEP_COLUMNS,
    SUBJECT_COLUMNS,
    Study,
)

#: the tables a study writes as CSV (``--table``), by name
TABLES = ("subjects", "steps", "runs", "hardware", "skipped")
#: Wh in J
WH = 3600.0


def table(study: Study, name: str) -> pd.DataFrame:
    """One of :data:`TABLES` as a frame with its documented columns."""
    if name == "subjects":
        return study.subjects[SUBJECT_COLUMNS]
    if name == "steps":
        return study.steps[STEP_COLUMNS]
    if name == "runs":
        return study.runs[RUN_COLUMNS]
    if name == "hardware":
        return study.hardware[HARDWARE_COLUMNS]
    if name == "skipped":
        return pd.DataFrame([vars(s) for s in study.skipped], columns=["path", "reason"])
    raise ValueError(f"no table {name!r}: choose one of {', '.join(TABLES)}")


def render_csv(study: Study, name: str = "subjects") -> str:
    """One table; a text cell that starts like a formula gets ``'`` (as ``report`` writes)."""
    return str(table(study, name).map(csv_cell).to_csv(index=False, float_format="%.10g"))


def _plain(value: Any) -> Any:
    """JSON-safe: NaN and infinities as null, numpy numbers as Python's."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_dict(study: Study) -> dict[str, Any]:
    """The whole study as plain data (what the JSON holds)."""
    return _plain(
        {
            "totals": study.totals,
            "per_subject": study.distribution,
            "waste": study.waste,
            "projection": study.projection,
            "grid": study.grid_text,
            "method": study.method,
            "methods_text": methods_text(study),
            "notes": study.notes,
            "timings": study.timings,
            **{name: table(study, name).to_dict(orient="records") for name in TABLES},
        }
    )


def render_json(study: Study) -> str:
    return json.dumps(as_dict(study), indent=1, allow_nan=False) + "\n"


def _wh(energy_j: float) -> str:
    """Energy in watt-hours, the unit published per-subject figures use (``108 Wh``), then
    kWh and MWh."""
    if not math.isfinite(energy_j):
        return "n/a"
    wh = energy_j / WH
    if abs(wh) < 0.1:
        return energy(energy_j)  # below 0.1 Wh: J, kJ, mJ
    for unit, size in (("MWh", 1e6), ("kWh", 1e3)):
        if abs(wh) >= size:
            return f"{wh / size:.3g} {unit}"
    return f"{wh:.3g} Wh"


def _both(energy_j: float) -> str:
    """Watt-hours, and joules beside them where the two read differently."""
    wh, j = _wh(energy_j), energy(energy_j)
    return wh if wh == j or energy_j >= 3.6e6 else f"{wh} ({j})"  # J beside Wh, up to a kWh


def methods_text(study: Study) -> str:
    """One paragraph a paper's methods can take: subjects, per-subject median and IQR,
    total, where and how it was obtained."""
    t, d = study.totals, study.distribution
    if not t["runs"]:
        return "No run was found."
    parts = [
        f"{t['subjects']} subject(s) in {t['runs']} run(s)"
        + (
            f" ({t['subjects_complete']} complete)"
            if t["subjects_complete"] != t["subjects"]
            else ""
        )
        + "."
    ]
    if d["n"]:
        parts.append(
            f"Energy per completed subject (all its attempts): median {_wh(d['median'])} "
            f"(IQR {_wh(d['q1'])}-{_wh(d['q3'])}; mean {_wh(d['mean'])}, SD {_wh(d['sd'])}, "
            f"n = {d['n']})."
        )
    parts.append(
        f"Total {_wh(t['energy_j'])} IT energy, {emissions(t['emissions_g'])} on {study.grid_text}."
    )
    w = study.waste
    parts.append(
        f"Failed nodes {_wh(w['failed_j'])} and work redone after a failure {_wh(w['redone_j'])} "
        f"({percent(w['wasted_j'] / t['energy_j']) if t['energy_j'] > 0 else '0%'} of the total); "
        f"the cache avoided {_wh(w['avoided_by_cache_j'])}."
    )
    parts.append(
        f"Measured by nipype-carbon per node: {study.method}. A node's energy is its own plus "
        "its share of the host's baseline and unclaimed memory power by the cores and memory "
        "it reserved; emissions are IT energy x PUE x grid intensity."
    )
    return " ".join(parts)


def _rows(frame: pd.DataFrame, columns: dict[str, Any]) -> list[list[str]]:
    out = []
    for row in frame.itertuples(index=False):
        out.append([visible(str(fmt(getattr(row, c)))) for c, fmt in columns.items()])
    return out


def _text_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


#: the subjects table's headings, in every format (the columns of :func:`_subject_columns`)
SUBJECT_HEADER = [
    "subject",
    "status",
    "runs",
    "energy",
    "CO2e",
    "CPU",
    "wall",
    "failed",
    "",
    "CPU model",
]


def _subject_columns() -> dict[str, Any]:
    return {
        "subject": str,
        "status": str,
        "runs": str,
        "energy_j": _wh,
        "emissions_g": emissions,
        "cpu_s": duration,
        "wall_time_s": duration,
        "failed_j": _wh,
        "outlier": lambda x: "outlier" if x else "",
        "cpu_model": str,
    }


def _short(interface: str) -> str:
    """An interface by its class name (``DWIDenoise``, not its module path)."""
    return str(interface).rsplit(".", 1)[-1]


def _step_columns() -> dict[str, Any]:
    return {
        "step": str,
        "interface": _short,
        "subjects": str,
        "energy_j": _wh,
        "share": percent,
        "median_j": _wh,
        "q1_j": _wh,
        "q3_j": _wh,
        "max_j": _wh,
        "failed_j": _wh,
        "method": str,
    }


def render_console(study: Study, top: int = 10, subjects: int = 20) -> str:
    """The study as a page of text: totals, per-subject distribution, subjects, hottest steps,
    waste, projection, hardware, files skipped, notes and the methods paragraph."""
    out = io.StringIO()
    t, d, w = study.totals, study.distribution, study.waste
    out.write(
        f"Study: {t['subjects']} subject(s), {t['runs']} run(s), {t['nodes']:,} nodes; "
        f"{_both(t['energy_j'])}, {emissions(t['emissions_g'])}, "
        f"{duration(t['cpu_s'])} CPU\n"
    )
    out.write(f"grid: {study.grid_text or 'n/a'}\nmethod: {study.method or 'n/a'}\n\n")
    if d["n"]:
        out.write(
            f"Per completed subject (n = {d['n']}): median {_wh(d['median'])}, IQR "
            f"{_wh(d['q1'])}-{_wh(d['q3'])}, 5-95 % {_wh(d['p5'])}-{_wh(d['p95'])}, "
            f"min {_wh(d['min'])}, max {_wh(d['max'])}\n\n"
        )
    frame = study.subjects
    if not frame.empty:
        shown = frame.head(subjects)
        out.write(_text_table(SUBJECT_HEADER, _rows(shown, _subject_columns())))
        if len(frame) > len(shown):
            out.write(
                f"... {len(frame) - len(shown)} more subject(s): -o study.csv --table subjects\n"
            )
        out.write("\n")
    if not study.steps.empty:
        out.write(f"Hottest steps (of {len(study.steps)}), by study total:\n")
        header = [
            "step",
            "interface",
            "subj",
            "total",
            "share",
            "median",
            "q1",
            "q3",
            "max",
            "failed",
            "method",
        ]
        out.write(_text_table(header, _rows(study.steps.head(top), _step_columns())))
        out.write("\n")
    out.write(
        f"Waste: failed nodes {_wh(w['failed_j'])}, redone after a failure {_wh(w['redone_j'])} "
        f"(earlier attempts in all: {_wh(w['earlier_attempts_j'])}); avoided by the cache "
        f"{_wh(w['avoided_by_cache_j'])} (not in the totals).\n"
        f"Right-sizing (a model): {duration(w['spare_core_s'])} of reserved cores and "
        f"{w['spare_mem_gb_s'] / 3600:.3g} GB-h of reserved memory unused; asking for what was "
        f"used would free {_wh(w['rightsize_j'])} of baseline and memory power for other work.\n"
    )
    p = study.projection
    if p:
        out.write(
            f"Projection: {p['subjects']:,} more subjects like these {p['from_subjects']}: "
            f"{_wh(p['energy_j'])} (90 % interval {_wh(p['energy_j_low'])}-"
            f"{_wh(p['energy_j_high'])}), "
            f"{emissions(p['emissions_g'])} ({emissions(p['emissions_g_low'])}-"
            f"{emissions(p['emissions_g_high'])})"
            + (
                " -- from fewer than 10 subjects the interval is too narrow"
                if p["too_narrow"]
                else ""
            )
            + "\n"
        )
    if len(study.hardware) > 1:
        out.write("\nBy CPU model:\n")
        rows = _rows(
            study.hardware,
            {
                "cpu_model": str,
                "runs": str,
                "subjects": str,
                "energy_j": _wh,
                "j_per_cpu_s": lambda x: f"{x:.3g} J/CPU-s" if math.isfinite(x) else "n/a",
                "median_subject_j": _wh,
            },
        )
        out.write(
            _text_table(
                ["CPU model", "runs", "subjects", "energy", "per CPU-s", "median subject"], rows
            )
        )
    if study.skipped:
        out.write(f"\nSkipped {len(study.skipped)} file(s):\n")
        for s in study.skipped[:20]:
            out.write(visible(f"  {s.path}: {s.reason}") + "\n")
        if len(study.skipped) > 20:
            out.write(f"  ... {len(study.skipped) - 20} more: -o study.csv --table skipped\n")
    for note in study.notes:
        out.write(f"note: {note}\n")
    out.write(f"\nMethods: {methods_text(study)}\n")
    return out.getvalue()


def _md(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def render_markdown(study: Study, top: int = 10, subjects: int = 50) -> str:
    t, d, w = study.totals, study.distribution, study.waste
    out = io.StringIO()
    out.write(f"# Study footprint\n\n{methods_text(study)}\n\n")
    out.write(
        f"- Total: {_wh(t['energy_j'])}, {emissions(t['emissions_g'])}, {t['runs']} runs, "
        f"{t['subjects']} subjects\n- Grid: {study.grid_text}\n- Method: {study.method}\n"
    )
    if d["n"]:
        out.write(
            f"- Per completed subject: median {_wh(d['median'])} "
            f"(IQR {_wh(d['q1'])}-{_wh(d['q3'])}, "
            f"5-95 % {_wh(d['p5'])}-{_wh(d['p95'])})\n"
        )
    p = study.projection
    if p:
        out.write(
            f"- {p['subjects']:,} more subjects: {_wh(p['energy_j'])} (90 % interval "
            f"{_wh(p['energy_j_low'])}-{_wh(p['energy_j_high'])})\n"
        )
    out.write(
        f"- Waste: failed {_wh(w['failed_j'])}, redone {_wh(w['redone_j'])}; avoided by the cache "
        f"{_wh(w['avoided_by_cache_j'])}; right-sizing would free {_wh(w['rightsize_j'])} "
        "(a model)\n"
    )
    out.write("\n## Subjects\n\n")
    out.write(_md(SUBJECT_HEADER, _rows(study.subjects.head(subjects), _subject_columns())))
    out.write(f"\n## Hottest steps (of {len(study.steps)})\n\n")
    header = [
        "step",
        "interface",
        "subjects",
        "total",
        "share",
        "median",
        "q1",
        "q3",
        "max",
        "failed",
        "method",
    ]
    out.write(_md(header, _rows(study.steps.head(top), _step_columns())))
    if study.skipped:
        out.write("\n## Skipped files\n\n")
        out.write(
            _md(["path", "reason"], [[visible(s.path), visible(s.reason)] for s in study.skipped])
        )
    for note in study.notes:
        out.write(f"\n> {note}\n")
    return out.getvalue()
