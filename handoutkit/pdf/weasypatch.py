"""The two changes this project makes to WeasyPrint 70, installed by weasyload.py once
WeasyPrint is imported: tagging (each element's language, table headers' scope) and
column balancing. Nothing else reaches into WeasyPrint's layout or tags.

## Tagging

Each element's language in the PDF's structure tree.

WeasyPrint writes the document's language (`/Lang` in the catalog) but not the `lang` of
the elements inside it. A page may hold text in another language than the document's: a
--bilingual topic's second language, a related topic's English title, a packet's parts.
Screen readers pick their voice from `/Lang` (PDF/UA, ISO 32000 14.9.2), so every
structure element made from an HTML element with its own `lang` carries it.

Table header cells get their scope too: WeasyPrint writes `/TH` with no `/Scope`, so which
header belongs to which cell is not machine-determinable (PDF/UA-1 7.5). A header cell's
scope is its HTML `scope` attribute, else `Column` (the tools' tables have one header
row).

It wraps WeasyPrint's one function that turns a box into structure elements.

## Columns

Balanced columns in a dozen layouts instead of a hundred.

The standard layout flows runs of sections in two columns. Where a run ends on a page,
WeasyPrint 70 balances its columns (`layout/column.py: columns_layout`): it lays the run
out at the average column height, then again one step higher, until everything fits. A
step is the height the next box needs to move up, but when that is not known (a heading
kept with its paragraph, a list item kept with the next, a paragraph's widows) the step is
one pixel. Measured on the 13-topic packet: 944 column layouts for 40 balanced runs, one
run 112 tries in a row, and balancing was a third of all the layout time.

Here the same search takes WeasyPrint's step where it knows one, and otherwise leaps
(1, 2, 4, 8 ... px) until the run fits, then halves the gap between the highest height
that failed and the lowest that fitted, to within a pixel: about a dozen layouts for the
worst run. The answer is the same least height that fits (within that pixel), so columns,
page breaks and the page-fill limits are unchanged.

WeasyPrint also lays every run out twice: a first try at full height (to learn whether it
fits the page), then the page's columns. When the first try was laid out as the page's
columns are (same height, same "page is empty", no footnotes or floats in it), its columns
are kept, moved side by side; a balanced run keeps its last try in the same way. The first
try is made with the page's own "page is empty" for this (WeasyPrint made it as if the
page were empty, which only ever forced a box onto a page the real layout then refused).
Smaller savings: the height the next box needs is measured only while balancing, and each
try's step is its own (WeasyPrint kept the smallest step of all tries).

Measured on the 13-topic packet (49 pages): 30% fewer Python function calls in layout;
every page has the same words, in the same columns, as with WeasyPrint's own balancing
(tests/test_columns.py; benchmarks/packet.py gives the times).

The change is made to WeasyPrint's own function text at import (small replacements, each
of which must match exactly once); should a WeasyPrint release differ, nothing is changed
and `install_columns()` says so (returns False).
"""

from __future__ import annotations

import inspect
from math import inf

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


def install_tagging() -> None:
    """Make WeasyPrint write each element's language (once per process)."""
    if tags._build_box_tree is not _build_box_tree:
        tags._build_box_tree = _build_box_tree


# Column balancing. INSTALLED: whether install_columns() changed WeasyPrint's column layout.
INSTALLED = False

