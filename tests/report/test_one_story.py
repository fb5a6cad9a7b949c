"""One story on every page: the same named totals, counts and shares in the console,
Markdown, HTML, CSV/JSON, the graph, the end-of-run summary and the methods paragraph.

The run is known by construction: 10 W idle for 6 s, 5 J per busy CPU-second, two nodes of a
step, a MapNode of two children, a node reused from the cache and the scheduler; so the run
energy, the count of nodes (by the one rule: a MapNode counts as its children, the scheduler
as engine overhead) and the parts are known without the code.
"""

from __future__ import annotations

import html
import io
import json
import re

import pandas as pd
import pytest

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.report import build_report
from nipype_carbon.report.formats import render_console, render_csv, render_json, render_markdown
from nipype_carbon.report.graphviz import graph_dot
from nipype_carbon.report.html import render_html
from nipype_carbon.report.methods import methods_paragraph
from nipype_carbon.report.model import Report
from nipype_carbon.report.summary import summary_text
from nipype_carbon.report.units import energy
from testkit.sessions import MEMORY_B, NodeSpec, build_session

IDLE_W, J_PER_CPU_S, RSS_B = 10.0, 5.0, 1e8
SPECS = [
    NodeSpec("wf.prep.a", 0, 4, 1.0, 5),
    NodeSpec("wf.prep.b", 0, 4, 0.5, 5),
    NodeSpec("wf.fit.map._map0", 4, 2, 1.0, 3),
    NodeSpec("wf.fit.map._map1", 4, 2, 1.0, 3),
    NodeSpec("wf.(scheduler)", 0, 6, 0.1, 7, rss_b=0),
]
#: by hand: the counter over 6 s with 4 + 2 + 2 + 2 + 0.6 busy CPU-seconds, and modelled
#: memory (6 W for 16 GiB) of the four nodes' 1e8 B over 4, 4, 2 and 2 s
RUN_J = IDLE_W * 6 + J_PER_CPU_S * 10.6 + 6.0 * RSS_B / MEMORY_B * 12
NODES, MAPNODES = 5, 1  # a, b, the MapNode's two children, c (reused)


@pytest.fixture(scope="module")
def report() -> Report:
    session = build_session(SPECS)
    for child in ("wf.fit.map._map0", "wf.fit.map._map1"):
        session.nodes[child].extra["mapnode_parent"] = "wf.fit.map"
    session.nodes["wf.(scheduler)"].extra["kind"] = "orchestration"
    session.add_node(NodeRecord("wf.fit.map", "ran", 4, 6, "h", extra={"mapnode": True}))
    session.add_node(NodeRecord("wf.prep.c", "cached", 4, 4, "h"))
    for record in session.nodes.values():
        if "._" not in record.name and "(" not in record.name:
            record.workflow = record.name.rsplit(".", 1)[0]
    session.add_edges([("wf.prep.a", "wf.fit.map")])
    session.metadata = {"workflow": "wf"}
    return build_report(session)


def pages(report: Report) -> dict[str, str]:
    """Every format as the text a reader sees (HTML and the graph's labels without tags)."""

    def text(markup: str) -> str:
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))

    return {
        "console": render_console(report),
        "markdown": render_markdown(report),
        "html": text(render_html(report)),
        "graph": text(graph_dot(report).split("subgraph")[0]),
        "summary": summary_text(report),
        "methods": methods_paragraph(report),
    }


def said(page: str, name: str, value: str) -> bool:
    """Whether ``page`` says ``name`` then ``value`` (words between them allowed, not figures)."""
    spaced = r"\s+".join(re.escape(w) for w in name.split())
    return re.search(spaced + r"[^0-9]{0,40}?" + re.escape(value), page, re.I) is not None


def test_totals_are_the_runs_by_hand_and_their_parts_add_up(report: Report) -> None:
    totals = json.loads(render_json(report))["totals"]
    assert totals["energy_j"] == pytest.approx(RUN_J, rel=1e-6)
    assert (totals["nodes"], totals["mapnodes"]) == (NODES, MAPNODES)
    assert totals["nodes_by_status"] == {"ran": 4, "cached": 1}
    parts = totals["nodes_full_cost_j"] + totals["engine_overhead_j"] + totals["not_charged_j"]
    assert parts == pytest.approx(totals["energy_j"], rel=1e-9)
    inner = sum(totals[f"nodes_{k}_j"] for k in ("own_energy", "baseline_share", "memory_share"))
    assert inner == pytest.approx(totals["nodes_full_cost_j"], rel=1e-9)
    # the scheduler's own energy: its 0.6 CPU-s
    assert totals["engine_overhead_j"] == pytest.approx(J_PER_CPU_S * 0.6, rel=1e-6)
    table = pd.read_csv(io.StringIO(render_csv(report)))
    work = table[table["kind"] == "node"]
    assert len(work) == NODES
    assert work["energy_j"].sum() == pytest.approx(totals["nodes_full_cost_j"], rel=1e-9)


def test_every_page_names_the_run_energy_and_the_nodes_full_cost_the_same(
    report: Report,
) -> None:
    t = report.totals
    run, full = energy(t.energy_j), energy(t.nodes_full_cost_j)
    for name, page in pages(report).items():
        assert said(page, "run energy", run), name
        if name != "methods":
            assert said(page, "nodes' full cost", full), name
    # no other name for either, anywhere
    for name, page in pages(report).items():
        assert "attributed to nodes" not in page and "not attributed" not in page, name
        assert "of the nodes' energy" not in page, name


def test_every_page_counts_the_nodes_by_the_one_rule(report: Report) -> None:
    for name, page in pages(report).items():
        assert f"{NODES} nodes" in page, name
        for wrong in (NODES + 1, NODES + 2, NODES - 1):  # with the MapNode, the scheduler
            assert f" {wrong} nodes" not in page, (name, wrong)


def test_shares_say_what_they_are_shares_of_and_add_up(report: Report) -> None:
    console = render_console(report)
    heading = next(line for line in console.splitlines() if line.startswith("Hottest nodes"))
    assert f"shares of the nodes' full cost, {energy(report.totals.nodes_full_cost_j)}" in heading
    rows = console.split(heading)[1].split("\n\n")[0].strip().splitlines()
    shares = [float(re.findall(r"([\d.]+)% \(cum", row)[0]) for row in rows]
    assert sum(shares) == pytest.approx(100.0, abs=0.1 * len(shares))
    where = next(line for line in console.splitlines() if line.startswith("Where the run"))
    parts = where.split(": ", 1)[1].split("; besides")[0].split("; ")
    assert parts[0].startswith("nodes' full cost") and parts[1].startswith("engine overhead")

    def shares(text: str) -> list[float]:
        return [float(x) for x in re.findall(r"\(([\d.]+)%\)", text)]

    # nodes' full cost = own energy + baseline share (+ memory share); the parts = 100 %
    full, *inner = shares(parts[0])
    assert len(inner) >= 2 and sum(inner) == pytest.approx(full, abs=0.1 * len(inner))
    assert sum(shares(p)[0] for p in parts) == pytest.approx(100.0, abs=0.1 * len(parts))


def test_the_graphs_clusters_add_up_to_the_nodes_full_cost(report: Report) -> None:
    dot = graph_dot(report)
    clusters = re.findall(r'subgraph "cluster_\d+" \{ label=<<B>[^<]*</B> \(([\d.]+) J\)>', dot)
    assert len(clusters) == 2  # prep and fit
    total = report.totals.nodes_full_cost_j
    assert sum(map(float, clusters)) == pytest.approx(total, rel=0.01)  # 3 figures each
