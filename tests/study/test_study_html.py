"""The study's HTML page: self-contained, escaped, its pictures drawn, laid out in Chromium."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nipype_carbon.study.build import build_study
from nipype_carbon.study.html import render_html
from tests.report.test_html import browse, chromium  # noqa: F401 - the fixture
from tests.study.test_study import write_run

HOSTILE = '<script>alert("x")</script>'
#: writes the laid-out page's horizontal overflow into <body data-overflow="...">
MEASURE = """<script>(function () {
  var doc = document.documentElement;
  document.body.setAttribute("data-overflow", String(doc.scrollWidth - doc.clientWidth));
  document.body.setAttribute("data-svgs", String(document.querySelectorAll("svg").length));
})();</script></body>"""


@pytest.fixture
def page(tmp_path: Path) -> str:
    for i, scale in enumerate((0.8, 1.0, 1.2, 1.1, 0.9, 2.5)):
        write_run(tmp_path / f"session-{i}.jsonl", f"{i:02d}", 100.0 * i, scale=scale)
    steps = ((f"anat_wf.{HOSTILE}", 4.0, 1.0),)
    write_run(tmp_path / "session-h.jsonl", "99", 900.0, steps=steps, failed=("</script>",))
    return render_html(build_study([tmp_path], store_path=None))


def test_page_is_self_contained_and_escaped(page: str) -> None:
    assert "<script" not in page  # no script at all, and no name let through
    assert not re.search(r"(src|href)=\"?https?:", page)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert page.count("<svg") == 4
    assert 'id="nc-subjects"' in page and 'id="nc-steps"' in page
    assert page.count("<tr>") >= 7 + 1  # seven subjects and the head


@pytest.mark.parametrize("width", [900, 1400])
def test_chromium_lays_the_page_out_within_the_window(
    chromium: str,  # noqa: F811 - the fixture
    page: str,
    tmp_path: Path,
    width: int,
) -> None:
    path = tmp_path / "study.html"
    path.write_text(page.replace("</body>", MEASURE), encoding="utf-8")
    done = browse(chromium, path, tmp_path, "--dump-dom", f"--window-size={width},1200")
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body, done.stderr[-2000:]
    assert 'data-svgs="4"' in body.group(0)
    overflow = int(re.search(r'data-overflow="(-?\d+)"', body.group(0)).group(1))
    assert overflow <= 0, f"the page is {overflow} px wider than a {width}-px window"
    shot = tmp_path / "study.png"
    browse(chromium, path, tmp_path, f"--screenshot={shot}", f"--window-size={width},2400")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000  # not a blank page
