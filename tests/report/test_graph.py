"""The workflow graph: DOT structure, colour scale, escaping, graphviz renders, the CLI."""

from __future__ import annotations

import html
import itertools
import math
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nipype_carbon.cli.main import main
from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from nipype_carbon.report import Report, build_report
from nipype_carbon.report.colours import (
    FAILED_COLOUR,
    VIRIDIS,
    colour_scale,
    scale_position,
    viridis,
)
from nipype_carbon.report.graphviz import GraphvizError, graph_dot, render_graph
from nipype_carbon.report.units import energy as format_energy
from nipype_carbon.report.units import grams as format_emissions
from testkit.sessions import NodeSpec, build_session

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="apt-get install graphviz")
HOSTILE_WORKFLOW = 'wf.sub"<&>\\'
HOSTILE = [
    'say "hi"',
    "<script>alert(1)</script>",
    "back\\slash\\",
    "esc\\N\\G\\l",
    "two\nlines",
    "ünï名前—&amp;",
]


# -- building sessions through the public API --------------------------------
def make_session(nodes: dict[str, tuple[str, float]], **extra: dict[str, object]) -> Session:
    """Measured nodes run one after another: name -> (workflow, CPU rate); extras by name.

    No baseline power: a node's full cost is then its CPU rate's energy alone, which is
    what the colour tests reason about.
    """
    specs = [
        NodeSpec(name, 10.0 * i, 4.0, rate, 5) for i, (name, (_, rate)) in enumerate(nodes.items())
    ]
    session = build_session(specs, idle_w=0.0, baseline_w=0.0)
    for name, (workflow, _) in nodes.items():
        session.nodes[name].workflow = workflow
        session.nodes[name].extra.update(extra.get(name, {}))
    return session


def add_container(session: Session, name: str, workflow: str, status: str = "ran") -> None:
    """A MapNode: no energy of its own, its children carry the work."""
    session.add_node(
        NodeRecord(name, status, 0.0, 1.0, "h", workflow=workflow, extra={"mapnode": True})
    )


def pipeline() -> Session:
    """wf.pre.a -> wf.pre.b (MapNode of 3) -> wf.post.c -> wf.report; a scheduler apart."""
    child = {"mapnode_parent": "wf.pre.b"}
    session = make_session(
        {
            "wf.pre.a": ("wf.pre", 0.2),
            "wf.pre.b._b0": ("", 0.5),
            "wf.pre.b._b1": ("", 0.6),
            "wf.pre.b._b2": ("", 0.7),
            "wf.post.c": ("wf.post", 3.0),
            "wf.report": ("wf", 0.01),
            "wf.(scheduler)": ("", 4.0),
        },
        **{f"wf.pre.b._b{i}": child for i in range(3)},
        **{"wf.(scheduler)": {"kind": "orchestration"}},
    )
    add_container(session, "wf.pre.b", "wf.pre")
    session.add_edges(
        [("wf.pre.a", "wf.pre.b"), ("wf.pre.b", "wf.post.c"), ("wf.post.c", "wf.report")]
    )
    return session


def label_text(markup: str) -> str:
    """What graphviz shows for label text: entities decoded, ``\\\\`` read as ``\\``."""
    return html.unescape(markup).replace("\\\\", "\\")


def parse(dot: str) -> tuple[dict[str, dict[str, object]], set[tuple[str, str]]]:
    """Boxes by id (name, attributes, enclosing cluster titles) and edges by name."""
    boxes: dict[str, dict[str, object]] = {}
    stack: list[str] = []
    edges = []
    for line in dot.splitlines():
        if head := re.match(r'\s*subgraph "cluster_\w+" \{ label=<<B>(.*?)</B>', line):
            stack.append(label_text(head[1]))
        elif line.strip() == "}":
            stack = stack[:-1]
        elif node := re.match(r"\s*(n\d+) \[(.*)\];$", line):
            name = label_text(re.search(r"<B>(.*?)</B>", node[2])[1])  # type: ignore[index]
            boxes[node[1]] = {"name": name, "attrs": node[2], "clusters": tuple(stack)}
        elif edge := re.match(r"\s*(n\d+) -> (n\d+)", line):
            edges.append((edge[1], edge[2]))
    return boxes, {(boxes[a]["name"], boxes[b]["name"]) for a, b in edges}  # type: ignore[misc]


