"""A study as one self-contained HTML page: cards, the methods paragraph, four pictures
(energy per subject, per-step distributions, cumulative energy by step, waste) and tables.

The pictures are inline SVG drawn here (no script, no remote asset); every name in them and
in the tables is escaped (:func:`~nipype_carbon.report.escape.markup`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nipype_carbon.report.escape import markup
from nipype_carbon.report.html_assets import CSS
from nipype_carbon.report.units import emissions, percent
from nipype_carbon.study.build import Study
from nipype_carbon.study.formats import (
    SUBJECT_HEADER,
    WH,
    _rows,
    _short,
    _subject_columns,
    _wh,
    methods_text,
)

#: steps drawn in the distribution picture, and rows in the page's tables
TOP_STEPS = 15
MAX_SUBJECT_ROWS = 500
#: picture width and the room on the left for step names, px
WIDTH, LEFT = 860, 300
EXTRA_CSS = """
svg text{font:12px system-ui,sans-serif;fill:#1d1d1f}svg .muted{fill:#5f6368}
svg .bar{fill:#5b9bd5}svg .box{fill:#cfe0f1;stroke:#2f6ea8}svg .line{stroke:#2f6ea8;fill:none}
svg .axis{stroke:#999}svg .out{fill:#d9822b}
.wide{overflow-x:auto}.figs figure{margin:14px 0}.figs figcaption{color:#5f6368;font-size:13px}
"""


def _axis_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high``."""
    if high <= 0 or not math.isfinite(high):
        return [0.0, 1.0]
    step = 10 ** math.floor(math.log10(high / count))
    for factor in (1, 2, 2.5, 5, 10):
        if high / (step * factor) <= count:
            step *= factor
            break
    return [i * step for i in range(math.ceil(high / step) + 1)]


def _tick_text(wh: float) -> str:
    return f"{wh:.3g}"


def histogram_svg(values_j: Sequence[float]) -> str:
    """Completed subjects by energy (Wh), in bins (Freedman-Diaconis, 5 to 40 of them)."""
    x = np.asarray(values_j, dtype=float) / WH
    if x.size == 0:
        return '<p class="small">No completed subject to draw.</p>'
    q1, q3 = np.percentile(x, [25, 75])
    width = 2 * (q3 - q1) / x.size ** (1 / 3) if q3 > q1 else 0.0
    span = float(x.max() - x.min())
    bins = int(min(40, max(5, math.ceil(span / width)))) if width > 0 else 5
    counts, edges = np.histogram(x, bins=bins, range=(float(x.min()), float(x.max()) or 1.0))
    height, top, bottom, left = 220, 16, 36, 48
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    peak = max(int(counts.max()), 1)
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img">']
    bar_w = plot_w / bins
    for i, count in enumerate(counts):
        h = plot_h * count / peak
        x0 = left + i * bar_w
        label = f"{edges[i]:.3g}-{edges[i + 1]:.3g} Wh: {count} subject(s)"
        parts.append(
            f'<rect class="bar" x="{x0 + 1:.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(bar_w - 2, 1):.1f}" height="{h:.1f}"><title>{label}</title></rect>'
        )
    for i in (0, bins // 2, bins):
        xt = left + i * bar_w
        parts.append(
            f'<text x="{xt:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{_tick_text(edges[i])}</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="muted">'
        "energy per subject, Wh (all its attempts)</text>"
    )
    parts.append(f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">{peak}</text>')
    parts.append(f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>')
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return "".join(parts)


def steps_svg(steps: Iterable[dict[str, Any]]) -> str:
    """One row per step: its box (quartiles), whiskers (5-95 %), median, min and max, in Wh."""
    rows = list(steps)
    if not rows:
        return '<p class="small">No step to draw.</p>'
    high = max(float(r["max_j"]) for r in rows if math.isfinite(float(r["max_j"]))) / WH
    ticks = _axis_ticks(high)
    row_h, top = 24, 8
    height = top + row_h * len(rows) + 40
    plot_w = WIDTH - LEFT - 20

    def at(j: float) -> float:
        return LEFT + plot_w * (j / WH) / ticks[-1]

    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img">']
    for t in ticks:
        x = LEFT + plot_w * t / ticks[-1]
        parts.append(
            f'<line class="axis" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" '
            f'y2="{top + row_h * len(rows)}" stroke-dasharray="2 3"/>'
            f'<text x="{x:.1f}" y="{top + row_h * len(rows) + 16}" text-anchor="middle">'
            f"{_tick_text(t)}</text>"
        )
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        name = markup(_clip(str(r["step"]), 44))
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{name}'
            f"<title>{markup(r['step'])}</title></text>"
        )
        if not math.isfinite(float(r["median_j"])):
            continue
        q1, q3, med = at(r["q1_j"]), at(r["q3_j"]), at(r["median_j"])
        parts.append(
            f'<line class="line" x1="{at(r["p5_j"]):.1f}" y1="{y:.1f}" x2="{at(r["p95_j"]):.1f}" '
            f'y2="{y:.1f}"/>'
            f'<rect class="box" x="{q1:.1f}" y="{y - 7:.1f}" width="{max(q3 - q1, 1):.1f}" '
            f'height="14"><title>{markup(r["step"])}: median {_wh(r["median_j"])}, IQR '
            f"{_wh(r['q1_j'])}-{_wh(r['q3_j'])}, n = {r['subjects']}</title></rect>"
            f'<line class="line" x1="{med:.1f}" y1="{y - 7:.1f}" x2="{med:.1f}" y2="{y + 7:.1f}" '
            'stroke-width="2"/>'
            f'<circle class="out" cx="{at(r["min_j"]):.1f}" cy="{y:.1f}" r="2.5"/>'
            f'<circle class="out" cx="{at(r["max_j"]):.1f}" cy="{y:.1f}" r="2.5"/>'
        )
    parts.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="muted">'
        "energy per subject in the step, Wh: box 25-75 %, line 5-95 %, dots min and max</text>"
    )
    parts.append("</svg>")
    return "".join(parts)


def _clip(text: str, chars: int) -> str:
    return text if len(text) <= chars else "..." + text[-(chars - 3) :]


def cumulative_svg(energy_j: Sequence[float]) -> str:
    """Share of the study's node energy in its hottest k steps, k = 1 ... all steps."""
    x = np.sort(np.asarray(energy_j, dtype=float))[::-1]
    if x.size == 0 or x.sum() <= 0:
        return '<p class="small">No step to draw.</p>'
    share = np.cumsum(x) / x.sum()
    height, top, bottom, left = 220, 12, 40, 48
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    n = x.size
    points = " ".join(
        f"{left + plot_w * (i + 1) / n:.1f},{top + plot_h * (1 - s):.1f}"
        for i, s in enumerate(share)
    )
    half = int(np.searchsorted(share, 0.5)) + 1
    eighty = int(np.searchsorted(share, 0.8)) + 1
    parts = [
        f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img">',
        f'<polyline class="line" stroke-width="2" points="{left},{top + plot_h} {points}"/>',
        f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" '
        f'y2="{top + plot_h}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}"/>',
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end">100%</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
        f'<text x="{left}" y="{top + plot_h + 16}" text-anchor="middle">1</text>',
        f'<text x="{left + plot_w}" y="{top + plot_h + 16}" text-anchor="middle">{n}</text>',
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="muted">'
        f"hottest steps, by study total: {half} of {n} hold half the energy, {eighty} hold "
        "80 %</text></svg>",
    ]
    return "".join(parts)


def waste_svg(waste: dict[str, float], total_j: float) -> str:
    """Bars: failed, redone, right-sizing (a model), avoided by the cache (not spent)."""
    bars = [
        ("failed nodes", waste["failed_j"]),
        ("redone after a failure", waste["redone_j"]),
        ("right-sizing would free (model)", waste["rightsize_j"]),
        ("avoided by the cache (not spent)", waste["avoided_by_cache_j"]),
    ]
    high = max([b for _, b in bars] + [1e-12])
    row_h, height = 26, 26 * len(bars) + 12
    plot_w = WIDTH - LEFT - 160
    parts = [f'<svg viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img">']
    for i, (label, value) in enumerate(bars):
        y = 6 + i * row_h
        w = plot_w * value / high
        share = f" ({percent(value / total_j)} of the total)" if total_j > 0 else ""
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 15}" text-anchor="end">{label}</text>'
            f'<rect class="bar" x="{LEFT}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="16"/>'
            f'<text x="{LEFT + w + 6:.1f}" y="{y + 15}">{_wh(value)}{share}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _regions(study: Study) -> str:
    """The grids the runs were priced on, briefly (the methods paragraph has them whole)."""
    regions = sorted(set(study.runs.loc[study.runs["included"], "region"]))
    shown = ", ".join(regions[:3]) + (f" and {len(regions) - 3} more" if len(regions) > 3 else "")
    return f"on {shown}" if regions else ""


def _card(key: str, value: str, detail: str = "") -> str:
    small = f'<div class="small">{markup(detail)}</div>' if detail else ""
    return (
        f'<div class="card"><div class="k">{key}</div><div class="v">{markup(value)}</div>'
        f"{small}</div>"
    )


def _table(head: list[str], rows: Iterable[list[str]], table_id: str) -> str:
    numeric = {i for i, h in enumerate(head) if h in NUMERIC_HEADS}
    cells = "".join(f"<th{' class=n' if i in numeric else ''}>{h}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"n" if i in numeric else "name"}">{markup(c)}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return (
        f'<div class="wide"><table id="{table_id}"><thead><tr>{cells}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


#: table headings whose cells are figures (right-aligned)
NUMERIC_HEADS = {
    "runs",
    "energy",
    "CO2e",
    "CPU",
    "wall",
    "failed",
    "subjects",
    "total",
    "share",
    "median",
    "IQR",
    "5-95 %",
    "max",
    "per CPU-s",
    "median subject",
}


def render_html(study: Study, top: int = TOP_STEPS, **_: Any) -> str:
    """The page (see the module)."""
    t, d, w, p = study.totals, study.distribution, study.waste, study.projection
    cards = [
        _card("subjects", f"{t['subjects']:,}", f"{t['runs']:,} runs, {t['nodes']:,} nodes"),
        _card("energy", _wh(t["energy_j"]), "IT energy, before PUE"),
        _card("emissions", emissions(t["emissions_g"]), _regions(study)),
    ]
    if d["n"]:
        cards.append(
            _card("per subject", _wh(d["median"]), f"median; IQR {_wh(d['q1'])}-{_wh(d['q3'])}")
        )
    cards.append(_card("waste", _wh(w["wasted_j"]), "failed and redone nodes"))
    if p:
        cards.append(
            _card(
                f"{p['subjects']:,} more subjects",
                _wh(p["energy_j"]),
                f"90 % interval {_wh(p['energy_j_low'])}-{_wh(p['energy_j_high'])}"
                + (" (too narrow: under 10 subjects)" if p["too_narrow"] else ""),
            )
        )
    completed = study.subjects[study.subjects["status"] == "complete"]
    steps: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in study.steps.to_dict("records")
    ]
    subject_rows = _rows(study.subjects.head(MAX_SUBJECT_ROWS), _subject_columns())
    step_rows = [
        [
            str(r["step"]),
            _short(r["interface"]),
            str(r["subjects"]),
            _wh(r["energy_j"]),
            percent(r["share"]),
            _wh(r["median_j"]),
            f"{_wh(r['q1_j'])}-{_wh(r['q3_j'])}",
            f"{_wh(r['p5_j'])}-{_wh(r['p95_j'])}",
            _wh(r["max_j"]),
            _wh(r["failed_j"]),
            str(r["method"]),
            str(r["outliers"]),
        ]
        for r in steps[: max(top, 50)]
    ]
    hardware_rows = [
        [
            str(r["cpu_model"]),
            str(r["runs"]),
            str(r["subjects"]),
            _wh(r["energy_j"]),
            f"{r['j_per_cpu_s']:.3g} J" if math.isfinite(r["j_per_cpu_s"]) else "n/a",
            _wh(r["median_subject_j"]),
        ]
        for r in study.hardware.to_dict("records")
    ]
    sections = [
        f"<h1>Study footprint</h1><p class=sub>{markup(study.method)}</p>",
        f'<div class="cards">{"".join(cards)}</div>',
        f"<h2>Methods</h2><p>{markup(methods_text(study))}</p>",
        *(f'<p class="alert">{markup(n)}</p>' for n in study.notes),
        '<div class="figs">',
        "<h2>Energy per subject</h2><figure>"
        + histogram_svg(completed["energy_j"].tolist())
        + f"<figcaption>{d['n']} completed subject(s).</figcaption></figure>",
        f"<h2>Steps across subjects (hottest {min(top, len(steps))})</h2><figure>"
        + steps_svg(steps[:top])
        + "</figure>",
        "<h2>Cumulative energy by step</h2><figure>"
        + cumulative_svg(study.steps["energy_j"].tolist())
        + "</figure>",
        "<h2>Waste</h2><figure>" + waste_svg(w, t["energy_j"]) + "</figure>",
        "</div>",
        "<h2>Subjects</h2>",
        _table(
            SUBJECT_HEADER,
            subject_rows,
            "nc-subjects",
        ),
        f"<h2>Steps ({len(steps)})</h2>",
        _table(
            [
                "step",
                "interface",
                "subjects",
                "total",
                "share",
                "median",
                "IQR",
                "5-95 %",
                "max",
                "failed",
                "method",
                "outlier subjects",
            ],
            step_rows,
            "nc-steps",
        ),
    ]
    if len(hardware_rows) > 1:
        sections += [
            "<h2>By CPU model</h2>",
            _table(
                ["CPU model", "runs", "subjects", "energy", "per CPU-s", "median subject"],
                hardware_rows,
                "nc-hardware",
            ),
        ]
    if study.skipped:
        sections += [
            f"<h2>Skipped files ({len(study.skipped)})</h2>",
            _table(["path", "reason"], ([s.path, s.reason] for s in study.skipped), "nc-skipped"),
        ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Study footprint: {t['subjects']} subjects</title>"
        f"<style>{CSS}{EXTRA_CSS}</style></head><body>{''.join(sections)}</body></html>\n"
    )
