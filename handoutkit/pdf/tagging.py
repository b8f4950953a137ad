"""Each element's language in the PDF's structure tree.

WeasyPrint writes the document's language (`/Lang` in the catalog) but not the `lang` of
the elements inside it. A page may hold text in another language than the document's: a
--bilingual topic's second language, a related topic's English title, a packet's parts.
Screen readers pick their voice from `/Lang` (PDF/UA, ISO 32000 14.9.2), so every
structure element made from an HTML element with its own `lang` carries it.

Table header cells get their scope too: WeasyPrint writes `/TH` with no `/Scope`, so which
header belongs to which cell is not machine-determinable (PDF/UA-1 7.5). A header cell's
scope is its HTML `scope` attribute, else `Column` (the tools' tables have one header
row).

Imported by render.py once WeasyPrint is loaded; it wraps WeasyPrint's one function that
turns a box into structure elements, and changes nothing else.
"""

from __future__ import annotations

import pydyf
from weasyprint.layout.absolute import AbsolutePlaceholder
from weasyprint.pdf import tags

_original = tags._build_box_tree
SCOPES = {"row": "/Row", "col": "/Column", "column": "/Column", "rowgroup": "/Row",
          "colgroup": "/Column"}


def _build_box_tree(box, parent, pdf, page_number, nums, annotations, tags_):
    """WeasyPrint's elements for `box`, each with `/Lang` when its HTML element has one."""
    source = box._box if isinstance(box, AbsolutePlaceholder) else box
    element = getattr(source, "element", None)
    lang = None
    if element is not None and getattr(source, "element_tag", None) not in ("html", "body"):
        lang = element.get("lang")
    for structure in _original(box, parent, pdf, page_number, nums, annotations, tags_):
        if lang and "Lang" not in structure:
            structure["Lang"] = pydyf.String(lang)
        if structure.get("S") == "/TH" and "A" in structure and "Scope" not in structure["A"]:
            scope = (element.get("scope") or "") if element is not None else ""
            structure["A"]["Scope"] = SCOPES.get(scope.lower(), "/Column")
        yield structure


def install() -> None:
    """Make WeasyPrint write each element's language (once per process)."""
    if tags._build_box_tree is not _build_box_tree:
        tags._build_box_tree = _build_box_tree
