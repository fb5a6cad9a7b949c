"""The escaping rules, over any text: what a terminal, a CSV reader or a Markdown renderer gets.

Hypothesis draws text from every code point (surrogates, controls and format characters
included) mixed with the pieces of markup, links and formulas an attacker would use; each
result is read by the reader itself (markdown-it, Python's csv module), never by the code
under test.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from html.parser import HTMLParser

from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from nipype_carbon.report.escape import csv_cell, markdown_text, markup, visible

PIECES = [
    "[x](javascript:alert(1))", "![y](http://evil.example/t.png)", "<http://evil.example>",
    "www.evil.example", "http://evil.example", "//evil.example", "x@evil.example", "<img src=x ",
    "onerror=alert(1)>", "&lt;", "&#60;", "\\", "`", "*", "_", "~~", "|", "#", "- ", "1) ", "1. ",
    "    ", "\t", "\r\n", "=", "+", "-", "@", "\x1b]0;t\x07", "\x1b[2J", "\u202e", "\ud800",
    "\u2028", "\ufeff", "\x85", "12.5", "{a=b}", "$x$", "---", "===", ">", "[^1]", "[x]: /u",
]  # fmt: skip
TEXT = st.lists(
    st.one_of(st.sampled_from(PIECES), st.characters(exclude_categories=())), max_size=24
).map("".join)
INVISIBLE = ("Cc", "Cf", "Cs", "Zl", "Zp")
FORMULA = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
GITHUB_LIKE = MarkdownIt("gfm-like", {"html": True})  # tables and autolinked addresses


class Parsed(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text += data


def _words(text: str) -> str:
    return "".join(text.split())


@given(TEXT)
def test_visible_text_holds_nothing_invisible_and_is_stable(text: str) -> None:
    shown = visible(text)
    assert [c for c in shown if unicodedata.category(c) in INVISIBLE] == []
    shown.encode("utf-8")  # strictly
    assert visible(shown) == shown
    if text.isprintable():
        assert shown == text  # printable text is never changed


@given(TEXT)
def test_a_csv_cell_reads_back_as_one_text_cell_no_spreadsheet_runs(text: str) -> None:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([csv_cell(text), "next"])
    (row,) = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert len(row) == 2 and row[1] == "next"
    assert not row[0].strip().startswith(FORMULA)
    assert [c for c in row[0] if unicodedata.category(c) in INVISIBLE] == []


@settings(max_examples=300)
@given(TEXT)
def test_markdown_text_renders_as_that_text_and_nothing_else(text: str) -> None:
    for document, allowed in (
        (f"- {markdown_text(text)}\n", {"ul", "li"}),
        (
            f"| a |\n|---|\n| {markdown_text(text)} |\n",
            {"table", "thead", "tbody", "tr", "th", "td"},
        ),
        (f"Text: {markdown_text(text)}\n", {"p"}),
    ):
        parsed = Parsed(GITHUB_LIKE.render(document))
        assert set(parsed.tags) <= allowed | {"p"}, (document, parsed.tags)
        assert parsed.attributes == [], document  # no href, src or handler
        assert _words(visible(text)) in _words(parsed.text), document  # shown as written


@given(TEXT)
def test_markup_is_text_to_an_html_parser(text: str) -> None:
    parsed = Parsed(f'<p title="{markup(text)}">{markup(text)}</p>')
    assert parsed.tags == ["p"] and parsed.attributes == [("title", visible(text))]
    assert parsed.text == visible(text)


def test_bidi_controls_are_shown_by_their_code_points() -> None:
    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    shown = visible(controls)
    assert re.fullmatch(r"(<U\+[0-9A-F]{4}>){12}", shown)
    assert [int(code, 16) for code in re.findall(r"[0-9A-F]{4}", shown)] == list(map(ord, controls))