def by_name(boxes: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    return {str(b["name"]): b for b in boxes.values()}


def fill(box: dict[str, object]) -> str:
    return re.search(r'fillcolor="(#\w+)"', str(box["attrs"]))[1]  # type: ignore[index]


def luminance(colour: str) -> float:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def energy_of(report: Report, names: list[str]) -> float:
    return float(report.nodes.set_index("node").loc[names, "energy_j"].sum())


# -- structure -----------------------------------------------------------------
def test_sub_workflows_are_clusters_and_edges_join_boxes() -> None:
    session = pipeline()
    session.add_edges([("wf.(scheduler)", "wf.pre.a")])  # even if an engine says so
    boxes, edges = parse(graph_dot(build_report(session, region="GB")))
    named = by_name(boxes)
    assert named["a"]["clusters"] == ("pre",) and named["b"]["clusters"] == ("pre",)
    assert named["c"]["clusters"] == ("post",) and named["report"]["clusters"] == ()
    assert edges == {("a", "b"), ("b", "c"), ("c", "report")}
    assert named["(scheduler)"]["clusters"] == ("scheduler",)
    assert all("(scheduler)" not in edge for edge in edges)


def test_mapnode_children_fold_into_their_mapnode_with_count_and_sum() -> None:
    report = build_report(pipeline(), region="GB")
    boxes, _ = parse(graph_dot(report))
    children = [f"wf.pre.b._b{i}" for i in range(3)]
    label = str(by_name(boxes)["b"]["attrs"])
    assert f"MapNode, 3 children: {format_energy(energy_of(report, children))}" in label
    assert not any(name.startswith("_b") for name in by_name(boxes))
    boxes, edges = parse(graph_dot(report, collapse="none"))
    assert {("b", f"_b{i}") for i in range(3)} <= edges  # drawn apart, fanned out


def test_the_hottest_box_gets_the_hot_end_and_colours_follow_emissions() -> None:
    report = build_report(pipeline(), region="GB")
    dot = graph_dot(report)
    named = by_name(parse(dot)[0])
    assert fill(named["c"]) == VIRIDIS[-1] and fill(named["report"]) == VIRIDIS[0]
    order = ["report", "a", "b", "c"]  # by emissions, coldest first (b sums 3 children)
    assert [luminance(fill(named[n])) for n in order] == sorted(
        luminance(fill(named[n])) for n in order
    )
    flow = report.nodes[report.nodes["kind"] == "node"]
    hottest = flow["emissions_g"].max()
    assert "legend" in dot and format_emissions(hottest) in dot.split("cluster_legend")[1]
    assert "log scale" in dot  # 0.01 to 3 CPU-s/s: over two decades


def test_linear_scale_when_emissions_span_less_than_two_decades() -> None:
    rates = {"cold": 0.4, "cool": 0.8, "warm": 1.6, "hot": 3.2}
    report = build_report(make_session({f"wf.{n}": ("wf", r) for n, r in rates.items()}))
    dot = graph_dot(report)
    named = by_name(parse(dot)[0])
    assert "linear scale" in dot and fill(named["hot"]) == VIRIDIS[-1]
    assert fill(named["cold"]) == VIRIDIS[0]
    lightness = [luminance(fill(named[n])) for n in rates]
    assert lightness == sorted(lightness) and len(set(lightness)) == 4


def test_a_tenfold_difference_stays_half_the_scale_over_five_decades() -> None:
    """214 J against 9.9 J beside a 1 mJ node: by hand, log10(214 / 9.9) / 2 decades = 0.67
    of the scale apart (it was 0.25 when the scale ran down to 1 mJ)."""
    values = [214.0, 9.9, 0.001]
    low, high, log = colour_scale(values)
    assert log and (low, high) == (2.14, 214.0)
    hot, warm, cold = (scale_position(v, low, high, log) for v in values)
    assert (hot, cold) == (1.0, 0.0)
    assert hot - warm == pytest.approx(math.log10(214 / 9.9) / 2)
    assert scale_position(21.4, low, high, log) == pytest.approx(0.5)  # tenfold: half


def test_the_legend_states_the_scale() -> None:
    dot = graph_dot(build_report(pipeline(), region="GB"))  # over two decades
    legend = dot.split("cluster_legend")[1]
    assert "log scale: x10 per half of the bar" in legend and "&#8804; " in legend
    rates = {"cold": 0.4, "hot": 3.2}
    dot = graph_dot(build_report(make_session({f"wf.{n}": ("wf", r) for n, r in rates.items()})))
    assert "(linear scale)" in dot.split("cluster_legend")[1]


def test_viridis_matches_matplotlib() -> None:
    cm = pytest.importorskip("matplotlib").colormaps["viridis"]
    for x in [0.0, 0.13, 0.5, 0.77, 1.0]:
        expected = [round(255 * c) for c in cm(x)[:3]]
        got = [int(viridis(x)[i : i + 2], 16) for i in (1, 3, 5)]
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) <= 2


