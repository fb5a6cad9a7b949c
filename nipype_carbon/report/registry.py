"""Which renderer writes a file, by its extension: the one registry of renderers.

Every renderer has the same interface, ``render(report, **options) -> str | bytes``,
and is named here by its module and function, loaded when asked for (so a renderer that
imports something heavy costs nothing until used). A new renderer registers one way: an
entry in :data:`RENDERERS` (with fixed options, if it needs them).

Examples
--------
>>> renderer_for("nodes.csv").__name__
'render_csv'
>>> renderer_for("report.pdf")
Traceback (most recent call last):
...
ValueError: no renderer for .pdf; use .csv, .dot, .html, .json, .md, .png, .svg, .txt
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

Renderer = Callable[..., "str | bytes"]

#: extension -> (module, function, fixed options)
RENDERERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    ".csv": ("nipype_carbon.report.formats", "render_csv", {}),
    ".json": ("nipype_carbon.report.formats", "render_json", {}),
    ".md": ("nipype_carbon.report.formats", "render_markdown", {}),
    ".txt": ("nipype_carbon.report.formats", "render_console", {}),
    ".html": ("nipype_carbon.report.html", "render_html", {}),
    ".svg": ("nipype_carbon.report.graphviz", "render_graph", {"fmt": "svg"}),
    ".png": ("nipype_carbon.report.graphviz", "render_graph", {"fmt": "png"}),
    ".dot": ("nipype_carbon.report.graphviz", "render_graph", {"fmt": "dot"}),
}


def renderer_for(path: str | Path) -> Renderer:
    """The renderer for an output file, by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in RENDERERS:
        known = ", ".join(sorted(RENDERERS))
        raise ValueError(f"no renderer for {suffix or 'a file without extension'}; use {known}")
    module, name, fixed = RENDERERS[suffix]
    render: Renderer = getattr(importlib.import_module(module), name)
    if not fixed:
        return render
    return functools.partial(_with_options, render, fixed)


def _with_options(render: Renderer, fixed: dict[str, Any], report: Any, **_: Any) -> str | bytes:
    return render(report, **fixed)
