"""Moving the crisis block up (and a tool past a section) when it would leave a page short.

The crisis block never splits. In large print it is most of a page, so wherever it starts
low on a page it goes over to the next one and leaves that page short (a page is "short"
below the limits of `pagefill`, 60% of the text area and 25% for the last, with a small
margin, or a last page holding only the About block). A printer moves such a box up to
where it fits; so does this module. The layout marks the block
(`<!--float-->...<!--/float-->`) and the places between sections where it may stand
(`<!--slot-->` between runs of sections, `<!--slot:inner-->` between two sections of one
run, which closes the run there and opens a new one after the block); "About this handout"
stays last, as the first page tells readers. The renderer lays the document out and, when
a page is short (before the block, or after it: what follows the block moves with it) or
the last page holds only the related topics and the About block, tries the block in the
other places of its topic, nearest first, and keeps the first layout with neither (or the
best: fewest short pages, then the least short, then a last page with some of the topic's
own words). The block's words and the sections' order are unchanged; the reading order
(tags, bookmarks) follows the new place.

A tool table's first five rows never split either (the layout's CSS), so a tool can leave a
page short too. When no place of the crisis block gives a layout without a short page, the
tool (marked `<!--tool-->...<!--/tool-->`) is tried in its nearest other places (between
sections and either side of the crisis block, before the closing block), each with the
crisis block in its own and nearest places; the best layout of all wins.

The measures come from WeasyPrint's laid-out boxes: how far down the text area the lowest
line, picture, table row or bordered box (a callout) of each page reaches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from weasyprint.formatting_structure import boxes

from .pagefill import MIN_FILL, MIN_LAST_FILL

FLOAT_RE = re.compile(r"<!--float-->(.*?)<!--/float-->", re.S)
TOOL_RE = re.compile(r"<!--tool-->(.*?)<!--/tool-->", re.S)
SLOT_RE = re.compile(r"<!--slot(:inner)?-->")
# The boxes' measure and the PDF's (`pagefill`: glyph boxes and ink) differ by a line's
# leading: a page this close above a limit counts as short here, so the finished page is
# surely above it.
MARGIN = 0.03
# At most this many other places are tried (each is one more layout of the document; in
# large print a block near a topic's end may have to go back over several sections).
MAX_TRIES = 12
# A tool is moved only when no place of the crisis block leaves every page full enough: to
# its nearest places, each tried with the crisis block in its own and nearest places.
TOOL_TRIES = 6
TOOL_FLOAT_TRIES = 4


@dataclass(frozen=True)
class Fit:
    """A laid-out document's pages: how full each is, where the crisis block starts, and
    what the last page opens with when it holds only the closing block: "more" (related
    topics, then "About this handout") or "about" (the About block alone)."""

    fills: list[float]
    float_page: int | None
    closing_only: str | None = None

    def limits(self) -> list[float]:
        """Each page's limit (the last its own), with the margin."""
        last = len(self.fills) - 1
        return [(MIN_LAST_FILL if n == last else MIN_FILL) + MARGIN
                for n in range(len(self.fills))]

    def short_pages(self) -> int:
        """Pages below the limits; a last page holding only the About block counts too."""
        return int(self.closing_only == "about") + sum(
            1 for fill, limit in zip(self.fills, self.limits()) if fill < limit)

    def score(self) -> tuple[int, float, int]:
        """Lower is better: the short pages; then how far below the limits they are
        together; then whether the last page holds only the closing block (related topics
        and About: within the limits, but a topic's own words on its last page read
        better)."""
        deficit = sum(max(0.0, limit - fill) for fill, limit in zip(self.fills, self.limits()))
        return self.short_pages(), round(deficit, 3), int(self.closing_only is not None)


def _walk(box, closing: str | None = None):
    """(box, the part of the closing block it is in: None, "more" or "about") for a box and
    all boxes in it."""
    element = box.element
    if element is not None and box.element_tag == "section":
        classes = (element.get("class") or "").split()
        if "about" in classes:
            closing = "about"
        elif "closing" in classes or "more" in classes:
            closing = closing or "more"
    yield box, closing
    for child in getattr(box, "children", ()):
        yield from _walk(child, closing)


def measure(document) -> Fit:
    """Fill of each page of a WeasyPrint document, the page the crisis block starts on, and
    what the last page opens with when it holds only the closing block."""
    fills, float_page, closing_only = [], None, None
    last = len(document.pages) - 1
    for number, page in enumerate(document.pages):
        page_box = page._page_box
        top, height = page_box.content_box_y(), page_box.height
        bottom, first_line, seen = top, None, False
        for child in page_box.children:
            if isinstance(child, boxes.MarginBox):
                continue
            for box, closing in _walk(child):
                # Lines, pictures, and table rows (a tool's empty rows are boxes to write in).
                if isinstance(box, (boxes.LineBox, boxes.ReplacedBox, boxes.TableRowBox)):
                    bottom = max(bottom, box.position_y + box.margin_height())
                    if not seen:
                        first_line, seen = closing, True
                elif isinstance(box, boxes.BlockBox) and box.border_bottom_width:
                    # A box drawn round its lines (a callout): down to its bottom border.
                    bottom = max(bottom, box.position_y + box.margin_top + box.border_height())
                if (float_page is None and box.element is not None
                        and box.element.get("data-float") == "crisis"):
                    float_page = number
        fills.append(max(0.0, min(1.0, (bottom - top) / height)) if height else 1.0)
        if number == last and number > 0:
            closing_only = first_line
    return Fit(fills, float_page, closing_only)


