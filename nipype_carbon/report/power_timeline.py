"""Power over time above a Gantt of the nodes: an SVG written by hand.

Top: one panel per host (the ``max_hosts`` that used the most energy), the
host's power from the merged timeline attribution split (``report.hosts``),
stacked by component (CPU, memory, GPU) in watts. Power is resampled to the
plot's pixel columns from the cumulative energy, so the area under the curve
is the energy measured. Below: the scheduler's own row, then the nodes, each
bar coloured by its emissions on a viridis scale. With more nodes than
``max_rows``, rows are merged (MapNode children into their MapNode, then by
interface, the hottest kept and the rest as "other"), and bars of one row less
than two pixels apart are drawn as one: the SVG stays legible and small for
thousands of nodes.

Examples
--------
>>> emissions_colour(0.0, 0.0, 1.0), emissions_colour(1.0, 0.0, 1.0)
('#440154', '#fde725')
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

import numpy as np

from nipype_carbon.report.colours import VIRIDIS, colour_scale, emissions_colour
from nipype_carbon.report.escape import markup
from nipype_carbon.report.gantt import Row, gantt_rows
from nipype_carbon.report.model import Report
from nipype_carbon.report.units import grams as format_emissions

COMPONENTS = {"cpu": ("CPU", "#d95f02"), "dram": ("memory", "#7570b3"), "gpu": ("GPU", "#e7298a")}
SCHEDULER_COLOUR = "#bdbdbd"
LABEL_W, RIGHT_W, ROW_H, POWER_H, AXIS_H, CHAR_W = 240, 20, 14, 84, 34, 6.6
STYLE = (
    ".nc-tl text{font:11px system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;"
    "fill:#222}.nc-tl .t{font-size:14px;font-weight:600}.nc-tl .s{fill:#555}"
    ".nc-tl .g{stroke:#ddd;stroke-width:1}.nc-tl .f{stroke:#c00;stroke-width:1.5}"
)


def host_power_w(report: Report, host: str, edges_t: np.ndarray) -> dict[str, np.ndarray]:
    """Mean power of each component of ``host`` in each bin between ``edges_t``, in watts."""
    timeline = report.hosts[host].timeline
    power: dict[str, np.ndarray] = {}
    if timeline is None or len(timeline.t) < 2:
        return power
    for name, domain in timeline.domains.items():
        cumulative_j = np.concatenate([[0.0], np.cumsum(timeline.energy_j[name])])
        bin_j = np.diff(np.interp(edges_t, timeline.t, cumulative_j))
        power_w = bin_j / np.diff(edges_t)
        previous = power.get(domain.component)
        power[domain.component] = power_w if previous is None else previous + power_w
    return power


def _nice(value: float, steps: tuple[float, ...] = (1, 1.5, 2, 3, 4, 5, 6, 8, 10)) -> float:
    """The smallest of ``steps`` times a power of ten at or above ``value``."""
    magnitude = 10 ** math.floor(math.log10(value))
    return float(next(m * magnitude for m in steps if m * magnitude >= value))


def _ticks(span_s: float) -> tuple[list[float], list[str], str]:
    """Tick positions (s), their labels, and the unit."""
    scale, unit = (3600.0, "h") if span_s >= 7200 else (60.0, "min") if span_s >= 120 else (1, "s")
    step = _nice(span_s / scale / 8, (1, 2, 5, 10)) * scale
    ticks = [float(t) for t in np.arange(0.0, span_s + step * 1e-9, step)]
    return ticks, [f"{t / scale:g}" for t in ticks], unit


def _truncate(text: str, width_px: float) -> str:
    chars = max(int(width_px / CHAR_W), 4)
    return text if len(text) <= chars else "…" + text[-(chars - 1) :]


class _Svg:
    """SVG elements on one time axis."""

    def __init__(self, width_px: int, t0: float, span_s: float) -> None:
        self.width, self.t0, self.span = width_px, t0, span_s
        self.plot_w = max(width_px - LABEL_W - RIGHT_W, 50)
        self.parts: list[str] = []
        self.back: list[str] = []  # drawn first: row shading and gridlines

    def document(self, height: float) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="nc-tl" width="{self.width}" '
            f'height="{height:.0f}" viewBox="0 0 {self.width} {height:.0f}" role="img" '
            f'aria-label="Power over time and node timeline"><style>{STYLE}</style>'
            + "".join(self.back + self.parts)
            + "</svg>"
        )

    def x(self, t: float) -> float:
        return LABEL_W + (t - self.t0) / self.span * self.plot_w

    def text(self, x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> None:
        c = f' class="{cls}"' if cls else ""
        self.parts.append(
            f'<text x="{x:.1f}" y="{y:.1f}"{c} text-anchor="{anchor}">{markup(text)}</text>'
        )

    def rect(self, x: float, y: float, w: float, h: float, fill: str, tail: str = "/>") -> str:
        return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}"{tail}'


def _power_legend(svg: _Svg, y: float, methods: dict[str, str]) -> None:
    """One swatch per component, with the method that obtained it."""
    x = float(LABEL_W)
    for component, method in methods.items():
        name, colour = COMPONENTS.get(component, (component, "#999999"))
        svg.parts.append(svg.rect(x, y - 9, 10, 10, colour))
        svg.text(x + 14, y, f"{name} power ({method})")
        x += 26 + CHAR_W * len(f"{name} power ({method})")


def _scale_legend(svg: _Svg, y: float, scale: tuple[float, float, bool]) -> None:
    """The nodes' colour scale, from its lowest to its highest value."""
    low, high, log = scale
    kind = "log, x10 per half bar" if log else "linear"
    svg.text(LABEL_W - 6, y, f"node CO2e ({kind})", anchor="end")
    svg.text(LABEL_W + 64, y, ("≤ " if log else "") + format_emissions(low), anchor="end")
    stops = "".join(
        f'<stop offset="{i / (len(VIRIDIS) - 1):.3f}" stop-color="{c}"/>'
        for i, c in enumerate(VIRIDIS)
    )
    svg.parts.append(f'<defs><linearGradient id="nc-tl-scale">{stops}</linearGradient></defs>')
    svg.parts.append(svg.rect(LABEL_W + 68, y - 9, 120, 10, "url(#nc-tl-scale)"))
    svg.text(LABEL_W + 194, y, f"{format_emissions(high)} CO2e; merged bars: mean per node", "s")


