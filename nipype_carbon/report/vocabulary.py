"""The quantities every format shows, each named once and always by that name.

Like a profiler's *self* and *total* time, every energy figure is one of these:

- **run energy**: what the host's meters read over the run, less other processes'. The
  nodes' full costs and the engine overhead add up to it (``totals.energy_j``).
- **full cost** of a node: its own energy plus its share of the baseline (by the cores it
  reserved over its duration) and of memory no node claimed (the node table's ``energy_j``);
  the **nodes' full cost** is their sum (``totals.nodes_full_cost_j``).
- **own energy** of a node: what its work drew above the baseline (``own_energy_j``).
- **baseline**: what the host draws idle over the run, charged to the nodes by the cores they
  reserved; **not charged** is what no node was running to take.
- **engine overhead**: the scheduler's own energy (``totals.engine_overhead_j``).
- **the host's meters** and **other processes**: what the meters read in all, and the part
  of it that was not the run's (not in the run energy).

Counts follow one rule too: a run's **nodes** are its units of work. A MapNode counts as its
children (each one node), not itself; the scheduler is the engine, not a node. A share always
says what it is a share of.
"""

from __future__ import annotations

RUN_ENERGY = "run energy"
FULL_COST = "full cost"
NODES_FULL_COST = "nodes' full cost"
OWN_ENERGY = "own energy"
BASELINE = "baseline"
NOT_CHARGED = "baseline not charged to a node"
ENGINE = "engine overhead"
HOST_METERS = "the host's meters"
OTHER_PROCESSES = "other processes"

#: the one rule by which nodes are counted, as the formats say it
NODE_COUNT_RULE = (
    "nodes are the units of work: a MapNode counts as its children, the scheduler as engine "
    "overhead"
)

#: each quantity's meaning, for the methods paragraph and the HTML's legend
DEFINITIONS = {
    RUN_ENERGY: "what the host's meters read over the run, less other processes'; the nodes' "
    "full cost and the engine overhead add up to it",
    FULL_COST: "a node's own energy plus its share of the baseline (by the cores it reserved "
    "over its duration) and of memory no node claimed",
    OWN_ENERGY: "what a node's own work drew above the baseline",
    BASELINE: "what the host draws idle over the run, charged to the nodes running by the cores "
    "they reserved",
    ENGINE: "the scheduler's own energy",
    OTHER_PROCESSES: "the part of what the host's meters read that was not the run's",
}


def node_count(
    count: int, mapnodes: int = 0, split: tuple[str, str] = ("MapNode", "children")
) -> str:
    """``41 nodes`` (``1 node``), with the MapNodes (Pydra: split tasks) whose children
    (states) they include, where there are any."""
    words = f"{count:,} node" + ("" if count == 1 else "s")
    if mapnodes:
        what, parts = split
        words += f" (the {parts} of {mapnodes:,} {what}{'' if mapnodes == 1 else 's'} among them)"
    return words
