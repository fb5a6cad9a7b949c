"""Names a user's workflow can hold cannot turn into formulas, markup, escapes or broken SVG.

A real nipype run (CarbonLinear) with names nipype accepts: a node named ``-cmd``
(a formula to a spreadsheet), a node named with an astral-plane letter, and an
interface whose module name holds a formula, markup, a newline and a terminal
escape sequence.
"""

from __future__ import annotations

import csv
import shutil
import sys
import types
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest
from nipype.interfaces.utility import Function

from tests.faults.helpers import run_cli
from tests.plugin.workflows import burn, burn_node, fast

EVIL_MODULE = '=HYPERLINK("http://x")<script>alert(1)</script>\n\x1b[2J'
ASTRAL = "sub_\U0001d4b3"  # MATHEMATICAL SCRIPT CAPITAL X: a letter, so nipype takes it


@pytest.fixture(scope="module")
def carbon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    base = tmp_path_factory.mktemp("names")
    evil = type("Evil", (Function,), {"__module__": EVIL_MODULE})
    module = types.ModuleType(EVIL_MODULE)  # so nipype can pickle the interface's results
    module.Evil = evil  # type: ignore[attr-defined]
    sys.modules[EVIL_MODULE] = module
    wf = fast(pe.Workflow("names", base_dir=str(base)))
    node = pe.Node(evil(["seconds"], ["out"], burn), name="evil")
    node.inputs.seconds = 0.05
    wf.add_nodes([node, burn_node("-cmd", 0.05), burn_node(ASTRAL, 0.05)])
    try:
        wf.run(plugin="CarbonLinear", plugin_args={"region": "GB"})
        yield base / "names" / "carbon"
    finally:
        del sys.modules[EVIL_MODULE]


def test_csv_cells_never_start_a_formula(carbon: Path, tmp_path: Path) -> None:
    status, _, err = run_cli("report", str(carbon), "-o", str(tmp_path / "n.csv"))
    assert status == 0, err
    with open(tmp_path / "n.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    cells = [v for row in rows for v in row.values() if v]
    assert any(row["interface"].startswith("'=HYPERLINK") for row in rows)
    risky = [c for c in cells if c[0] in "=+@\t\r" or (c[0] == "-" and not _number(c))]
    assert risky == []


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_markdown_escapes_markup_and_line_breaks(carbon: Path, tmp_path: Path) -> None:
    status, _, err = run_cli("report", str(carbon), "-o", str(tmp_path / "r.md"), "--top", "50")
    assert status == 0, err
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "<script>" not in text and "&lt;script&gt;" in text
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows and all(line.rstrip().endswith("|") for line in rows)  # no row broken in two


def test_the_console_shows_no_control_character(carbon: Path) -> None:
    status, out, err = run_cli("report", str(carbon), "--top", "50")
    assert status == 0, err
    assert "\x1b" not in out and "\u241b[2J" in out  # ESC shown as its control picture
    assert all(ch == "\n" or ord(ch) >= 32 for ch in out)


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_the_svg_graph_parses_with_every_name(carbon: Path, tmp_path: Path) -> None:
    target = tmp_path / "g.svg"
    status, _, err = run_cli("graph", str(carbon), "-o", str(target), "--collapse", "none")
    assert status == 0, err
    target.read_bytes().decode("utf-8")  # valid UTF-8
    root = ET.parse(target).getroot()
    text = "".join(root.itertext()) + "".join(v for e in root.iter() for v in e.attrib.values())
    assert ASTRAL in text
