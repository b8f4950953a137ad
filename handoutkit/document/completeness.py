"""The last check before a document is written: nothing a patient must get went missing.

Every required section a selection holds, and the crisis block (an `::: emergency` callout)
of a mental-health topic, must be in the assembled HTML with all its words, whatever the
parser, the layout or a clinic's template did. A document that fails is not written.
`promise_for` says what the laid-out pages of a document must print in turn (pagecheck.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Iterable

from markdown_it.common.utils import escapeHtml

from ..content.select import Selection
from ..content.topic import Section
from ..errors import LibraryError, RenderError

if TYPE_CHECKING:
    from ..pdf.pagecheck import Promise


SPAN_RE = re.compile(r'<span class="word">|</span>')


class IncompleteError(RenderError):
    """A required section or a crisis block is not in the document."""


def section_words(section: Section) -> Iterable[str]:
    """The words of a section as written, in order (each text of its Markdown)."""
    for token in section.tokens:
        for child in token.children or []:
            if child.type in ("text", "code_inline") and child.content.strip():
                yield child.content
        if token.type in ("code_block", "fence") and token.content.strip():
            yield token.content.strip()


def _texts(section: Section) -> Iterable[str]:
    """The words of a section as they appear, escaped, in its HTML."""
    return (escapeHtml(text) for text in section_words(section))


def _section_html(html: str, anchor: str) -> str | None:
    """The HTML from the element with id `anchor` up to the next section."""
    match = re.search(rf'\bid="{re.escape(anchor)}"', html)
    if match is None:
        return None
    end = html.find("<section", match.end())
    # Words kept whole on their line (Korean: see linebreak.py) are compared as text.
    return SPAN_RE.sub("", html[match.end(): end if end != -1 else len(html)])


def must_print(selection: Selection) -> list[Section]:
    """The sections of a selection that may never be lost: required ones, and for a
    mental-health topic those holding the crisis block."""
    topic = selection.topic
    return [s for s in selection.sections
            if s.required or (topic.mental_health and s.has_emergency)]


def check_html(html: str, selections: list[Selection], anchor_for) -> None:
    """Raise IncompleteError unless every section that must print is in `html` whole."""
    for selection in selections:
        topic = selection.topic
        where = f"{topic.path.name}"
        if topic.mental_health and not any(s.has_emergency for s in selection.sections) and not (
                topic.intro and topic.intro.has_emergency):
            raise LibraryError(
                f"{where}: a mental-health topic must print its crisis block (an '::: emergency' "
                "callout in a section marked {.required}); the document was not written")
        prefix = anchor_for(selection)
        for section in must_print(selection):
            chunk = _section_html(html, f"{prefix}--{section.id}")
            lost = chunk is None or (section.has_emergency and "callout-emergency" not in chunk)
            if not lost:
                lost = any(text not in chunk for text in _texts(section))
            if lost:
                raise IncompleteError(
                    f"{where}:{section.line}: the required section '{section.id}' is not "
                    "complete in the document (check the layout); the document was not written")


def promise_for(selections, brand, *, cover: bool = False, label: str | None = None) -> Promise:
    """What a document of `selections` must print: the crisis block of each mental-health
    topic (and of its --bilingual second language), the crisis strip on each of its pages,
    and with `cover` and a mental-health topic, the cover's crisis line."""
    from ..pdf.pagecheck import CRISIS_NUMBERS, Block, Promise
    from .articles import anchor_for, second_anchor

    blocks, strip = [], []
    for selection in selections:
        parts = [(selection, anchor_for(selection))]
        if selection.second is not None:
            parts.append((selection.second, second_anchor(selection)))
        for part, prefix in parts:
            topic = part.topic
            if not topic.mental_health:
                continue
            where = f"topic {topic.id} ({topic.lang}, {topic.path.name})"
            printed = brand.for_lang(topic.lang)
            numbers = CRISIS_NUMBERS + tuple(
                n for n in (printed.after_hours, printed.local_crisis) if n)
            sections = [s for s in must_print(part) if s.has_emergency]
            for section in sections:
                blocks.append(Block(f"{prefix}--{section.id}", where, numbers,
                                    tuple(section_words(section))))
            if not sections and topic.intro is not None and topic.intro.has_emergency:
                blocks.append(Block(anchor_for(selection), where, numbers,
                                    tuple(section_words(topic.intro))))
        if selection.topic.mental_health:
            strip.append(anchor_for(selection))
    if label is None:
        label = ", ".join(f"topic {s.topic.id} ({s.topic.lang})" for s in selections) or "cover"
    return Promise(label, tuple(blocks), tuple(strip),
                   cover=cover and any(s.topic.mental_health for s in selections))
