"""Every reader of a report is safe from what a session's names hold, read by the reader itself.

A saved session whose node, workflow, interface, function and CPU names, meter-fault
reasons and error strings are hostile: carriage returns, line feeds, tabs and NUL before
formulas (``=cmd|' /C calc'!A0``), terminal escapes (an OSC title change, CSI screen
clear, an 8-bit CSI), bidi controls, a lone surrogate (``"\\ud800"``: valid JSON), HTML
with event handlers, Markdown links, images and autolinks. Each output is read back by
what reads it in the field, never by the code under test: Python's csv module (a
spreadsheet's view of cells), markdown-it as CommonMark and with GitHub-like autolinking,
then html.parser; headless Chromium for the page and for the CSV its button writes; the
code points a terminal would receive.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from nipype_carbon.report import build_report
from nipype_carbon.report.formats import render_runs
from nipype_carbon.report.power_timeline import timeline_svg
from nipype_carbon.report.summary import summary_text
from testkit.sessions import NodeSpec, build_session
from tests.faults.helpers import run_cli
from tests.report.test_html import browse, find_chromium

#: names as a hostile workflow could make them; each one is also a node's whole name
HOSTILE = [
    "\r=cmd|' /C calc'!A0",
    "\n+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    '  \u3000=HYPERLINK("http://evil.example")',
    "\x00\x01=nul",
    "\x85=nel",
    "\uff1dfull-width",
    "\x1b]0;pwned\x07title",
    "\x1b[2J\x9b31mclear",
    "abc\u202edcba\u2066iso\u2069\u200f\u061c",
    "lone\ud800surrogate",
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">",
    "<script>document.title='pwned'</script>",
    "[x](javascript:alert(1))",
    "![y](http://evil.example/t.png)",
    "<http://evil.example>",
    "www.evil.example http://evil.example/a //evil.example x@evil.example",
    "&lt;img src=x onerror=alert(2)&gt;",
    "\\<b>[z]\\(http://evil.example)",
    "{onclick=alert(3)} $x$ `code` *em* _em_ ~~s~~ | pipe #1 @user",
]
WORKFLOW = "<img src=x onerror=alert(4)>[w](javascript:alert(5))\x1b]0;wf\x07\u202e\ud800"
CPU = "<img src=x onerror=alert(6)>![cpu](http://evil.example/cpu.png)\x1b[2J\u202e"
FAULT = "\x1b]0;fault\x07 <img src=x onerror=alert(7)> [f](javascript:alert(8)) \u202e"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
FORMULA = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: what a reader must never receive raw: C0 and C1 controls, DEL, bidi controls, surrogates
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f" + BIDI + "\ud800-\udfff]")


def hostile_session_file(path: Path, host: str = "h") -> Path:
    specs = [NodeSpec(name, 0.5 * i, 2.0, 1.0, 3) for i, name in enumerate(HOSTILE)]
    specs.append(NodeSpec("wf.plain", 0.0, 3.0, 1.0, 4))
    session = build_session(specs, host=host)
    for i, record in enumerate(session.nodes.values()):
        record.interface = HOSTILE[(i + 1) % len(HOSTILE)]
        record.workflow = HOSTILE[(i + 2) % len(HOSTILE)]
        record.extra["function"] = HOSTILE[(i + 3) % len(HOSTILE)]
        record.error = HOSTILE[i % len(HOSTILE)]
    first = session.nodes[HOSTILE[0]]
    assert first.measurement is not None
    first.measurement["faults"] = [{"meter": "rapl\x1b[2J", "t": first.start, "reason": FAULT}]
    session.hosts[host].info["cpu_model"] = CPU
    session.metadata = {"workflow": WORKFLOW, "engine": "nipype"}
    session.add_edges([(HOSTILE[i], HOSTILE[i + 1]) for i in range(0, len(HOSTILE) - 1, 2)])
    return session.save(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = hostile_session_file(tmp_path_factory.mktemp("hostile") / "session-hostile.jsonl")
    assert '"lone\\ud800surrogate"' in path.read_text(encoding="ascii")  # valid JSON, as written
    assert "lone\ud800surrogate" in set(build_report(path).nodes["node"])  # read back as is
    return path


def report_to(run: Path, target: Path, *options: str) -> str:
    status, _, err = run_cli("report", str(run), "-o", str(target), "--top", "100", *options)
    assert status == 0, err
    return target.read_bytes().decode("utf-8")  # strictly: no surrogate can be in a file


class Elements(HTMLParser):
    """Every element and attribute, and the text, of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += [(tag, name, value) for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


# -- CSV: a spreadsheet's view -------------------------------------------------
def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def assert_cells_are_text(text: str) -> list[dict[str, str]]:
    """Rows of a CSV file, each cell checked as a spreadsheet would read it."""
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == len(HOSTILE) + 1  # no name broke a row in two
    for row in rows:
        for column, cell in row.items():
            assert not FORBIDDEN.search(cell), (column, cell)
            start = cell.strip()[:1]
            assert start not in FORMULA or _number(cell), (column, cell)
    return rows


def test_the_csv_file_holds_no_formula_and_no_control_character(run: Path, tmp_path: Path) -> None:
    rows = assert_cells_are_text(report_to(run, tmp_path / "nodes.csv"))
    nodes = {row["node"] for row in rows}
    assert "\u240d=cmd|' /C calc'!A0" in nodes  # CR shown as its control picture: text
    assert '\'  \u3000=HYPERLINK("http://evil.example")' in nodes  # formula after spaces
    assert "lone\ufffdsurrogate" in nodes and "abc<U+202E>dcba<U+2066>iso<U+2069>" in "".join(nodes)


#: run after the page's script: capture the CSV its button makes, instead of downloading it
CSV_PROBE = """<script>(function () {
  var made = null, Original = window.Blob;
  window.Blob = function (parts, options) {
    made = parts.join("");
    return new Original(parts, options);
  };
  HTMLAnchorElement.prototype.click = function () {};
  document.getElementById("nc-csv").click();
  document.body.setAttribute("data-csv", JSON.stringify(made));
})();</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip("Chromium missing; run bash scripts/install-system-deps.sh chromium")
    return found


def body_attributes(dom: str) -> dict[str, str | None]:
    """The attributes of the ``<body>`` a browser's DOM dump holds, unescaped."""
    parsed = Elements()
    parsed.feed(dom)
    return {name: value for tag, name, value in parsed.attributes if tag == "body"}


def test_the_page_csv_button_writes_cells_a_spreadsheet_shows_as_text(
    chromium: str, run: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    page.write_text(
        report_to(run, tmp_path / "r.html").replace("</body>", CSV_PROBE + "</body>"), "utf-8"
    )
    done = browse(chromium, page, tmp_path, "--dump-dom")
    body = body_attributes(done.stdout)
    assert body.get("data-ready") == "true", done.stderr[-2000:]
    made = json.loads(str(body["data-csv"]))
    made.encode("utf-8")  # JSON.stringify writes a lone surrogate as an escape: none is left
    rows = assert_cells_are_text(made)
    python = list(csv.DictReader(io.StringIO(report_to(run, tmp_path / "n.csv"), newline="")))
    for column in ("node", "interface", "workflow", "function", "status", "method"):
        assert sorted(r[column] for r in rows) == sorted(r[column] for r in python), column


# -- Markdown: rendered by markdown-it, then parsed as HTML ---------------------
MARKDOWN_READERS = {
    "CommonMark with tables": lambda: MarkdownIt("commonmark").enable("table"),
    "GitHub-like with autolinks": lambda: MarkdownIt("gfm-like", {"html": True}),
}
SAFE_ELEMENTS = {"h1", "h2", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td"}


@pytest.mark.parametrize("reader", list(MARKDOWN_READERS))
def test_markdown_renders_no_markup_link_or_image_from_the_session(
    run: Path, tmp_path: Path, reader: str
) -> None:
    text = report_to(run, tmp_path / "report.md", "--cohort", "3")
    parsed = Elements()
    parsed.feed(MARKDOWN_READERS[reader]().render(text))
    assert parsed.tags <= SAFE_ELEMENTS, parsed.tags - SAFE_ELEMENTS  # no img, a, script, em
    assert parsed.attributes == []  # so no href, no src, no onerror
    shown = "".join(parsed.text)
    for name in ("<img src=x onerror=alert(1)>", "[x](javascript:alert(1))", "<http://evil.example>",
                 "![y](http://evil.example/t.png)", "www.evil.example http://evil.example/a",
                 "&lt;img src=x onerror=alert(2)&gt;", "<img src=x onerror=alert(6)>"):  # fmt: skip
        assert name in shown, name  # shown as text, as written
    assert not FORBIDDEN.search(shown.replace("\n", ""))  # line feeds between elements only
    assert "<U+202E>" in shown and "\u241b]0;pwned\u2407" in shown
    hottest = text.split("## Hottest nodes\n")[1].split("\n## ")[0]
    rows = [line for line in hottest.splitlines() if line.startswith("| ")]
    assert len(rows) == 1 + len(HOSTILE) + 1  # the header, then one row a node: none broken


# -- HTML: loaded by a browser ----------------------------------------------------
#: run after the page's script: what the parser made of the page, written into <body>
PAGE_PROBE = """<script>(function () {
  var out = {title: document.title, scripts: document.scripts.length};
  out.images = document.querySelectorAll("img, image, iframe, object, embed").length;
  out.handlers = [];
  document.querySelectorAll("*").forEach(function (e) {
    for (var i = 0; i < e.attributes.length; i++) {
      if (/^on/i.test(e.attributes[i].name)) { out.handlers.push(e.tagName); }
    }
  });
  out.links = Array.prototype.map.call(document.querySelectorAll("[href], [src]"), function (e) {
    return e.getAttribute("href") || e.getAttribute("src");
  });
  out.nodes = document.getElementById("nc-nodes").textContent;
  out.header = document.querySelector("header").textContent;
  out.methods = document.getElementById("nc-methods").textContent;
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();</script>"""


def test_the_page_runs_no_script_from_the_session_and_shows_names_as_text(
    chromium: str, run: Path, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    text = report_to(run, tmp_path / "r.html")
    page.write_text(text.replace("</body>", PAGE_PROBE + "</body>"), encoding="utf-8")
    done = browse(chromium, page, tmp_path, "--dump-dom", "--virtual-time-budget=3000")
    body = body_attributes(done.stdout)
    assert body.get("data-ready") == "true", done.stderr[-2000:]
    assert "data-pwned" not in body  # no injected handler ran, even once the page had loaded
    probe = json.loads(str(body["data-probe"]))
    assert probe["scripts"] == 3  # the data, the page's script, this probe
    assert probe["images"] == 0 and probe["handlers"] == [] and probe["links"] == []
    assert probe["title"].startswith("nipype-carbon: <img src=x onerror=alert(4)>")
    assert "pwned" not in probe["title"]
    shown = ["<img src=x onerror=alert(1)>", "<script>document.title='pwned'</script>"]
    shown += ["abc<U+202E>dcba", "\u241b]0;pwned\u2407title", "lone\ufffdsurrogate"]
    for name in shown:
        assert name in probe["nodes"], name
    assert "[w](javascript:alert(5))\u241b]0;wf\u2407<U+202E>\ufffd" in probe["header"]
    assert "<img src=x onerror=alert(6)>" in probe["methods"]
    for part in ("nodes", "header", "methods"):
        assert not FORBIDDEN.search(probe[part]), part


# -- a terminal ---------------------------------------------------------------------
def assert_terminal_safe(text: str) -> None:
    """What a terminal would act on: no C0 control but a line feed, no DEL, no C1 control
    (7- or 8-bit escape sequences), no bidi control, no surrogate."""
    data = text.encode("utf-8")  # strictly
    assert not re.search(rb"[\x00-\x09\x0b-\x1f\x7f]", data), text
    bad = [c for c in text if c != "\n" and unicodedata.category(c) in ("Cc", "Cs")]
    assert bad == [] and not re.search("[" + BIDI + "]", text), bad


def test_the_console_report_shows_no_control_sequence_and_bidi_controls_as_code_points(
    run: Path,
) -> None:
    status, out, err = run_cli("report", str(run), "--top", "100", "--cohort", "2")
    assert status == 0, err
    assert_terminal_safe(out)
    for code in ("202E", "2066", "2069", "200F", "061C", "009B", "0085"):
        assert f"<U+{code}>" in out, code
    assert "\u241b]0;pwned\u2407title" in out and "lone\ufffdsurrogate" in out
    assert "\u241b]0;fault\u2407" in out  # the meter fault's reason, in the header


def test_compare_prints_no_control_sequence(run: Path, tmp_path: Path) -> None:
    other = hostile_session_file(tmp_path / "session-other.jsonl", host="h\x1b]0;host\x07\u202e")
    status, out, err = run_cli("compare", str(run), str(other), "--top", "100")
    assert status == 0, err
    assert_terminal_safe(out)
    assert "<U+202E>" in out and "host (session-hostile: h; session-other: h\u241b]0;host" in out
    assert "\u241b]0;pwned\u2407title" in out  # a node's name, in the nodes table
    status, out, err = run_cli("compare", str(run), "--alternatives", "s=\x1b[2J,\u202eb")
    assert status == 2 and out == ""
    assert_terminal_safe(err)


def test_the_end_of_run_summary_shows_no_control_sequence(run: Path) -> None:
    report = build_report(run)
    for text in (summary_text(report, top=100), render_runs([report], top=100)):
        assert_terminal_safe(text)
        assert "<U+202E>" in text


@pytest.mark.parametrize("command", ["report", "graph", "compare"])
def test_error_lines_show_no_control_sequence(command: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "no\x1b]0;pwned\x07such\u202erun")
    args = [missing, missing] if command == "compare" else [missing]
    status, out, err = run_cli(command, *args, *(["-o", "g.svg"] if command == "graph" else []))
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert_terminal_safe(err)
    assert "\u241b]0;pwned\u2407such<U+202E>run" in err


# -- a lone surrogate, through every format ------------------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".csv", ".json", ".md", ".html", ".dot", ".svg"])
def test_every_format_renders_a_lone_surrogate_as_a_replacement(
    run: Path, tmp_path: Path, suffix: str
) -> None:
    if suffix == ".svg" and shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    text = report_to(run, tmp_path / f"out{suffix}")  # decoded strictly as UTF-8
    if suffix == ".json":
        assert text.isascii()  # controls and bidi controls as \\u escapes, for programs
        text = json.dumps(json.loads(text), ensure_ascii=False)
    else:
        assert not FORBIDDEN.search(text.replace("\n", "")), suffix  # nothing raw, anywhere
    if suffix == ".svg":
        root = ET.fromstring(text)
        text = "".join(root.itertext()) + "".join(v for e in root.iter() for v in e.attrib.values())
    if suffix == ".dot":
        text = html.unescape(text)
    assert "lone\ufffdsurrogate" in text


def test_the_timeline_svg_parses_as_xml_with_every_name(run: Path) -> None:
    svg = timeline_svg(build_report(run), max_rows=100)
    svg.encode("utf-8")
    root = ET.fromstring(svg)  # no control character XML forbids
    texts = "".join(root.itertext())
    assert "lone\ufffdsurrogate" in texts and "<img src=x onerror=alert(1)>" in texts
    assert "\u241b]0;pwned\u2407title" in texts and not FORBIDDEN.search(texts.replace("\n", ""))
