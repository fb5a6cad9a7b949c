"""The HTML report and timeline: self-contained, escaped, faithful, rendered by a browser."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from nipype_carbon.record.records import NodeRecord
from nipype_carbon.record.session import Session
from nipype_carbon.report import Report, build_report
from nipype_carbon.report.colours import emissions_colour
from nipype_carbon.report.html import DATA_ID, graph_section, render_html
from nipype_carbon.report.model import NODE_COLUMNS
from nipype_carbon.report.power_timeline import timeline_svg
from nipype_carbon.report.units import energy
from testkit.sessions import NodeSpec, build_session

HOSTILE = [
    "wf.<script>alert(1)</script>",
    "wf.a&b \"double\" 'single'",
    "wf.</script><script>alert(2)</script>",
    "wf.<!--comment-->",
]
DATA_RE = re.compile(
    rf'<script type="application/json" id="{DATA_ID}">(?P<data>.*?)</script>', re.DOTALL
)


def hostile_session(n_plain: int = 4) -> Session:
    """Hostile names everywhere a user controls one: nodes, interface, workflow, host."""
    names = HOSTILE + [f"wf.step{i}" for i in range(n_plain)]
    specs = [NodeSpec(n, start=i * 2.0, duration=3.0, cpu_rate=0.5 + i % 3, samples=4)
             for i, n in enumerate(names)]  # fmt: skip
    session = build_session(specs, host="host<&>")
    for i, record in enumerate(session.nodes.values()):
        record.interface = f"pkg.Iface{i % 3}<img src=x onerror=alert(3)>"
        record.workflow = "wf"
    session.nodes[names[-1]].status = "failed"
    session.metadata = {"workflow": "<script>alert(4)</script>", "engine": "nipype"}
    session.add_node(NodeRecord("wf.map<b>", "ran", 0.0, 9.0, "host<&>", extra={"mapnode": True}))
    session.edges.extend([(names[0], names[1]), (names[1], "wf.map<b>")])
    return session


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(hostile_session())


@pytest.fixture(scope="module")
def page(report: Report) -> str:
    return render_html(report)


def find(pattern: str | re.Pattern[str], text: str, group: int | str = 0) -> str:
    compiled = pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.DOTALL)
    match = compiled.search(text)
    assert match, f"{pattern} not found"
    return match.group(group)


def embedded(page: str) -> dict:
    return dict(json.loads(find(DATA_RE, page, "data")))


def test_page_is_self_contained(page: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    assert "@import" not in page
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", page, re.IGNORECASE)
    assert page.count("<script") == 2  # the data, and the one small inline script
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")


def test_embedded_json_parses_back_to_the_totals(report: Report, page: str) -> None:
    data = embedded(page)
    totals = data["totals"]
    for key in ("energy_j", "attributed_energy_j", "unattributed_energy_j", "emissions_g"):
        assert totals[key] == pytest.approx(getattr(report.totals, key), rel=1e-12)
    for key in ("region", "region_is_default", "idle", "nodes", "methods", "hosts"):
        assert totals[key] == getattr(report.totals, key)
    nodes = data["nodes"]
    assert nodes["columns"][: len(NODE_COLUMNS)] == NODE_COLUMNS
    assert len(nodes["data"]) == len(report.nodes)
    names = {row[0] for row in nodes["data"]}
    assert set(HOSTILE) <= names  # the hostile names survive the round trip intact
    energy_at = nodes["columns"].index("energy_j")
    assert sum(r[energy_at] for r in nodes["data"]) == pytest.approx(report.totals.energy_j)
    assert len(data["interfaces"]["data"]) == len(report.interfaces())


def test_hostile_names_are_escaped(page: str) -> None:
    raw = find(DATA_RE, page, "data")
    assert "<" not in raw and ">" not in raw and "&" not in raw  # no `</` can close the script
    outside = DATA_RE.sub("", page)
    for bad in ("<script>alert", "</script><script>", "<img src=x", "<!--comment", '"double"'):
        assert bad not in outside, bad
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in outside.replace("<wbr>", "")
    assert "a&amp;b &quot;double&quot; &#x27;single&#x27;" in outside.replace("<wbr>", "")
    assert "host&lt;&amp;&gt;" in outside


def test_timeline_is_well_formed_svg_with_every_name_escaped(report: Report) -> None:
    svg = timeline_svg(report, max_rows=100)
    root = ET.fromstring(svg)  # a name that broke out of its text would not parse
    texts = "".join(root.itertext())
    assert "alert(1)" in texts and "<script>" in texts  # shown as text, not markup
    assert not root.findall(".//{http://www.w3.org/2000/svg}script")
    assert "W" in texts and "host host<&>" in texts
    assert 'class="f"' in svg  # the failed node is outlined
    assert "scheduler" not in texts  # this session has no scheduler record


def test_world_average_warning_only_without_region(page: str) -> None:
    assert "No region set: world average" in page
    assert 'id="nc-region-warning"' in page
    quebec = render_html(build_report(hostile_session(), region="CA-QC"))
    assert 'id="nc-region-warning"' not in quebec
    assert "CA-QC" in quebec


def test_modelled_note_follows_the_methods(page: str) -> None:
    assert 'id="nc-modelled"' in page  # the synthetic host models its memory power
    session = hostile_session()
    for meter in session.hosts["host<&>"].meters["meters"]:
        meter["domains"] = [d for d in meter["domains"] if d["method"] != "model"]
    measured = build_report(session)
    assert measured.totals.methods == ["rapl"]
    assert 'id="nc-modelled"' not in render_html(measured)


def test_tables_have_top_rows_and_shares(report: Report) -> None:
    page = render_html(report, top=3)
    hot = find(r'<table id="nc-nodes">.*?</table>', page)
    assert hot.count("<tr>") == 1 + 3
    assert "cumulative" in hot and "share" in hot
    ifaces = find(r'<table id="nc-interfaces">.*?</table>', page)
    assert ifaces.count("<tr>") == 1 + len(report.interfaces())
    shares = [float(v) for v in re.findall(r"<b>([\d.]+)%</b>", ifaces)]
    cumulative = [float(v) for v in re.findall(r'</span></td><td class="n">([\d.]+)%</td>', ifaces)]
    assert len(shares) == len(cumulative) == 3
    assert shares == sorted(shares, reverse=True)  # hottest first
    assert cumulative == sorted(cumulative) and cumulative[-1] == 100.0


def test_graph_degrades_to_a_note(report: Report) -> None:
    assert "Workflow graph not shown" in graph_section(report, max_nodes=0)


def test_emissions_colour_runs_dark_to_yellow() -> None:
    assert emissions_colour(0.0, 0.0, 2.0) == "#440154"
    assert emissions_colour(2.0, 0.0, 2.0) == "#fde725"
    assert emissions_colour(9.0, 0.0, 2.0) == "#fde725"  # clamped
    mid = emissions_colour(1.0, 0.0, 2.0)
    assert re.fullmatch(r"#[0-9a-f]{6}", mid) and mid not in ("#440154", "#fde725")


def test_many_nodes_are_merged_into_few_rows() -> None:
    specs = [NodeSpec(f"wf.sub{i:03d}.step{i % 7}", i * 0.5, 2.0, 1.0, 3) for i in range(240)]
    report = build_report(build_session(specs))
    svg = timeline_svg(report, max_rows=10)
    ET.fromstring(svg)
    assert svg.count("<rect") < 240  # bars of one row that touch are drawn as one
    assert "merged by interface" in svg or "merged by MapNode" in svg
    assert len(svg) < 60_000


# -- a real browser ----------------------------------------------------------
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome", "headless_shell")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]  # fmt: skip


def find_chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("Chromium missing; run bash scripts/install-system-deps.sh chromium")
    return found


def browse(chromium: str, page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp / 'profile'}", *args]
    return subprocess.run(
        [*command, page.resolve().as_uri()], capture_output=True, text=True, timeout=180
    )


def test_chromium_renders_the_page(chromium: str, report: Report, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    path.write_text(render_html(report, top=5), encoding="utf-8")
    done = browse(chromium, path, tmp_path, "--dump-dom")
    dom = done.stdout
    assert "<body" in dom, done.stderr[-2000:]
    body = find(r"<body[^>]*>", dom)
    assert "data-error" not in body, body
    assert 'data-ready="true"' in body  # the inline script parsed the embedded JSON
    assert f'data-nodes="{len(report.nodes)}"' in body
    assert energy(report.totals.energy_j) in dom
    hot = find(r'<table id="nc-nodes">.*?</table>', dom)
    assert hot.count("<tr>") == 1 + 5
    assert "<script>alert" not in dom.replace("<wbr>", "")
    shot = tmp_path / "report.png"
    done = browse(chromium, path, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000")
    assert shot.exists(), done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page


# -- layout, measured by the browser at two window widths --------------------------
#: measures the laid-out page and writes what it found into <body data-layout="...">
MEASURE = """<script>(function () {
  var doc = document.documentElement, out = {};
  out.page_overflow_px = doc.scrollWidth - doc.clientWidth;
  var table = document.getElementById("nc-nodes"), box = table.getBoundingClientRect();
  var frame = table.parentElement.getBoundingClientRect();
  var heads = table.querySelectorAll("thead th");
  out.table_overflow_px = box.right - frame.right;
  out.last_column = heads[heads.length - 1].textContent;
  out.last_column_right_px = heads[heads.length - 1].getBoundingClientRect().right;
  out.window_px = doc.clientWidth;
  out.share_overlap_px = 0;
  document.querySelectorAll("td.share").forEach(function (cell) {
    var bar = cell.querySelector(".bar i") || cell.querySelector("span");
    var a = cell.querySelector("b").getBoundingClientRect(), b = bar.getBoundingClientRect();
    var w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    var h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (w > 0 && h > 0) { out.share_overlap_px = Math.max(out.share_overlap_px, h); }
  });
  var sizes = [], frame = document.getElementById("nc-graph").getBoundingClientRect();
  var words = function (root) {
    return Array.prototype.filter.call(root.querySelectorAll("text"), function (t) {
      return t.textContent.trim() !== "";  // a spacer line has no words to read
    });
  };
  out.graph_clip_px = 0;
  words(document.querySelector("#nc-graph svg")).forEach(function (t) {
    sizes.push(parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a);
    var r = t.getBoundingClientRect();  // a word out of the frame's view is cut off
    out.graph_clip_px = Math.max(out.graph_clip_px, r.right - frame.right, frame.left - r.left);
  });
  out.graph_title_clip_px = 0;  // the graph's title: its direct words, always in view
  words(document.querySelector("#nc-graph svg g.graph")).forEach(function (t) {
    if (t.parentNode.classList.contains("graph")) {
      var r = t.getBoundingClientRect();
      out.graph_title_clip_px = Math.max(out.graph_title_clip_px, r.right - frame.right);
    }
  });
  var note = document.getElementById("nc-graph-wider");
  out.graph_wider_note = !!note && !note.hidden;
  out.graph_texts = sizes.length;
  out.graph_min_font_px = Math.min.apply(null, sizes);
  out.graph_line_overlap_px = 0;  // a box's lines of text, each below the one before
  document.querySelectorAll("#nc-graph svg g.node").forEach(function (g) {
    var rects = words(g).map(function (t) { return t.getBoundingClientRect(); });
    rects.sort(function (a, b) { return a.top - b.top; });
    for (var i = 1; i < rects.length; i++) {
      var a = rects[i - 1], b = rects[i];
      if (b.top - a.top < 0.5 * a.height) { continue; }  // pieces of one line
      out.graph_line_overlap_px = Math.max(out.graph_line_overlap_px, a.bottom - b.top);
    }
  });
  out.axis_label_inside_px = -1e9;  // the power axis's figures beside the plot, not on it
  document.querySelectorAll("svg.nc-tl").forEach(function (tl) {
    var axis = Array.prototype.find.call(tl.querySelectorAll("line.g"), function (l) {
      return l.getAttribute("x1") === l.getAttribute("x2");
    });
    if (!axis) { return; }
    var left = axis.getBoundingClientRect().left;
    tl.querySelectorAll("text").forEach(function (t) {
      if (/^[0-9.]+ W$/.test(t.textContent.trim())) {
        var right = t.getBoundingClientRect().right;
        out.axis_label_inside_px = Math.max(out.axis_label_inside_px, right - left);
      }
    });
  });
  document.body.setAttribute("data-layout", JSON.stringify(out));
})();</script>"""


def dwi_like_session() -> Session:
    """Names, interfaces and a host as long as the example's, and a tenfold spread of costs."""
    steps = [
        ("diffusion.denoise_mrtrix", "nipype.interfaces.mrtrix3.preprocess.DWIDenoise", 20.0),
        ("diffusion.denoise_dipy", "nipype.interfaces.utility.wrappers.Function", 9.9),
        ("diffusion.tensor_mrtrix", "nipype.interfaces.mrtrix3.reconst.FitTensor", 1.2),
        ("bold.compute_dvars_with_a_long_name", "nipype.algorithms.confounds.ComputeDVARS", 0.5),
        ("bold.framewise_displacement", "nipype.algorithms.confounds.FramewiseDisplacement", 0.05),
        ("diffusion.dwi_mask", "nipype.interfaces.mrtrix3.utils.BrainMask", 0.01),
    ]
    specs = [NodeSpec(f"dwi_carbon_example.{name}", i * 1.5, 4.0, rate, 6)
             for i, (name, _, rate) in enumerate(steps)]  # fmt: skip
    session = build_session(specs, host="compute-node-17.cluster.example.org")
    for (name, interface, _), spec in zip(steps, specs, strict=True):
        session.nodes[spec.name].interface = interface
        session.nodes[spec.name].workflow = "dwi_carbon_example." + name.split(".")[0]
    session.metadata = {"workflow": "dwi_carbon_example", "engine": "nipype"}
    names = [s.name for s in specs]
    session.edges.extend([(names[5], names[0]), (names[5], names[1]), (names[0], names[2])])
    return session


