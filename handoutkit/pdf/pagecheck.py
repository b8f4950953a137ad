"""The safety promise checked on the laid-out pages, before anything is written.

What the patient holds is what WeasyPrint laid out, not the HTML that went in: a clinic's
layout can hide a box (`display: none`, `visibility`, `opacity`, white on white, a 1 pt
font, a transform, a position off the page, a box painted over it), and the bidi algorithm
can print "(555) 010-0199" as "010-0199 (555)" on a right-to-left page. So after layout
the renderer walks WeasyPrint's pages and boxes and checks:

- every crisis block it was promised (a mental-health topic's required section holding
  the `::: emergency` box) is laid out with all its words and numbers (911, 988 and the
  brand's own lines), each piece of its text inside the page, not clipped, not transformed,
  not covered by another box, at least the body size of the layout, and at 4.5:1 contrast
  (WCAG AA) against the background painted behind it;
- the one-line crisis strip is on every page of a mental-health topic, and the crisis
  line on a packet's cover, held to the same rules (with a smaller minimum size);
- on every line that holds right-to-left text, every number prints its digits in the
  order they are written (read from the glyphs' positions, as drawn).

A failure raises `PromiseError` (exit code 3) naming the rule and the topic; the renderer
writes nothing. The promise itself (`Promise`) is plain data made from the selections, not
from the HTML, so a layout that leaves a block out cannot also leave out its check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .numberorder import PromiseError, check_number_order

CRISIS_NUMBERS = ("911", "988")
MIN_CONTRAST = 4.5  # WCAG 2 AA for body text
STRIP_MIN_PT = 8.0  # the crisis strip and the cover's crisis line are smaller than the body
PX_PER_PT = 96 / 72
# What is left out when printed words are compared with the words written: spaces, the
# isolates the renderer adds round numbers, soft hyphens and the hyphens of hyphenation.
IGNORED_RE = re.compile(r"[\s\u00ad\u200b-\u200f\u2066-\u2069\u202a-\u202e\-\u2010]+")
# A box's rectangle may touch a neighbour's by a rounding error (points).
TOLERANCE = 0.5
# Labels the layout prints in a crisis section that are not its words (a --bilingual
# section's language name): held to every rule but the body size.
LABEL_CLASSES = frozenset({"second-label"})


@dataclass(frozen=True)
class Block:
    """A crisis block the document must print: the HTML id of the section holding it,
    the topic (for messages), the numbers it must show and its words in order."""

    anchor: str
    where: str
    numbers: tuple[str, ...]
    words: tuple[str, ...]


@dataclass(frozen=True)
class Promise:
    """What a laid-out document must print. `strip` lists the ids of the articles (topics)
    whose every page carries the crisis strip; `cover` asks for the cover's crisis line."""

    label: str
    blocks: tuple[Block, ...] = ()
    strip: tuple[str, ...] = ()
    cover: bool = False
    strip_numbers: tuple[str, ...] = field(default=CRISIS_NUMBERS)


def normalize(text: str) -> str:
    """Text as compared: no spaces, isolates or hyphenation, case folded."""
    return IGNORED_RE.sub("", text).casefold()


# -- colours --------------------------------------------------------------------------------

def _rgba(color) -> tuple[float, float, float, float]:
    srgb = color.to("srgb")
    red, green, blue = (min(1.0, max(0.0, c)) for c in srgb.coordinates)
    return red, green, blue, float(srgb.alpha)


