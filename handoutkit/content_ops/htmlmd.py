"""Clean HTML (what mammoth makes of a Word file, a web page, or a Markdown file rendered
by markdown-it) into the blocks of a topic body: headings, paragraphs, nested lists,
tables, pictures, with bold, italics and safe links inline. What cannot be carried over
is noted with where it was."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote

import lxml.html
from lxml import etree

SAFE_SCHEMES = ("http://", "https://", "tel:", "mailto:")
DROPPED = {"script", "style", "head", "title", "meta", "link", "noscript", "template"}
OBJECTS = {"iframe", "object", "embed", "video", "audio", "canvas", "form", "input",
           "button", "select", "textarea", "svg", "math", "applet", "frameset", "frame"}
HEADINGS = {f"h{n}": n for n in range(1, 7)}
ALT_TODO = "TODO: describe this picture"


@dataclass
class Picture:
    """A picture found in the document: its bytes (None when it could not be read), its
    description and caption, and its place."""

    data: bytes | None
    media: str
    alt: str
    caption: str
    where: str


@dataclass
class Block:
    kind: str  # heading paragraph list table picture
    text: str = ""
    level: int = 0
    title_style: bool = False
    picture: int = -1


@dataclass
class Converted:
    blocks: list[Block] = field(default_factory=list)
    pictures: list[Picture] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)  # "what: where"


def escape_text(text: str) -> str:
    """Plain text safe in Markdown: the characters that would start markup escaped."""
    return re.sub(r"([\\`*_\[\]<>{}])", r"\\\1", text)


def escape_line_start(text: str) -> str:
    """A paragraph must not start like another block (a list, a heading, a box, a table)."""
    if re.match(r"^(#|[-+*>]\s|\||:::)", text):
        return "\\" + text
    number = re.match(r"^(\d{1,9})([.)]\s)", text)
    if number:
        return number[1] + "\\" + text[len(number[1]):]
    return text


class _Walker:
    def __init__(self, fetch_image: Callable[[str], tuple[bytes | None, str, str]]):
        """`fetch_image(src)` -> (bytes or None, media type, why it failed)."""
        self.out = Converted()
        self.fetch_image = fetch_image
        self.section = "the start of the document"
        self.in_paragraph = False

    def lose(self, what: str) -> None:
        self.out.lost.append(f"{what}: in {self.section}")

    # -- blocks --------------------------------------------------------------------------

    def blocks(self, element) -> None:
        if element.text and element.text.strip():
            self.paragraph_text(escape_text(" ".join(element.text.split())))
        for child in element:
            if not isinstance(child.tag, str):
                self.tail(child)
                continue
            self.block(child)
            self.tail(child)

    def tail(self, child) -> None:
        if child.tail and child.tail.strip():
            self.paragraph_text(escape_text(" ".join(child.tail.split())))

    def block(self, element) -> None:  # noqa: C901 (one branch per kind of element)
        tag = element.tag.lower()
        if tag in DROPPED:
            return
        if tag in HEADINGS:
            text = self.inline(element, links=False).strip()
            text = text.replace("{", "(").replace("}", ")")
            if text:
                self.section = f"section '{' '.join(element.text_content().split())}'"
                self.out.blocks.append(Block("heading", text, HEADINGS[tag],
                                             "doc-title" in (element.get("class") or "")))
        elif tag == "p" or tag == "pre":
            self.paragraph(element)
        elif tag in ("ul", "ol"):
            lines = self.list_lines(element)
            if lines:
                self.out.blocks.append(Block("list", "\n".join(lines)))
        elif tag == "table":
            self.table(element)
        elif tag == "img":
            self.picture(element)
        elif tag in OBJECTS:
            self.lose(f"an embedded object (<{tag}>)")
        elif tag in ("hr", "br"):
            return
        elif tag in ("dl",):
            for child in element:
                if isinstance(child.tag, str):
                    self.paragraph(child)
        else:
            self.blocks(element)

    def paragraph(self, element) -> None:
        pictures = [img for img in element.iter("img")]
        self.in_paragraph = True  # its pictures follow it, on lines of their own
        try:
            text = self.inline(element).strip()
        finally:
            self.in_paragraph = False
        if text:
            self.paragraph_text(text)
        for img in pictures:
            self.picture(img)

    def paragraph_text(self, text: str) -> None:
        self.out.blocks.append(Block("paragraph", escape_line_start(text)))

    def picture(self, img) -> None:
        src = img.get("src") or ""
        data, media, why = self.fetch_image(src)
        if data is None:
            self.lose(f"a picture ({why})")
            return
        alt = " ".join((img.get("alt") or "").split())
        caption = " ".join((img.get("title") or "").split())
        self.out.pictures.append(Picture(data, media, alt, caption, self.section))
        self.out.blocks.append(Block("picture", picture=len(self.out.pictures) - 1))

    def list_lines(self, element) -> list[str]:
        """A list's lines, a nested list indented under its item by the marker's width."""
        lines: list[str] = []
        ordered = element.tag.lower() == "ol"
        number = 0
        for item in element:
            if not isinstance(item.tag, str) or item.tag.lower() != "li":
                continue
            number += 1
            marker = f"{number}. " if ordered else "- "
            nested = [c for c in item if isinstance(c.tag, str) and c.tag.lower() in ("ul", "ol")]
            text = self.inline(item, skip=set(nested)).strip() or "\u2014"
            lines.append(marker + escape_line_start(text))
            for child in nested:
                lines += [" " * len(marker) + line for line in self.list_lines(child)]
        return lines

    def table(self, element) -> None:
        rows = []
        for row in element.iter("tr"):
            cells = []
            for cell in row:
                if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                    continue
                if cell.find(".//table") is not None:
                    self.lose("a table inside a table cell (its words are kept in the cell)")
                text = self.inline(cell).replace("|", "\\|").strip()
                cells.append(text)
                span = cell.get("colspan") or "1"
                span = int(span) if span.isdigit() else 1
                cells += [""] * (min(span, 20) - 1)
            if cells:
                rows.append(cells)
        if not rows:
            return
        width = max(len(r) for r in rows)
        rows = [r + [""] * (width - len(r)) for r in rows]
        lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        self.out.blocks.append(Block("table", "\n".join(lines)))

    # -- inline --------------------------------------------------------------------------

    def inline(self, element, links: bool = True, skip=frozenset()) -> str:
        parts = [escape_text(element.text or "")]
        for child in element:
            if child in skip or not isinstance(child.tag, str):
                parts.append(escape_text(child.tail or "") if child.tail else "")
                continue
            parts.append(self.inline_child(child, links))
            parts.append(escape_text(child.tail or ""))
        return " ".join("".join(parts).split())

    def inline_child(self, child, links: bool) -> str:  # noqa: C901 (one branch per element)
        tag = child.tag.lower()
        if tag == "img":
            if not self.in_paragraph:
                self.lose("a picture inside a list or a table (put it on a line of its own)")
            return ""
        if tag in DROPPED:
            return ""
        if tag in OBJECTS:
            self.lose(f"an embedded object (<{tag}>)")
            return ""
        if tag == "br":
            return " "
        if tag in ("ul", "ol"):  # a list inside a paragraph or a cell: its items in a row
            return " " + "; ".join(self.inline(li) for li in child if isinstance(li.tag, str))
        if tag in ("p", "div") or tag in HEADINGS:
            return " " + self.inline(child, links) + " "
        inner = self.inline(child, links)
        if not inner.strip():
            return inner
        if tag in ("strong", "b"):
            return _wrap(inner, "**")
        if tag in ("em", "i"):
            return _wrap(inner, "*")
        if tag == "a":
            href = (child.get("href") or "").strip()
            if not links or not href or href.startswith("#"):
                return inner
            if href.lower().startswith(SAFE_SCHEMES):
                return f"[{inner.strip()}]({quote(href, safe=':/?#&=%+@.,;~-_!*')})"
            self.lose(f"a link to '{href[:60]}' (only http, https, tel and mailto links are "
                      "kept; its words are)")
            return inner
        return inner


def _wrap(inner: str, mark: str) -> str:
    lead = inner[: len(inner) - len(inner.lstrip())]
    trail = inner[len(inner.rstrip()):]
    return f"{lead}{mark}{inner.strip()}{mark}{trail}"


def convert(html_text: str, fetch_image) -> Converted:
    """The blocks of an HTML document (see the module's docstring)."""
    parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True)
    try:
        root = lxml.html.document_fromstring(html_text or "<p></p>", parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise ValueError(f"cannot be read as HTML ({exc})") from None
    body = root.find("body")
    walker = _Walker(fetch_image)
    walker.blocks(body if body is not None else root)
    return walker.out


def data_uri(src: str) -> tuple[bytes | None, str]:
    """The bytes and media type of a `data:` address, or (None, '')."""
    match = re.match(r"^data:([\w/+.-]+);base64,(.*)$", src, re.S)
    if not match:
        return None, ""
    try:
        return base64.b64decode(match[2], validate=False), match[1]
    except ValueError:
        return None, ""
