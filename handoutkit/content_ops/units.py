"""A topic's text cut into translation units: its title, summary and credit, and in the
body one unit per heading, paragraph, list item, table cell, picture description and
caption, and one per crisis box. What is not a unit (the Markdown around the text: list
markers, table rules, box lines, section ids, comments, blank lines) is the skeleton, so
putting texts back into the skeleton gives the file again, byte for byte.

Inside a unit, what a translator must not change is a placeholder: inline markup (bold,
italics, links' addresses), web addresses, phone numbers and the crisis numbers 911, 988
and 711. Unit ids are the section id and a digest of the unit's source text: the same text
keeps its id from version to version, changed text gets a new one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from handoutkit.content.topic import slugify

HEADING_RE = re.compile(r"^(#{2,6})([ \t]+)(.*?)([ \t]*\{[^{}]*\})?([ \t]*)$")
SECTION_ID_RE = re.compile(r"#([a-z0-9]+(?:-[a-z0-9]+)*)")
ITEM_RE = re.compile(r"^([ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+)(.*)$")
BOX_RE = re.compile(r"^:::")
EMERGENCY_RE = re.compile(r"^:::[ \t]*emergency[ \t]*$")
TABLE_RE = re.compile(r"^[ \t]*\|")
RULE_RE = re.compile(r"^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$")
IMAGE_LINE_RE = re.compile(
    r'^([ \t]*!\[)([^\]]*)(\]\([^)\s"]+)(?:([ \t]+")([^"]*)("))?(\)[ \t]*)$')
WRITE_IN_RE = re.compile(r"((?:[ \t]*_{3,})+[ \t]*)$")

# What a translator must keep as it is, in the order a match is tried at each place.
PROTECTED = re.compile(r"""
  (?P<image>!\[[^\]]*\]\([^)]*\))