def _power_panel(svg: _Svg, y: float, host: str, edges: np.ndarray, power: dict[str, Any]) -> None:
    order = [c for c in COMPONENTS if c in power] + [c for c in power if c not in COMPONENTS]
    stacked = np.zeros(len(edges) - 1)
    xs = np.repeat([svg.x(t) for t in edges], 2)[1:-1]
    peak_w = float(sum(power.values(), stacked).max())
    top_w = _nice(peak_w) if peak_w > 0 else 1.0
    for component in order:
        upper = stacked + power[component]
        ys_up = y + POWER_H - np.repeat(upper, 2) / top_w * POWER_H
        ys_low = y + POWER_H - np.repeat(stacked, 2) / top_w * POWER_H
        points = np.concatenate([np.c_[xs, ys_up], np.c_[xs, ys_low][::-1]])
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        colour = COMPONENTS.get(component, (component, "#999999"))[1]
        svg.parts.append(f'<polygon points="{path}" fill="{colour}" fill-opacity="0.85"/>')
        stacked = upper
    svg.parts.append(f'<line class="g" x1="{LABEL_W}" x2="{LABEL_W}" y1="{y}" y2="{y + POWER_H}"/>')
    mean_w = float(stacked.mean()) if len(stacked) else 0.0
    # the axis's figures beside it, outside the plot (inside, they sat on the coloured areas)
    svg.text(LABEL_W - 6, y + 10, f"{top_w:g} W", "s", "end")
    svg.text(LABEL_W - 6, y + 30, _truncate(f"host {host}", LABEL_W - 12), anchor="end")
    svg.text(LABEL_W - 6, y + 44, f"mean {mean_w:.3g} W, peak {peak_w:.3g} W", "s", "end")
    svg.text(LABEL_W - 6, y + POWER_H, "0 W", "s", "end")


def _title(text: str) -> str:
    """A tooltip: its lines kept, each made safe (:func:`~nipype_carbon.report.escape.markup`)."""
    return "\n".join(markup(line) for line in text.split("\n"))


def _gantt(svg: _Svg, y: float, rows: list[Row], scale: tuple[float, float, bool]) -> None:
    for i, row in enumerate(rows):
        top = y + i * ROW_H
        if i % 2:
            svg.back.append(svg.rect(LABEL_W, top, svg.plot_w, ROW_H, "#f4f4f4"))
        svg.text(LABEL_W - 6, top + ROW_H - 3, _truncate(row.label, LABEL_W - 12), anchor="end")
        for bar in row.bars:
            x0 = svg.x(bar.start)
            per_node_g = bar.emissions_g / bar.count
            fill = SCHEDULER_COLOUR if row.scheduler else emissions_colour(per_node_g, *scale)
            tail = (
                ' class="f"' if bar.failed else ""
            ) + f"><title>{_title(bar.title)}</title></rect>"
            svg.parts.append(
                svg.rect(x0, top + 1.5, max(svg.x(bar.end) - x0, 1.0), ROW_H - 3, fill, tail)
            )