def test_units_are_readable() -> None:
    assert [format_energy(e) for e in (0, 0.5, 12.3, 4500, 7.2e4, 7.2e6)] == [
        "0 J", "500 mJ", "12.3 J", "4.5 kJ", "20 Wh", "2 kWh"
    ]  # fmt: skip
    assert [format_emissions(g) for g in (0, 2e-8, 3e-5, 0.0021, 5.0, 1200)] == [
        "0 g", "20 ng", "30 µg", "2.1 mg", "5 g", "1.2 kg"
    ]  # fmt: skip


def test_method_is_shown_only_when_not_uniform() -> None:
    session = pipeline()
    assert "<I>" not in graph_dot(build_report(session, region="GB"))
    other = build_session([NodeSpec("wf.gpu", 200.0, 4.0, 1.0, 5)], host="h2")
    other.hosts["h2"].meters["meters"][0]["domains"][0]["method"] = "model"
    session.add_host(other.hosts["h2"])
    session.add_node(other.nodes["wf.gpu"])
    named = by_name(parse(graph_dot(build_report(session, region="GB")))[0])
    assert "<I>model</I>" in str(named["gpu"]["attrs"])
    assert "<I>cpu:rapl;dram:model</I>" in str(named["a"]["attrs"])


def test_cached_and_failed_boxes_are_marked_with_legend_entries() -> None:
    session = pipeline()
    session.nodes["wf.pre.a"].status = "cached"
    session.nodes["wf.post.c"].status = "failed"
    session.nodes["wf.pre.b._b1"].status = "failed"
    dot = graph_dot(build_report(session, region="GB"))
    named = by_name(parse(dot)[0])
    assert "dashed" in str(named["a"]["attrs"]) and FAILED_COLOUR not in str(named["a"]["attrs"])
    assert FAILED_COLOUR in str(named["c"]["attrs"]) and "dashed" not in str(named["c"]["attrs"])
    assert FAILED_COLOUR in str(named["b"]["attrs"]) and "1 failed" in str(named["b"]["attrs"])
    assert "legend_cached" in dot and "legend_failed" in dot


def test_degenerate_sessions() -> None:
    lone = make_session({"wf.only": ("wf", 1.0)})
    named = by_name(parse(graph_dot(build_report(lone, region="GB")))[0])
    assert list(named) == ["only"] and fill(named["only"]) == VIRIDIS[-1]
    idle = Session()
    for name in ("wf.x", "wf.y"):  # no measurement: zero energy, no edges
        idle.add_node(NodeRecord(name, "ran", 0.0, 1.0, "h", workflow="wf"))
    idle.add_edges([("wf.x", "wf.ghost")])  # named by an edge, never run
    dot = graph_dot(build_report(idle, region="GB"))
    named = by_name(parse(dot)[0])
    assert "0 J" in str(named["x"]["attrs"]) and "not run" in str(named["ghost"]["attrs"])
    assert "legend_missing" in dot and parse(dot)[1] == {("x", "ghost")}
    assert graph_dot(build_report(Session(), region="GB")).startswith("digraph carbon {")
    tiny = make_session({"wf.sub.a": ("wf.sub", 0.001), "wf.b": ("wf", 0.002)})
    dot = graph_dot(build_report(tiny, intensity_g_per_kwh=100.0), label="emissions")
    assert dot.isascii() and "&#181;g" in dot  # µg in clusters, boxes and legend


def test_auto_collapses_large_graphs_by_sub_workflow() -> None:
    session = Session()
    for i in range(300):
        workflow = f"wf.s{i % 3}.t{i % 6}"
        session.add_node(NodeRecord(f"{workflow}.n{i}", "ran", 0.0, 1.0, "h", workflow=workflow))
    report = build_report(session, region="GB")
    assert len(parse(graph_dot(report))[0]) == 6  # t-level workflows, in s-level clusters
    assert all(b["clusters"] for b in parse(graph_dot(report))[0].values())
    boxes = parse(graph_dot(report, max_nodes=5))[0]
    assert sorted(by_name(boxes)) == ["s0", "s1", "s2"]
    assert "workflow, 100 nodes" in str(by_name(boxes)["s0"]["attrs"])
    assert len(parse(graph_dot(report, collapse="none"))[0]) == 300
    flat = Session()
    for i in range(250):
        flat.add_node(NodeRecord(f"wf.n{i}", "ran", 0.0, 1.0, "h", workflow="wf"))
    boxes = parse(graph_dot(build_report(flat, region="GB")))[0]
    assert len(boxes) == 200 and "51 more nodes" in graph_dot(build_report(flat, region="GB"))