def placements(html: str) -> list[str]:
    """The document with its crisis block in each other place of its topic, nearest first
    ([] when the document has no block to move)."""
    found = FLOAT_RE.search(html)
    if found is None:
        return []
    block = found.group(0)
    rest = html[:found.start()] + html[found.end():]
    # Only the places in the block's own topic: between the <article> before it and the
    # end of that article.
    start = rest.rfind("<article", 0, found.start())
    end = rest.find("</article>", found.start())
    end = len(rest) if end < 0 else end
    slots = [m for m in SLOT_RE.finditer(rest) if start < m.start() < end]
    slots.sort(key=lambda m: abs(m.start() - found.start()))
    moved = []
    for slot in slots:
        # Between two sections of one run: close the run there and open it again after.
        insert = ('</section>' + block + '<section class="flow">') if slot.group(1) else block
        moved.append(rest[:slot.start()] + insert + rest[slot.end():])
    return moved


def tool_placements(html: str) -> list[str]:
    """The document with its tool (the first marked `<!--tool-->`) in each other place of its
    topic, nearest first ([] when there is none). The tool keeps a place before it and gets
    one after it, so the crisis block may still stand on either side."""
    found = TOOL_RE.search(html)
    if found is None:
        return []
    block = found.group(0)
    # The place before it goes with it (the next section has its own).
    cut = found.start() - len("<!--slot-->") if html[:found.start()].endswith("<!--slot-->") \
        else found.start()
    rest = html[:cut] + html[found.end():]
    start = rest.rfind("<article", 0, cut)
    end = rest.find("</article>", cut)
    end = len(rest) if end < 0 else end
    # The places between sections, and either side of the crisis block (not after the
    # closing block: "About this handout" stays last).
    places = [(m.start(), m.end(), bool(m.group(1)))
              for m in SLOT_RE.finditer(rest) if start < m.start() < end]
    crisis = FLOAT_RE.search(rest, start)
    if crisis is not None and crisis.start() < end:
        places += [(crisis.start(), crisis.start(), False), (crisis.end(), crisis.end(), False)]
    places.sort(key=lambda place: abs(place[0] - cut))
    moved, orders = [], {_order(html)}
    for at, after, inner in places:
        if inner:
            insert = '</section><!--slot-->' + block + '<!--slot--><section class="flow">'
        else:
            insert = '<!--slot-->' + block + '<!--slot-->'
        candidate = rest[:at] + insert + rest[after:]
        if _order(candidate) not in orders:  # not where it stood, nor a place tried
            orders.add(_order(candidate))
            moved.append(candidate)
    return moved


def _order(html: str) -> str:
    """The document's words in order, without its markup."""
    return re.sub(r"<!--.*?-->|<[^>]+>|\s+", "", html, flags=re.S)


def _best(html: str, document, layout: Callable[[str], object], tries: int = MAX_TRIES):
    """(score, html, document): the layout of `html` with its crisis block in its best place
    (of its own and the `tries` nearest others)."""
    fit = measure(document)
    best = (fit.score(), html, document)
    if fit.float_page is None or best[0] == (0, 0, 0):
        return best
    # Places that give the same order (two places side by side) are laid out once.
    candidates, orders = [], {_order(html)}
    for candidate in placements(html):
        if _order(candidate) not in orders:
            orders.add(_order(candidate))
            candidates.append(candidate)
    for tried, candidate in enumerate(candidates):
        if tried == tries:
            break
        other = layout(candidate)
        score = measure(other).score()
        if score < best[0]:
            best = (score, candidate, other)
        if best[0] == (0, 0, 0):
            break
    return best


def refit(html: str, layout: Callable[[str], object]):
    """Lay `html` out; if a page is short (or the last holds only the closing block) and the
    document has a crisis block to move, lay it out with the block in its other places and
    keep the first layout without either (or the best by `Fit.score`, the block's own place
    winning a tie). Returns (html, document)."""
    document = layout(html)
    if FLOAT_RE.search(html) is None:  # a cover, page numbers, a topic without the block
        return html, document
    best = _best(html, document, layout)
    if best[0][0] and measure(document).float_page is not None:
        # A page is still short wherever the crisis block stands: a tool kept whole (its
        # first rows never split) may be what leaves it short. Try it in the nearest other
        # places, as a printer moves a table that does not fit past the text after it.
        for candidate in tool_placements(html)[:TOOL_TRIES]:
            other = _best(candidate, layout(candidate), layout, TOOL_FLOAT_TRIES)
            if other[0] < best[0]:
                best = other
            if not best[0][0]:
                break
    return best[1], best[2]