# (WeasyPrint's text, ours): each found exactly once in layout/column.py.
_EDITS = (
    # A balancing search starts where WeasyPrint starts balancing.
    ("""                        balancing = True
                        height = sum(consumed_heights) / count
""", """                        balancing = True
                        height = sum(consumed_heights) / count
                        search = ColumnSearch(max_height)
"""),
    # Each try measures its own step.
    ("""            column_skip_stack = skip_stack
            consumed_heights = []
""", """            column_skip_stack = skip_stack
            consumed_heights = []
            lost_space = inf
            tried_absolute, tried_fixed = [], []
"""),
    # The first try is laid out as the page's columns will be (WeasyPrint tried it as if
    # the page were empty, and laid it out again as it is).
    ("""                    page_is_empty or not balancing, [], [], [], first_letter_style,
""", """                    page_is_empty if balancing else original_page_is_empty,
                    tried_absolute, tried_fixed, [], first_letter_style,
"""),
    # The next box's height is needed only for a balancing step.
    ("""                    if column_skip_stack:
                        next_box = block_box_layout(""",
     """                    if column_skip_stack and balancing:
                        next_box = block_box_layout("""),
    # The next height to try, or the answer.
    ("""                # Increase the column heights and render them again
                add_height = 1 if lost_space == inf else lost_space
                height += add_height

                if height > max_height:
                    # We reached max height, stop rendering
                    height = max_height
                    stop_rendering = True
                    break
""", """                # The next height to try, or the least height that fits
                height, done = search.next(height, False, lost_space)
                if done:
                    stop_rendering = search.fits_below is None
                    break
"""),
    # A run that overflows the page keeps the columns of its first try (see `reusable`).
    ("""        original_page_is_empty = page_is_empty
""", """        original_page_is_empty = page_is_empty
        reused = False
"""),
    ("""                    # Content overflows even at maximum height, stop now and
                    # let the columns continue on the next page
                    stop_rendering = True
""", """                    # Content overflows even at maximum height, stop now and
                    # let the columns continue on the next page
                    stop_rendering = True
                    reused = len(new_boxes) == count and reusable(new_boxes, height_defined)
"""),
    ("""        columns = []
        while True:
            column_box = _create_column_box(""", """        columns = []
        if reused:
            columns, max_column_height = place(new_boxes, box, width, gap)
            absolute_boxes.extend(tried_absolute)
            fixed_boxes.extend(tried_fixed)
            skip_stack = column_skip_stack
            if skip_stack is None:
                bottom_space = original_bottom_space
        while not reused:
            column_box = _create_column_box("""),
    ("""            if balancing:
                if column_skip_stack is None:
                    # We rendered the whole content, stop
                    break
""", """            if balancing:
                if column_skip_stack is None:
                    height, done = search.next(height, True, lost_space)
                    if done:
                        # Tried as the page's columns are laid out, unless the page was empty.
                        reused = not original_page_is_empty and reusable(
                            new_boxes, height_defined)
                        break
                    continue
"""),
)


class ColumnSearch:
    """The least column height at which a run of columns holds all its content.

    `next(height, fits, step)` is told how the try at `height` went (and, when it did not
    fit, WeasyPrint's step: the height the next box needs, `inf` when not known) and
    answers the next height to try, or the answer and True.
    """

    def __init__(self, most: float) -> None:
        self.most = most  # full height: the run fitted there before balancing began
        self.fits_below: float | None = None  # the lowest height tried that fitted
        self.failed: float | None = None  # the highest height tried that did not fit
        self.least = 0.0  # nothing lower fits: a failed height plus WeasyPrint's step
        self.leap = 1.0

    def next(self, height: float, fits: bool, step: float) -> tuple[float, bool]:
        if fits:
            self.fits_below = height
        else:
            self.failed = height
            self.least = max(self.least, height + (0 if step == inf else step))
        top = self.most if self.fits_below is None else self.fits_below
        if self.failed is None or top <= self.least or top - self.failed <= 1:
            return top, True  # (the first try, at the average height, fitted; or found)
        if self.fits_below is None:
            # Nothing has fitted yet: WeasyPrint's step, or a leap that doubles each time.
            leap, self.leap = self.leap, self.leap * 2
            candidate = max(self.least, height + leap)
            if candidate < top:
                return candidate, False
        return max(self.least, (self.failed + top) / 2), False


def reusable(boxes: list, height_defined: bool) -> bool:
    """Whether the columns of a run's first try, at full height, are the columns WeasyPrint
    would lay out again for the page: laid out with the same arguments (no set height; the
    list markers' placeholders are kept) and nothing in them that the try's clean-up undid
    (footnotes, notes, floats). The caller checks that every column was made."""
    if height_defined:
        return False
    stack = list(boxes)
    while stack:
        box = stack.pop()
        style = box.style
        # (Floats are what WeasyPrint's excluded shapes hold.)
        if box.footnote or box.note or style["float"] != "none":
            return False
        stack.extend(getattr(box, "children", ()))
    return True


def place(boxes: list, box, width: float, gap: float) -> tuple[list, float]:
    """The first try's columns moved side by side, as WeasyPrint places its columns."""
    for i, column in enumerate(boxes):
        if box.style["direction"] == "rtl":
            column.translate(dx=box.width - (i + 1) * width - i * gap)
        else:
            column.translate(dx=i * (width + gap))
    return list(boxes), max(column.margin_height() for column in boxes)


def install_columns() -> bool:
    """Make WeasyPrint balance columns with `ColumnSearch` (once per process). False when
    this WeasyPrint's column layout is not the text the edits were written for."""
    global INSTALLED
    if INSTALLED:
        return True
    from weasyprint.layout import block, column

    source = inspect.getsource(column)
    for old, new in _EDITS:
        if source.count(old) != 1:
            return False
        source = source.replace(old, new)
    namespace = dict(vars(column))
    namespace.update(ColumnSearch=ColumnSearch, reusable=reusable, place=place)
    namespace["inf"] = inf
    exec(compile(source, column.__file__, "exec"), namespace)  # noqa: S102 (WeasyPrint's own text)
    column.columns_layout = block.columns_layout = namespace["columns_layout"]
    INSTALLED = True
    return True
