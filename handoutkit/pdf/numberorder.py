"""Numbers in reading order, read from the glyphs as drawn.

On a line that holds right-to-left text, the bidi algorithm can print the groups of a
phone number the other way round ("(555) 010-0199" as "010-0199 (555)"). After layout,
for every such line, each character's place from the left is read from Pango's runs and
glyphs (as WeasyPrint draws them) and the digits of each number, in that order, must be
the number as written; a reordered number raises PromiseError (exit code 3).
"""

from __future__ import annotations

import re

from ..errors import RenderError

# A number a bidi algorithm can reorder: digits in groups split by spaces, brackets or
# hyphens. Separate numbers with a letter or other mark between them are matched apart.
NUMBER_RE = re.compile(r"\d[\d \u00a0()\-\u2010\u2011]*\d|\d")
RTL_CHAR_RE = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")


class PromiseError(RenderError):
    """The laid-out document breaks the safety promise: nothing is written."""


def _visual_order(box) -> list[int]:
    """The indices of a text box's characters in the order their glyphs are drawn, left to
    right (Pango's runs and glyphs, as WeasyPrint draws them)."""
    from weasyprint.text.ffi import ffi

    layout = box.pango_layout
    layout.reactivate(box.style)
    try:
        line, _ = layout.get_first_line()
        data = layout.text.encode("utf-8")
        starts = {}
        position = 0
        for index, char in enumerate(layout.text):
            starts[position] = index
            position += len(char.encode("utf-8"))
        order, seen = [], set()
        run = line.runs
        while run != ffi.NULL:
            item = run.data
            run = run.next
            glyphs = item.glyphs
            offset = item.item.offset
            for i in range(glyphs.num_glyphs):
                byte = offset + glyphs.log_clusters[i]
                while byte > 0 and byte not in starts and byte < len(data):
                    byte -= 1
                index = starts.get(byte)
                if index is not None and index not in seen:
                    seen.add(index)
                    order.append(index)
        return order
    finally:
        layout.deactivate()


def _lines(box):
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.LineBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        yield from _lines(child)


def _text_boxes(box):
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.TextBox):
        yield box
        return
    for child in getattr(box, "children", ()):
        yield from _text_boxes(child)


def check_number_order(document, label: str) -> None:
    """Every number on a line with right-to-left text prints its digits in written order."""
    for number, page in enumerate(document.pages):
        for line in _lines(page._page_box):
            texts = list(_text_boxes(line))
            logical = "".join(t.text for t in texts)
            if not any(c.isdigit() for c in logical) or not (
                    RTL_CHAR_RE.search(logical)
                    or any(t.style["direction"] == "rtl" for t in texts)):
                continue
            _check_line(texts, logical, number, label)


def _check_line(texts, logical: str, page: int, label: str) -> None:
    # Each character's place from the left: text boxes by position, glyphs as drawn.
    rank: dict[int, tuple[float, int]] = {}
    start = 0
    for box in texts:
        for place, index in enumerate(_visual_order(box)):
            if index < len(box.text):
                rank[start + index] = (box.position_x, place)
        start += len(box.text)
    for match in NUMBER_RE.finditer(logical):
        digits = [i for i in range(match.start(), match.end()) if logical[i].isdigit()]
        places = [rank.get(i) for i in digits]
        if None in places or len(digits) < 2:
            continue
        printed = "".join(logical[i] for _, i in sorted(zip(places, digits)))
        written = "".join(logical[i] for i in digits)
        if printed != written:
            raise PromiseError(
                f"number order: '{match.group(0).strip()}' prints its digits as {printed} "
                f"on page {page + 1} of {label} (a right-to-left line reorders it); the "
                "document was not written")