def _grid(svg: _Svg, spans: list[tuple[float, float]], bottom: float) -> None:
    """Time gridlines behind the panels and the Gantt, tick labels below."""
    ticks, labels, unit = _ticks(svg.span)
    for tick, label in zip(ticks, labels, strict=True):
        x = svg.x(svg.t0 + tick)
        svg.back += [
            f'<line class="g" x1="{x:.1f}" x2="{x:.1f}" y1="{top:.1f}" y2="{end:.1f}"/>'
            for top, end in spans
        ]
        svg.text(x, bottom + 13, label, anchor="middle")
    start = datetime.fromtimestamp(svg.t0, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    svg.text(LABEL_W + svg.plot_w, bottom + 28, f"time since {start} ({unit})", "s", "end")


def _notes(report: Report, rows: list[Row], how: str, prefix: str, hidden_hosts: int) -> str:
    nodes = report.nodes
    notes = [f"names relative to {prefix}"] if prefix else []
    if how:
        n_work = int((~nodes["kind"].isin(["orchestration", "mapnode"])).sum())
        n_rows = sum(not r.scheduler for r in rows)
        notes.append(f"{n_work:,} nodes in {n_rows} rows, merged {how}")
    if hidden_hosts:
        notes.append(f"power of {hidden_hosts} more host(s) not drawn")
    if any(b.failed for r in rows for b in r.bars):
        notes.append("red outline: failed")
    if rows and rows[0].scheduler:
        notes.append("scheduler in grey, not on the colour scale")
    return "; ".join(notes)


def _hosts(report: Report, max_hosts: int) -> tuple[list[str], int]:
    """The hosts to draw (most energy first) and how many more there were."""
    drawn = {h: e for h, e in report.hosts.items() if e.recorded and e.attributed}
    measured = {h: sum(e.measured_j.values()) for h, e in drawn.items()}
    hosts = sorted(measured, key=lambda h: -measured[h])
    return hosts[:max_hosts], max(len(hosts) - max_hosts, 0)


def _power_panels(svg: _Svg, report: Report, hosts: list[str], y: float) -> float:
    """The power legend and one panel per host; returns the y below them."""
    methods: dict[str, str] = {}
    for host in hosts:
        timeline = report.hosts[host].timeline
        domains = timeline.domains.values() if timeline is not None else ()
        methods.update({d.component: d.method for d in domains})
    _power_legend(svg, y, methods)
    y += 16
    edges = np.linspace(svg.t0, svg.t0 + svg.span, max(svg.plot_w // 2, 2) + 1)
    for host in hosts:
        _power_panel(svg, y, host, edges, host_power_w(report, host, edges))
        y += POWER_H + 12
    return y


def timeline_svg(
    report: Report, width_px: int = 960, max_rows: int = 40, max_hosts: int = 4
) -> str:
    """The run's power per host above a Gantt of its nodes, as an SVG document.

    Parameters
    ----------
    report : Report
        A built report (:func:`nipype_carbon.report.build_report`).
    width_px : int
        Width of the drawing in pixels.
    max_rows : int
        Most node rows; with more nodes, rows are merged (MapNode, then interface).
    max_hosts : int
        Most host power panels (those that used the most energy).
    """
    nodes = report.nodes
    t0 = float(nodes["start"].min()) if len(nodes) else 0.0
    svg = _Svg(width_px, t0, max(float(nodes["end"].max()) - t0, 1e-3) if len(nodes) else 1.0)
    svg.text(8, 18, "Power and node timeline", "t")
    if nodes.empty:
        svg.text(8, 40, "No nodes in this session.")
        return svg.document(50)
    split = report.split_names[0]
    rows, how, prefix = gantt_rows(nodes, max_rows, 2 * svg.span / svg.plot_w, split)
    scale = colour_scale([b.emissions_g / b.count for r in rows if not r.scheduler for b in r.bars])
    shown, hidden = _hosts(report, max_hosts)
    y = _power_panels(svg, report, shown, 40.0)
    _scale_legend(svg, y + 8, scale)
    _gantt(svg, y + 18, rows, scale)
    bottom = y + 18 + len(rows) * ROW_H
    _grid(svg, ([(56.0, y - 12)] if shown else []) + [(y + 18, bottom)], bottom)
    svg.text(8, bottom + 44, _notes(report, rows, how, prefix, hidden), "s")
    return svg.document(bottom + AXIS_H + 18)
