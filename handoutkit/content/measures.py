"""Measures lint applies to a topic's text: plain text of a section, reading level, and
the contrast of a brand colour."""

from __future__ import annotations

from dataclasses import dataclass

from .topic import Section, Topic


@dataclass(frozen=True)
class Readability:
    """A topic's reading-level score, overall and per section."""

    topic: Topic
    score: float
    sections: tuple[tuple[Section, float], ...]
    measure: str
    # The SMOG grade of the whole topic (English): the years of school a reader needs to
    # understand it fully, from the words of three syllables or more per 30 sentences.
    smog: float | None = None


SENTENCE_END = (".", "!", "?", ":", ";")
CRISIS_NUMBERS = ("911", "988")


def plain_text(section: Section) -> str:
    """The words a reader reads: each paragraph or list item as its own sentence."""
    lines = []
    for token in section.tokens:
        if token.type != "inline":
            continue
        # A line break inside a paragraph (a topic wrapped at 80 columns) is a space between
        # two words, not the join of two words into one long one.
        text = "".join(c.content if c.type in ("text", "code_inline") else " "
                       for c in token.children or [] if c.type in ("text", "code_inline",
                                                                     "softbreak", "hardbreak"))
        text = " ".join(text.split())
        if text:
            lines.append(text if text.endswith(SENTENCE_END) else text + ".")
    return "\n".join(lines)


def readability(topic: Topic) -> Readability | None:
    """Flesch-Kincaid grade (English) or Fernandez-Huerta ease (Spanish), and for English
    the SMOG grade of the whole topic too; None for other languages."""
    import textstat  # only lint needs it

    if topic.lang == "en":
        textstat.set_lang("en")
        measure, score = "Flesch-Kincaid grade", textstat.flesch_kincaid_grade
    elif topic.lang == "es":
        textstat.set_lang("es")
        measure, score = "Fernandez-Huerta", textstat.fernandez_huerta
    else:
        return None
    texts = [(s, plain_text(s)) for s in topic.sections]
    whole = "\n".join(t for _, t in texts)
    return Readability(
        topic, round(score(whole), 1),
        tuple((s, round(score(t), 1)) for s, t in texts if t), measure,
        round(textstat.smog_index(whole), 1) if topic.lang == "en" else None,
    )


def contrast_ratio(color: str, background: str = "#ffffff") -> float:
    """WCAG 2 contrast ratio between two #rrggbb colours."""

    def luminance(hex_color: str) -> float:
        channels = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(color), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)