def _over(top: tuple, bottom: tuple[float, float, float]) -> tuple[float, float, float]:
    alpha = top[3]
    return tuple(top[i] * alpha + bottom[i] * (1 - alpha) for i in range(3))  # type: ignore


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: tuple[float, float, float], second: tuple[float, float, float]) -> float:
    """WCAG contrast ratio of two sRGB colours (channels 0 to 1)."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


# -- walking the boxes ----------------------------------------------------------------------

@dataclass
class _Piece:
    """A piece of printed text (one text box) and what it was printed with."""

    text: str
    rect: tuple[float, float, float, float]
    problem: str | None
    size: float
    behind: frozenset[int] = frozenset()  # the boxes painted behind it (its ancestors)
    layout_label: bool = False  # a label the layout adds (LABEL_CLASSES), not its words


@dataclass
class _Page:
    number: int
    blocks: dict[str, list[_Piece]] = field(default_factory=dict)
    strip: list[_Piece] = field(default_factory=list)
    cover: list[_Piece] = field(default_factory=list)
    articles: set[str] = field(default_factory=set)
    # What boxes painted over the flow paint: (rectangle, the box's id, its name).
    painted: list[tuple[tuple[float, float, float, float], int, str]] = field(
        default_factory=list)


def _classes(element) -> list[str]:
    return (element.get("class") or "").split() if element is not None else []


def _name(box) -> str:
    """A box as a reader of the layout knows it: 'div.note' or a piece of its text."""
    text = getattr(box, "text", None)
    if text:
        return repr(text.strip()[:20])
    classes = _classes(box.element if box.element_tag else None)
    return (box.element_tag or type(box).__name__) + "".join("." + c for c in classes[:2])


def _border_rect(box) -> tuple[float, float, float, float]:
    x = box.position_x + box.margin_left
    y = box.position_y + box.margin_top
    return x, y, x + box.border_width(), y + box.border_height()


def _paints(box) -> bool:
    """Whether a box paints something of its own (a background, a border, a picture)."""
    from weasyprint.formatting_structure import boxes

    if isinstance(box, boxes.ReplacedBox):
        return True
    style = box.style
    if style["visibility"] != "visible":
        return False
    if style["background_color"].alpha > 0 or any(
            image is not None and image[0] != "none" for image in style["background_image"]
            if isinstance(image, tuple)):
        return True
    return False


@dataclass(frozen=True)
class _Context:
    """What a box inherits from the boxes it is in, as far as printing goes."""

    background: tuple[float, float, float]
    clip: tuple[float, float, float, float]
    opacity: float = 1.0
    transform: bool = False
    block: str | None = None  # the promised crisis block it is in
    kind: str | None = None  # "strip" or "cover" inside the crisis strip or cover line
    margin: bool = False  # in a page-margin box (running header, footer)
    layered: bool = False  # painted in a layer over the flow (positioned, float, margin)
    behind: frozenset[int] = frozenset()  # boxes painted behind it (its ancestors)
    line: tuple[float, float] | None = None  # the line box's top and bottom
    label: bool = False  # in one of LABEL_CLASSES


class _Walker:
    """Collects, page by page, the printed pieces of every promised box.

    Painting order (CSS 2, appendix E) decides what can cover text: backgrounds of boxes
    in the normal flow are painted before any text, so only boxes in a layer of their
    own (positioned, floating, in a page-margin box), pictures and other text can."""

    def __init__(self, promise: Promise, page_size: tuple[float, float]):
        self.anchors = {block.anchor for block in promise.blocks}
        self.articles = set(promise.strip)
        self.page_size = page_size

    def page(self, number: int, page_box) -> _Page:
        from weasyprint.formatting_structure import boxes

        page = _Page(number)
        background = _over(_rgba(page_box.style["background_color"]), (1.0, 1.0, 1.0))
        width, height = self.page_size
        for child in page_box.children:
            margin = isinstance(child, boxes.MarginBox)
            self._walk(child, page, _Context(background, (0.0, 0.0, width, height),
                                             margin=margin, layered=margin))
        return page

    # Complexity over 10: one branch per kind of box.
    def _walk(self, box, page: _Page, ctx: _Context) -> None:  # noqa: C901
        from dataclasses import replace

        from weasyprint.formatting_structure import boxes

        style = box.style
        changes: dict = {}
        element = box.element if box.element_tag else None
        if element is not None and not isinstance(box, (boxes.TextBox, boxes.LineBox)):
            ident = element.get("id")
            if ident in self.anchors and ctx.block is None:
                changes["block"] = ident
            if ident in self.articles and not ctx.margin:
                page.articles.add(ident)
            classes = _classes(element)
            if "crisis-strip" in classes:
                changes["kind"] = "strip"
            elif "cover-crisis" in classes:
                changes["kind"] = "cover"
            if LABEL_CLASSES.intersection(classes):
                changes["label"] = True
        if float(style["opacity"]) < 1:
            changes["opacity"] = ctx.opacity * float(style["opacity"])
        if style["transform"]:
            changes["transform"] = True
        if style["position"] != "static" or style["float"] != "none":
            changes["layered"] = True
        if isinstance(box, (boxes.BlockContainerBox, boxes.InlineBlockBox)) and (
                style["overflow"] != "visible" or style["clip"]):
            x0, y0 = box.padding_box_x(), box.padding_box_y()
            x1, y1 = x0 + box.padding_width(), y0 + box.padding_height()
            clip = ctx.clip
            changes["clip"] = (max(clip[0], x0), max(clip[1], y0),
                               min(clip[2], x1), min(clip[3], y1))
        if isinstance(box, boxes.LineBox):
            changes["line"] = (box.position_y, box.position_y + box.height)
        if changes:
            ctx = replace(ctx, **changes)
        if isinstance(box, boxes.TextBox):
            self._text(box, page, ctx)
            return
        bg = _rgba(style["background_color"])
        if bg[3] > 0 and style["visibility"] == "visible":
            ctx = replace(ctx, background=_over((*bg[:3], bg[3] * ctx.opacity), ctx.background))
        if _paints(box) and box.element_tag not in ("html", "body"):
            if ctx.layered or isinstance(box, boxes.ReplacedBox):
                page.painted.append((_border_rect(box), id(box), _name(box)))
            ctx = replace(ctx, behind=ctx.behind | {id(box)})
        for child in getattr(box, "children", ()):
            self._walk(child, page, ctx)

    def _text(self, box, page: _Page, ctx: _Context) -> None:
        style = box.style
        top, bottom = ctx.line or (box.position_y, box.position_y + box.height)
        rect = (box.position_x, top, box.position_x + box.width, bottom)
        problem = None
        red, green, blue, alpha = _rgba(style["color"])
        ratio = contrast(_over((red, green, blue, alpha * ctx.opacity), ctx.background),
                         ctx.background)
        width, height = self.page_size
        clip = ctx.clip
        if style["visibility"] != "visible":
            problem = f"hidden (visibility: {style['visibility']})"
        elif ctx.transform:
            problem = "moved or scaled by a transform"
        elif (rect[0] < -TOLERANCE or rect[1] < -TOLERANCE or rect[2] > width + TOLERANCE
              or rect[3] > height + TOLERANCE):
            problem = "outside the page"
        elif (rect[0] < clip[0] - TOLERANCE or rect[1] < clip[1] - TOLERANCE
              or rect[2] > clip[2] + TOLERANCE or rect[3] > clip[3] + TOLERANCE):
            problem = "cut off (clipped)"
        elif box.text.strip() and ratio < MIN_CONTRAST:
            problem = f"contrast {ratio:.2f}:1 with its background (at least {MIN_CONTRAST}:1)"
        piece = _Piece(box.text, rect, problem, float(style["font_size"]), ctx.behind,
                       ctx.label)
        if ctx.block is not None:
            page.blocks.setdefault(ctx.block, []).append(piece)
        elif ctx.kind == "strip":
            page.strip.append(piece)
        elif ctx.kind == "cover":
            page.cover.append(piece)
        elif box.text.strip() and style["visibility"] == "visible":
            page.painted.append((rect, id(box), _name(box)))


def _overlaps(a, b) -> bool:
    return (min(a[2], b[2]) - max(a[0], b[0]) > TOLERANCE
            and min(a[3], b[3]) - max(a[1], b[1]) > TOLERANCE)


def _check_pieces(pieces: list[_Piece], page: _Page, min_size: float, what: str) -> None:
    for piece in pieces:
        if not piece.text.strip():
            continue
        problem = piece.problem
        if problem is None and piece.size + 0.01 < min_size and not piece.layout_label:
            problem = (f"text {piece.size / PX_PER_PT:.1f} pt, smaller than "
                       f"{min_size / PX_PER_PT:.1f} pt")
        if problem is None:
            for rect, ident, name in page.painted:
                if ident not in piece.behind and _overlaps(rect, piece.rect):
                    problem = f"covered by another box ({name})"
                    break
        if problem is not None:
            raise PromiseError(f"{what}: '{piece.text.strip()[:30]}' on page {page.number + 1} "
                               f"is {problem}; the document was not written")


def _has_all(text: str, wanted: tuple[str, ...]) -> str | None:
    """The first of `wanted` not in `text` (in order), or None."""
    text, at = normalize(text), 0
    for word in wanted:
        word = normalize(word)
        if not word:
            continue
        found = text.find(word, at)
        if found < 0:
            return word
        at = found + len(word)
    return None


def _missing_number(text: str, numbers: tuple[str, ...]) -> str | None:
    flat = normalize(text)
    for number in numbers:
        if number and normalize(number) not in flat:
            return number
    return None


def verify(document, promise: Promise) -> None:  # noqa: C901 (one branch per part of the promise)
    """Raise PromiseError unless the laid-out `document` keeps `promise`."""
    if not document.pages:
        raise PromiseError(f"{promise.label}: the document has no pages; nothing was written")
    first = document.pages[0]._page_box
    page_size = (first.margin_width(), first.margin_height())
    body_size = _body_size(first)
    walker = _Walker(promise, page_size)
    pages = [walker.page(n, page._page_box) for n, page in enumerate(document.pages)]
    by_anchor = {block.anchor: block for block in promise.blocks}
    seen: dict[str, str] = {}
    for page in pages:
        for anchor, pieces in page.blocks.items():
            what = f"crisis block of {by_anchor[anchor].where}"
            _check_pieces(pieces, page, body_size, what)
            seen[anchor] = seen.get(anchor, "") + "".join(p.text for p in pieces)
        if page.articles:
            where = f"crisis strip of {promise.label}"
            text = "".join(p.text for p in page.strip)
            missing = _missing_number(text, promise.strip_numbers)
            if missing:
                raise PromiseError(f"{where}: page {page.number + 1} does not print "
                                   f"'{missing}' in its crisis strip; the document was not "
                                   "written")
            _check_pieces(page.strip, page, STRIP_MIN_PT * PX_PER_PT, where)
        if promise.cover and page.cover:
            _check_pieces(page.cover, page, STRIP_MIN_PT * PX_PER_PT,
                          f"cover crisis line of {promise.label}")
    for block in promise.blocks:
        what = f"crisis block of {block.where}"
        text = seen.get(block.anchor)
        if text is None:
            raise PromiseError(f"{what}: not laid out on any page; the document was not written")
        missing = _missing_number(text, block.numbers)
        if missing:
            raise PromiseError(f"{what}: '{missing}' does not print; the document was not "
                               "written")
        lost = _has_all(text, block.words)
        if lost:
            raise PromiseError(f"{what}: its words are not all printed (from '{lost[:30]}'); "
                               "the document was not written")
    if promise.cover:
        text = "".join(p.text for page in pages for p in page.cover)
        missing = _missing_number(text, promise.strip_numbers)
        if missing:
            raise PromiseError(f"cover crisis line of {promise.label}: '{missing}' does not "
                               "print; the document was not written")
    check_number_order(document, promise.label)


def _body_size(page_box) -> float:
    """The layout's body text size (CSS px), from the laid-out <body>."""
    stack = [page_box]
    while stack:
        box = stack.pop()
        if getattr(box, "element_tag", None) == "body":
            return float(box.style["font_size"])
        stack.extend(getattr(box, "children", ()))
    return float(page_box.style["font_size"])