def test_long_rows_of_parallel_boxes_wrap_into_a_grid_and_hubs_do_not_pull() -> None:
    session = Session()
    for i in range(30):
        session.add_node(NodeRecord(f"wf.n{i:02d}", "ran", 0.0, 1.0, "h", workflow="wf"))
    session.add_node(NodeRecord("wf.hub", "ran", 0.0, 1.0, "h", workflow="wf"))
    session.add_edges((f"wf.n{i:02d}", "wf.hub") for i in range(30))
    dot = graph_dot(build_report(session, region="GB"))
    ids = {b["name"]: i for i, b in parse(dot)[0].items()}
    invisible = re.findall(r"(n\d+) -> (n\d+) \[style=invis\]", dot)
    assert len(invisible) == 30 - 8  # rows of max(8, sqrt(2 * 30)) = 8: n00 above n08 ...
    assert (ids["n00"], ids["n08"]) in invisible and ids["hub"] not in str(invisible)
    assert dot.count("weight=0") == 30


# -- escaping and rendering ------------------------------------------------------
def hostile_report() -> Report:
    names = [f"{HOSTILE_WORKFLOW}.{name}" for name in HOSTILE]
    nodes = {n: (HOSTILE_WORKFLOW, 0.1 * (i + 1)) for i, n in enumerate(names)}
    session = make_session({**nodes, "wf.top": ("wf", 0.1)})
    session.add_edges(itertools.pairwise(names))
    return build_report(session, region="GB")


def test_hostile_names_never_reach_dot_raw() -> None:
    dot = graph_dot(hostile_report())
    assert "<script>" not in dot and "\n" not in "".join(dot.splitlines())
    assert dot.isascii() and 'say "hi"' not in dot
    named = by_name(parse(dot)[0])
    assert set(named) == {"top"} | {n.replace("\n", "␊") for n in HOSTILE}
    assert {b["clusters"] for n, b in named.items() if n != "top"} == {('sub"<&>\\',)}
    assert len(parse(dot)[1]) == len(HOSTILE) - 1


@needs_dot
def test_svg_of_hostile_names_parses_and_shows_them_literally() -> None:
    svg = render_graph(hostile_report(), "svg")
    tree = ET.fromstring(svg)
    text = " ".join("".join(t.itertext()) for t in tree.iter() if t.tag.endswith("text"))
    for name in HOSTILE:
        assert name.replace("\n", "␊") in text
    assert 'sub"<&>\\' in text
    assert not any(t.tag.endswith("script") for t in tree.iter())
    titles = [v for t in tree.iter() for k, v in t.attrib.items() if k.endswith("title")]
    assert any("back⧵slash⧵" in t for t in titles) and any("esc⧵N⧵G⧵l" in t for t in titles)
    assert any('sub"<&>⧵.say "hi"' in t for t in titles)


@needs_dot
def test_png_render_and_missing_dot() -> None:
    report = build_report(pipeline(), region="GB")
    assert render_graph(report, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render_graph(report, "dot", dot_binary="no-such-dot").startswith(b"digraph")
    with pytest.raises(GraphvizError, match="apt-get install graphviz"):
        render_graph(report, "svg", dot_binary="no-such-dot")


# -- the command line ------------------------------------------------------------
@pytest.fixture
def run(tmp_path: Path) -> Path:
    path = tmp_path / "carbon" / "session-1.jsonl"
    pipeline().save(path)
    return path.parent


@needs_dot
def test_cli_writes_svg_png_and_dot(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for suffix in ("svg", "png", "dot"):
        out = tmp_path / f"graph.{suffix}"
        assert main(["graph", str(run), "-o", str(out), "--region", "FR"]) == 0
        assert out.stat().st_size > 0
        assert capsys.readouterr().out == f"wrote {out}\n"  # as report says it
    root = ET.fromstring((tmp_path / "graph.svg").read_bytes())
    assert "".join(root.itertext()).count("MapNode, 3 children") == 1
    assert main(["graph", str(run), "-o", str(tmp_path / "e.dot"), "--label", "emissions"]) == 0
    assert "CO2e" in (tmp_path / "e.dot").read_text().split("cluster_legend")[0]


def test_cli_errors_are_one_line_and_exit_2(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = tmp_path / "corrupt.jsonl"
    corrupt.write_text("not json\n")
    cases = {
        "no such session": [str(tmp_path / "missing"), "-o", str(tmp_path / "g.svg")],
        "not a nipype-carbon session": [str(corrupt), "-o", str(tmp_path / "g.svg")],
        "unknown region": [str(run), "-o", str(tmp_path / "g.svg"), "--region", "Atlantis"],
        "end it in .svg": [str(run), "-o", str(tmp_path / "g.pdf")],
        "pue must be": [str(run), "-o", str(tmp_path / "g.svg"), "--pue", "0.5"],
    }
    for expected, args in cases.items():
        assert main(["graph", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("nipype-carbon graph: ") and expected in err
        assert err.count("\n") == 1 and "Traceback" not in err
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", str(run), "-o", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and err.count("\n") == 1
