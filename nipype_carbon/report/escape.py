"""Session text made safe for each reader: terminal, spreadsheet, Markdown viewer, browser.

Names of nodes, workflows, interfaces and hosts, and error strings, come from the user's
run, and every reader acts on some text: a terminal runs escape sequences, a spreadsheet
runs formulas, a Markdown viewer follows links and loads images, a browser runs markup.
The rules, in one place:

- :func:`visible`, first for every human reader: a C0 control character or DEL is shown
  as its Unicode control picture (ESC as ``␛``, a line feed as ``␊``); a C1 control, a
  format character (the bidi controls among them: U+202E shows as ``<U+202E>``) and a
  line or paragraph separator as ``<U+XXXX>``; a lone surrogate and the non-characters
  U+FFFE and U+FFFF (no UTF-8 or XML can hold them) as U+FFFD.
- :func:`csv_cell`: a text cell, made visible, gets a leading ``'`` when it starts like a
  formula once leading whitespace is skipped. :data:`CSV_CELL_JS` does the same for the
  HTML page's CSV button.
- :func:`markdown_text`: made visible, ``&``, ``<`` and ``>`` as entities, and every
  character that starts a link, an image, an autolink, emphasis or a table cell escaped.
- :func:`markup`: made visible, then escaped for HTML or XML text and attribute values.
- :func:`valid_unicode`: lone surrogates only, for JSON (which escapes controls itself).

Examples
--------
>>> visible("a\\x1b]0;t\\x07\\u202eb\\ud800")
'a␛]0;t␇<U+202E>b�'
>>> csv_cell("\\r=cmd"), csv_cell(" @SUM(1)"), csv_cell(-1.5)
('␍=cmd', "' @SUM(1)", -1.5)
>>> markdown_text("[x](javascript:alert(1)) <b> www.evil.example 12.5 J")
'\\\\[x\\\\](javascript:alert(1)) &lt;b&gt; www\\\\.evil\\\\.example 12.5 J'
>>> markup('<img src=x onerror="a()">')
'&lt;img src=x onerror=&quot;a()&quot;&gt;'
"""

from __future__ import annotations

import html
import numbers
import re
import unicodedata
from typing import Any

#: the Unicode bidirectional controls: they reorder the text around them on screen
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
#: what a spreadsheet reads as the start of a formula (ASCII and full-width forms); a tab or
#: a carriage return before one is already shown as a control picture by :func:`visible`
FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
#: categories shown by their code point: controls, format characters, line/paragraph separators
_SHOWN_AS_CODE = ("Cc", "Cf", "Zl", "Zp")
_SURROGATES = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def _shown(ch: str) -> str:
    """What a reader sees for one character (itself, unless it is invisible or invalid)."""
    code = ord(ch)
    category = unicodedata.category(ch)
    if category == "Cs" or code in (0xFFFE, 0xFFFF):
        return _REPLACEMENT
    if code < 0x20:
        return chr(0x2400 + code)  # the control pictures: ␀ ... ␟
    if code == 0x7F:
        return "\u2421"  # ␡
    if category in _SHOWN_AS_CODE:
        return f"<U+{code:04X}>"
    return ch


def visible(text: Any) -> str:
    r"""``text`` with no control character, bidi control or lone surrogate left in it.

    Parameters
    ----------
    text : Any
        Anything; it is made a string first.

    Examples
    --------
    >>> visible("wf.\u202eabc\x9b\n")
    'wf.<U+202E>abc<U+009B>␊'
    >>> visible("plain ünïcode ✓")
    'plain ünïcode ✓'
    """
    text = str(text)
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(map(_shown, text))


def valid_unicode(value: Any) -> Any:
    r"""A string with each lone surrogate replaced by U+FFFD; any other value unchanged.

    >>> valid_unicode("a\ud800"), valid_unicode(1.5)
    ('a�', 1.5)
    """
    return _SURROGATES.sub(_REPLACEMENT, value) if isinstance(value, str) else value


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: visible, and ``'`` before a formula start.

    Numbers (and missing values) are never changed.

    Examples
    --------
    >>> csv_cell("=HYPERLINK(1)"), csv_cell("-x"), csv_cell(-1.5), csv_cell("a")
    ("'=HYPERLINK(1)", "'-x", -1.5, 'a')
    >>> csv_cell("\\t=cmd|' /C calc'!A0")
    "␉=cmd|' /C calc'!A0"
    """
    if value is None or isinstance(value, numbers.Number):
        return value
    text = visible(value)
    return "'" + text if text.lstrip().startswith(FORMULA_START) else text


#: the page's CSV cell, as :func:`csv_cell` and :func:`visible` make it (the HTML report's
#: "Download nodes as CSV" button); the test suite reads both with one CSV reader
CSV_CELL_JS = (
    r"""function (v) {
  if (v === null || v === undefined) { return ""; }
  var text = String(v);
  if (typeof v === "string") {
    text = text.replace(/[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\uFFFE\uFFFF]/gu, function (ch) {
      var code = ch.codePointAt(0);
      if ((code >= 0xD800 && code <= 0xDFFF) || code === 0xFFFE || code === 0xFFFF) {
        return "\uFFFD";
      }
      if (code < 0x20) { return String.fromCharCode(0x2400 + code); }
      if (code === 0x7F) { return "\u2421"; }
      return "<U+" + code.toString(16).toUpperCase().padStart(4, "0") + ">";
    });
    if (/^\s*[FORMULA]/u.test(text)) { text = "'" + text; }
  }
  return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
}"""
).replace("FORMULA", "".join(f"\\u{ord(c):04X}" for c in FORMULA_START))

#: Markdown syntax in text: always escaped; ``.`` (``www.``, domains, e-mail), ``:`` before
#: ``/`` (``http://``) and ``/`` before ``/`` (``//host``) as well, so that no autolink forms
_MARKDOWN = re.compile(r"[\\`*_{}\[\]#@!|~$^]|(?<![0-9])\.|\.(?![0-9])|:(?=/)|/(?=/)")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
#: what opens a block at the start of a line or list item: a list item, a setext underline
_BLOCK_START = re.compile(r"^(?:[-+=]|[0-9]{1,9}\))")


def markdown_text(value: Any) -> str:
    r"""Text for Markdown (a paragraph, a list item or a table cell) that stays text.

    No raw HTML, link, image or autolink can form from it in CommonMark, GitHub's Markdown
    or markdown-it, with or without their autolinking of bare addresses: ``&``, ``<`` and
    ``>`` become entities (backslash escapes are not read by every dialect) and the rest of
    the syntax is backslash-escaped. A decimal point stays bare (``12.5 J``). Nor can it
    open a block where a line starts (a list, a code block): leading spaces, which Markdown
    does not show, are dropped, and a list marker is escaped.

    Examples
    --------
    >>> markdown_text("![y](http://evil.example/t.png) a|b\nc")
    '\\!\\[y\\](http\\:\\//evil\\.example/t\\.png) a\\|b␊c'
    >>> markdown_text("    - 1) x"), markdown_text("1) x")
    ('\\- 1) x', '1\\) x')
    """
    escaped = _MARKDOWN.sub(lambda m: "\\" + m.group(), visible(value).lstrip(" "))
    escaped = _BLOCK_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], escaped)
    return re.sub("[&<>]", lambda m: _ENTITIES[m.group()], escaped)


def markup(value: Any) -> str:
    """HTML or XML text, or a quoted attribute value: visible, then escaped.

    >>> markup("a<b> & 'c'\\u202e")
    'a&lt;b&gt; &amp; &#x27;c&#x27;&lt;U+202E&gt;'
    """
    return html.escape(visible(value), quote=True)
