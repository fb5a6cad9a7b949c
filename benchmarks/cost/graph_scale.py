"""Scale of the emissions graph: a synthetic study of 10,000 nodes, drawn legibly.

Builds a session through the public API: ``--subjects`` subject workflows (40
give 10,000 nodes), each with ``anat`` (a chain of 25 nodes), ``func`` (4 runs,
each a chain of 10 nodes around a MapNode of 30 children) and ``dwi`` (a chain
of 14 around a MapNode of 45 children), then a group workflow of 39 nodes and
the scheduler. Every node is measured on one host, one after another, with
CPU rates spread over two decades; a few are cached or failed. Times
``graph_dot`` and ``render_graph(fmt="svg")`` separately, prints the seconds
and the boxes drawn, and writes the SVG to ``--out``.

Usage: python -m benchmarks.cost.graph_scale --out /tmp/g10k.svg [--subjects 40] [--png small.png]

Target (issue 4): 10,000 nodes within 15 s, still legible.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from pathlib import Path

import numpy as np

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from nipype_carbon.report import build_report
from nipype_carbon.report.graph_layout import graph_units
from nipype_carbon.report.graphviz import graph_dot, render_graph
from testkit.sessions import SyntheticHost

HOST, IDLE_W, J_PER_CPU_S, DRAM_W = "bench", 20.0, 6.0, 5.0


class StudyBuilder:
    """Adds measured nodes one after another on one host, and the edges between them."""

    def __init__(self, seed: int = 4) -> None:
        self.host = SyntheticHost(
            HOST, idle_w=IDLE_W, j_per_cpu_s=J_PER_CPU_S, dram_w=DRAM_W, wrap_j=1e15,
            meter="bench", cpu_domain="bench:cpu", dram_domain="bench:dram",
            memory_b=64 * 1024**3, logical_cpus=16, baseline_w=IDLE_W,
        )  # fmt: skip
        self.session = Session(metadata={"workflow": "study"}, settings={"region": "GB"})
        self.session.add_host(self.host.record())
        self.random = random.Random(seed)
        self.t_s, self.busy_s = 0.0, 0.0
        self.edges: list[tuple[str, str]] = []

    def node(self, name: str, workflow: str, heat: float = 1.0, **extra: object) -> str:
        """A measured node: CPU rate ``heat`` times a log-uniform draw over two decades."""
        rate = heat * 10 ** self.random.uniform(-2.0, 0.0)
        duration_s = 0.5
        cpu_s = rate * duration_s
        start, end = self.t_s, self.t_s + duration_s
        m = self.host.measurement(
            np.array([start, end]),
            np.array([0.0, cpu_s]),
            np.array([self.busy_s, self.busy_s + cpu_s]),
            rss_b=2e8,
        )
        status = self.random.choices(["ran", "cached", "failed"], [0.97, 0.025, 0.005])[0]
        record = NodeRecord.from_measurement(name, m, workflow=workflow, status=status, extra=extra)
        self.session.add_node(record)
        self.t_s, self.busy_s = end + 0.01, self.busy_s + cpu_s
        return name

    def chain(self, workflow: str, names: list[str], heat: float = 1.0) -> list[str]:
        made = [self.node(f"{workflow}.{n}", workflow, heat) for n in names]
        self.edges += list(itertools.pairwise(made))
        return made

    def mapnode(self, workflow: str, name: str, children: int, heat: float) -> str:
        parent = f"{workflow}.{name}"
        for i in range(children):
            self.node(f"{parent}._{name}{i}", "", heat, mapnode_parent=parent)
        self.session.add_node(
            NodeRecord(parent, "ran", 0.0, 0.0, HOST, workflow=workflow, extra={"mapnode": True})
        )
        return parent

    def around(
        self, workflow: str, stem: str, n: int, mapnode: tuple[str, int, float]
    ) -> list[str]:
        """A chain of ``n`` nodes with a MapNode in its middle."""
        first = self.chain(workflow, [f"{stem}{i}" for i in range(n // 2)])
        middle = self.mapnode(workflow, *mapnode)
        last = self.chain(workflow, [f"{stem}{i}" for i in range(n // 2, n)])
        self.edges += [(first[-1], middle), (middle, last[0])]
        return [first[0], last[-1]]


def subject(b: StudyBuilder, sub: str) -> str:
    anat = b.chain(f"{sub}.anat", [f"step{i:02d}" for i in range(25)], heat=2.0)
    for run in range(4):
        func = b.around(f"{sub}.func.run-{run}", "f", 10, ("slice_timing", 30, 0.5))
        b.edges.append((anat[-1], func[0]))
    dwi = b.around(f"{sub}.dwi", "d", 14, ("tensor_fit", 45, 3.0))
    b.edges.append((anat[-1], dwi[0]))
    return dwi[-1]


def build_study(subjects: int) -> Session:
    b = StudyBuilder()
    ends = [subject(b, f"study.sub-{i:02d}") for i in range(subjects)]
    group = b.chain("study.group", [f"stat{i:02d}" for i in range(39)], heat=5.0)
    b.edges += [(end, group[0]) for end in ends]
    b.node("study.(scheduler)", "", 0.2, kind="orchestration")
    b.session.add_edges(b.edges)
    return b.session


def timed(label: str, work):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = work()
    print(f"{label:<32} {time.perf_counter() - start:7.2f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the SVG")
    parser.add_argument("--subjects", type=int, default=40, help="40 give 10,000 nodes")
    parser.add_argument("--png", help="also write a PNG here, to look at")
    args = parser.parse_args(argv)
    session = timed("build session", lambda: build_study(args.subjects))
    report = timed("build_report (attribution)", lambda: build_report(session))
    dot = timed("graph_dot", lambda: graph_dot(report))
    svg = timed("render_graph(fmt='svg')", lambda: render_graph(report, "svg"))
    Path(args.out).write_bytes(svg)
    units, edges = graph_units(report)
    print(f"nodes in session: {len(session.nodes)}, edges: {len(session.edges)}")
    print(f"drawn: {len(units)} boxes, {len(edges)} edges ({len(dot)} bytes of DOT)")
    print(f"svg: {args.out} ({len(svg)} bytes)")
    if args.png:
        Path(args.png).write_bytes(render_graph(report, "png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