| (?P<linkend>\]\([^)\s]+(?:[ ]+"[^"]*")?\))
| (?P<linkstart>\[(?=[^\]]*\]\())
| (?P<escape>\\[\\`*_{}\[\]()\#+\-.!|])
| (?P<code>`[^`\n]+`)
| (?P<strong>\*\*|__)
| (?P<em>\*)
| (?P<url>(?:https?|mailto|tel):[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'"])
| (?P<domain>(?<![\w@.-])(?:[a-z0-9-]+\.)+(?:org|com|gov|net|edu|us|info|io)\b
     (?:/[^\s()]*[^\s().,;:!?'"])?)
| (?P<phone>(?<![\w-])(?:\+?1[-. ])?(?:\(\d{3}\)[ ]?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-]))
| (?P<number>(?<![\w.,-])(?:911|988|711)(?![\w-]|[.,]\d))
| (?P<marker>^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+)
""", re.X | re.M)


@dataclass
class Unit:
    """One text to translate: where it is (section id, kind), its source Markdown, and
    the indentation its continuation lines take in the file."""

    id: str
    section: str
    kind: str  # title summary credit heading paragraph item cell picture caption crisis
    text: str
    indent: str = ""

    def placed(self, text: str) -> str:
        """A text for this unit as it goes into the file (continuation lines indented)."""
        return text.replace("\n", "\n" + self.indent)


@dataclass
class Segmented:
    """A topic body cut into skeleton pieces (str) and units (int: an index in `units`)."""

    pieces: list = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)

    def fill(self, texts: dict[str, str]) -> str:
        """The body with each unit's text from `texts` (by unit id), or its source."""
        out = []
        for piece in self.pieces:
            if isinstance(piece, int):
                unit = self.units[piece]
                out.append(unit.placed(texts.get(unit.id, unit.text)))
            else:
                out.append(piece)
        return "".join(out)


class _Cutter:
    def __init__(self) -> None:
        self.result = Segmented()
        self.section = "intro"
        self.used: dict[str, int] = {}

    def skeleton(self, text: str) -> None:
        if text:
            self.result.pieces.append(text)

    def unit(self, kind: str, text: str, indent: str = "", section: str | None = None) -> None:
        if not text.strip():
            self.skeleton(text)
            return
        section = section or self.section
        digest = hashlib.sha256(f"{kind}\0{text}".encode("utf-8")).hexdigest()[:8]
        unit_id = f"{section}.{digest}"
        self.used[unit_id] = self.used.get(unit_id, 0) + 1
        if self.used[unit_id] > 1:
            unit_id += f"-{self.used[unit_id]}"
        self.result.pieces.append(len(self.result.units))
        self.result.units.append(Unit(unit_id, section, kind, text, indent))


def header_units(title: str, summary: str, credit: str) -> list[Unit]:
    """The header's texts to translate."""
    return [Unit(f"header.{name}", "header", name, value)
            for name, value in (("title", title), ("summary", summary), ("credit", credit))]


def segment(body: str) -> Segmented:  # noqa: C901 (one branch per kind of line)
    """Cut a topic's body into skeleton and units (see the module's docstring)."""
    cut = _Cutter()
    lines = body.splitlines(keepends=True)
    index = 0
    while index < len(lines):
        raw = lines[index]
        line, end = raw.rstrip("\r\n"), raw[len(raw.rstrip("\r\n")):]
        stripped = line.strip()
        index += 1
        if not stripped:
            cut.skeleton(raw)
        elif stripped.startswith("<!--"):
            cut.skeleton(raw)
            while "-->" not in line and index < len(lines):
                line = lines[index]
                cut.skeleton(line)
                index += 1
        elif HEADING_RE.match(line):
            hashes, space, title, attrs, trail = HEADING_RE.match(line).groups()
            if len(hashes) == 2:
                found = SECTION_ID_RE.search(attrs or "")
                cut.section = found.group(1) if found else slugify(title) or "section"
            cut.skeleton(hashes + space)
            cut.unit("heading", title)
            cut.skeleton((attrs or "") + trail + end)
        elif EMERGENCY_RE.match(line):
            cut.skeleton(raw)
            box = []
            while index < len(lines) and not re.match(r"^:::[ \t]*$", lines[index]):
                box.append(lines[index])
                index += 1
            text = "".join(box)
            core = text.rstrip("\n")
            cut.unit("crisis", core)
            cut.skeleton(text[len(core):])
        elif BOX_RE.match(line):
            cut.skeleton(raw)
        elif TABLE_RE.match(line):
            _table_row(cut, line, end)
        elif IMAGE_LINE_RE.match(line):
            start, alt, middle, before, caption, after, close = IMAGE_LINE_RE.match(line).groups()
            cut.skeleton(start)
            cut.unit("picture", alt)
            cut.skeleton(middle + (before or ""))
            if caption is not None:
                cut.unit("caption", caption)
                cut.skeleton(after)
            cut.skeleton(close + end)
        else:
            index = _block(cut, lines, index - 1)
    return cut.result


def _table_row(cut: _Cutter, line: str, end: str) -> None:
    if RULE_RE.match(line):
        cut.skeleton(line + end)
        return
    # Cells split at pipes that are not escaped; the spaces around a cell's text stay.
    parts = re.split(r"(?<!\\)(\|)", line)
    for part in parts:
        if part == "|" or not part.strip():
            cut.skeleton(part)
            continue
        lead = part[: len(part) - len(part.lstrip())]
        trail = part[len(part.rstrip()):]
        cut.skeleton(lead)
        cut.unit("cell", part.strip())
        cut.skeleton(trail)
    cut.skeleton(end)


def _starts_block(line: str) -> bool:
    stripped = line.strip()
    return (not stripped or bool(ITEM_RE.match(line)) or bool(HEADING_RE.match(line))
            or bool(BOX_RE.match(line)) or bool(TABLE_RE.match(line))
            or stripped.startswith("<!--") or bool(IMAGE_LINE_RE.match(line.rstrip("\r\n"))))


def _block(cut: _Cutter, lines: list[str], index: int) -> int:
    """A paragraph or a list item with its continuation lines; returns the next index."""
    first = lines[index].rstrip("\r\n")
    item = ITEM_RE.match(first)
    if item:
        prefix, text, kind = item.group(1), item.group(2), "item"
    else:
        prefix = first[: len(first) - len(first.lstrip())]
        text, kind = first.strip(), "paragraph"
    texts, indent = [text], None
    index += 1
    while index < len(lines) and not _starts_block(lines[index]):
        raw = lines[index].rstrip("\r\n")
        lead = raw[: len(raw) - len(raw.lstrip())]
        if indent is None:
            indent = lead
        texts.append(raw[len(indent):] if raw.startswith(indent) else raw)
        index += 1
    ending = lines[index - 1][len(lines[index - 1].rstrip("\r\n")):]
    whole = "\n".join(texts)
    trailing = ""
    blanks = WRITE_IN_RE.search(whole)
    if blanks and kind == "item":
        whole, trailing = whole[: blanks.start()], blanks.group(1)
    else:
        core = whole.rstrip(" \t")
        whole, trailing = core, whole[len(core):]
    cut.skeleton(prefix)
    cut.unit(kind, whole, indent or "")
    cut.skeleton(trailing + ending)
    return index


# -- placeholders --------------------------------------------------------------------------

@dataclass(frozen=True)
class Placeholder:
    """A protected piece of a unit's text: its number in the unit and the text itself."""

    number: int
    text: str
    kind: str


def protect(text: str) -> list:
    """The unit's text as a list of plain strings and Placeholders, in order."""
    parts: list = []
    position, number = 0, 0
    for match in PROTECTED.finditer(text):
        if match.group("marker") is not None and "\n" not in text:
            continue  # a list marker is markup only in a unit of several lines (the crisis box)
        if match.start() > position:
            parts.append(text[position:match.start()])
        number += 1
        parts.append(Placeholder(number, match.group(0), match.lastgroup or ""))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return parts


def placeholders(text: str) -> list[Placeholder]:
    return [p for p in protect(text) if isinstance(p, Placeholder)]