@pytest.mark.skipif(shutil.which("dot") is None, reason="apt-get install graphviz")
@pytest.mark.parametrize("width", [900, 1400])
def test_the_page_reads_well_at_this_width(chromium: str, width: int, tmp_path: Path) -> None:
    """No sideways scrolling, the method column in view, share bars beside (not over) their
    numbers, the graph's text at least 11 px and none of it cut off or run together, the
    power axis's figures off the plot: as the browser lays the page out."""
    page = render_html(build_report(dwi_like_session(), region="GB"))
    path = tmp_path / "report.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    size = f"--window-size={width},2400"
    done = browse(chromium, path, tmp_path, "--dump-dom", size)
    layout = json.loads(html.unescape(find(r'data-layout="([^"]*)"', done.stdout, 1)))
    assert layout["window_px"] == width, layout
    assert layout["page_overflow_px"] <= 0, layout
    assert layout["table_overflow_px"] <= 0, layout
    assert layout["last_column"] == "method" and layout["last_column_right_px"] <= width, layout
    assert layout["share_overlap_px"] == 0, layout
    assert layout["graph_texts"] > 10 and layout["graph_min_font_px"] >= 11, layout
    # nothing of the graph starts out of view unseen (its title, the scheduler's box), no line of a
    # box's text runs into the next (a name's underscores into its energy), and the power
    # axis's figures sit beside the plot (on it they were grey on the coloured areas)
    # (where fitting it would shrink its words below 11 px, the page says the rest is a
    # scroll away: a frame that cuts the drawing off says so)
    assert layout["graph_title_clip_px"] <= 1, layout
    assert layout["graph_clip_px"] <= 1 or layout["graph_wider_note"], layout
    assert layout["graph_line_overlap_px"] <= 0, layout
    assert -200 < layout["axis_label_inside_px"] <= 0, layout
    shot = tmp_path / f"report-{width}.png"
    done = browse(chromium, path, tmp_path, f"--screenshot={shot}", size)
    assert shot.exists(), done.stderr[-2000:]
    assert len(shot.read_bytes()) > 20_000  # not a blank page
