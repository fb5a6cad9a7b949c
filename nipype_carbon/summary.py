"""A short text summary of a run: energy, CO2e, how it was obtained, the hottest nodes.

Logged by the engine adapters at the end of a run; the full reports come from
saved sessions.
"""

from __future__ import annotations

from nipype_carbon.attribution import AttributionResult, attribute_energy
from nipype_carbon.carbon import GridIntensity, emissions_g, resolve_intensity
from nipype_carbon.session import Session


def methods_used(result: AttributionResult) -> str:
    """Every component's method across nodes, e.g. ``cpu: model, dram: model``."""
    found: dict[str, set[str]] = {}
    for node in result.nodes.values():
        for component, method in node.methods.items():
            found.setdefault(component, set()).add(method)
    return ", ".join(f"{c}: {'/'.join(sorted(m))}" for c, m in sorted(found.items())) or "none"


def summarize(
    session: Session,
    grid: GridIntensity | None = None,
    pue: float = 1.0,
    idle: str = "separate",
    top: int = 5,
) -> str:
    """A few lines for the end of a run's log.

    Examples
    --------
    >>> from nipype_carbon import Session
    >>> print(summarize(Session()))  # doctest: +ELLIPSIS
    nipype-carbon: 0 node(s), 0.0 J measured ... [no region set: world average, 480 g/kWh, PUE 1]...
    """
    grid = grid or resolve_intensity()
    result = attribute_energy(session, idle=idle)
    total_j = result.energy_j
    where = "no region set: world average" if grid.is_default else grid.region
    lines = [
        f"nipype-carbon: {len(result.nodes)} node(s), {total_j:.1f} J measured "
        f"({total_j / 3.6e3:.4f} Wh), {emissions_g(total_j, grid, pue):.3g} gCO2e "
        f"[{where}, {grid.intensity_g_per_kwh:g} g/kWh, PUE {pue:g}]; "
        f"methods {methods_used(result)}",
        f"  attributed to nodes {result.attributed_energy_j:.1f} J, "
        f"unattributed {result.unattributed_energy_j:.1f} J (idle {idle})",
    ]
    hottest = sorted(result.nodes.values(), key=lambda n: n.energy_j, reverse=True)[:top]
    for node in hottest:
        lines.append(
            f"  {node.energy_j:10.2f} J  {emissions_g(node.energy_j, grid, pue):9.3g} g  "
            f"cpu {node.cpu_s:8.2f} s  [{node.method}]  {node.name}"
        )
    return "\n".join(lines)
