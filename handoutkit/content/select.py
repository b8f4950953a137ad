"""Selection: SPECs (`TOPIC[@LANG][:SECTION,SECTION...]`) become topics and their sections.

Required sections (the crisis block) are always kept, whatever sections are picked.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ..errors import SectionNotFound, SpecError, TopicNotFound
from .library import DEFAULT_LANG, Library
from .topic import Section, Topic

SPEC_RE = re.compile(
    r"^(?P<topic>[a-z0-9]+(?:-[a-z0-9]+)*)"
    r"(?:@(?P<lang>[a-z]{2}(?:-[A-Z][a-z]{3})?))?"
    r"(?::(?P<sections>[a-z0-9,-]+))?$"
)


@dataclass(frozen=True)
class Spec:
    """A parsed SPEC: topic, language and the sections asked for."""

    topic: str
    lang: str | None
    sections: tuple[str, ...]  # empty: the whole topic

    def __str__(self) -> str:
        text = self.topic + (f"@{self.lang}" if self.lang else "")
        return text + (":" + ",".join(self.sections) if self.sections else "")


@dataclass(frozen=True)
class Selection:
    """One topic with the sections that will print, in the topic's order."""

    topic: Topic
    sections: tuple[Section, ...]
    # --bilingual: the same topic and sections in a second language, printed section by
    # section after the reader's own.
    second: Selection | None = None
    # --fallback: the language the reader asked for, when the topic is not written in it
    # yet and prints in the fallback language instead (marked so on the page).
    wanted_lang: str | None = None

    @property
    def section_ids(self) -> list[str]:
        """The ids of the sections that will print."""
        return [s.id for s in self.sections]

    @property
    def is_whole(self) -> bool:
        """Whether every section of the topic prints."""
        return len(self.sections) == len(self.topic.sections)


def parse_spec(text: str) -> Spec:
    """`TOPIC[@LANG][:SECTION,...]` as a Spec; SpecError says what is malformed."""
    match = SPEC_RE.match(text.strip())
    if not match:
        raise SpecError(
            f"cannot read '{text}': write TOPIC, TOPIC@LANG or TOPIC:SECTION,SECTION "
            "(for example psychotherapy:what-is,types)"
        )
    sections = tuple(s for s in (match["sections"] or "").split(",") if s)
    if match["sections"] is not None and not sections:
        raise SpecError(f"cannot read '{text}': no section ids after ':'")
    return Spec(match["topic"], match["lang"], sections)


def select(library: Library, spec: Spec, default_lang: str | None = None,
           fallback: str | None = None) -> Selection:
    """Resolve a spec against the library; required sections always stay. With
    `fallback`, a topic not written in the reader's language yet is taken in the fallback
    language, and the selection says which language was wanted."""
    lang = spec.lang or default_lang or DEFAULT_LANG
    if fallback and fallback != lang and library.has(spec.topic) and not library.has(
            spec.topic, lang) and library.has(spec.topic, fallback):
        found = select(library, Spec(spec.topic, fallback, spec.sections))
        return dataclasses.replace(found, wanted_lang=lang)
    topic = library.topic(spec.topic, lang)
    if not spec.sections:
        return Selection(topic, topic.sections)
    wanted = set(spec.sections)
    unknown = [s for s in spec.sections if topic.section(s) is None]
    if unknown:
        raise SectionNotFound(
            f"topic '{topic.id}' ({topic.lang}) has no section '{unknown[0]}'; "
            f"its sections are: {', '.join(topic.section_ids)}"
        )
    # A mental-health topic's crisis block stays too, even in a section not marked required.
    chosen = tuple(s for s in topic.sections if s.id in wanted or s.required
                   or (topic.mental_health and s.has_emergency))
    return Selection(topic, chosen)


def pair(library: Library, selection: Selection, lang: str) -> Selection:
    """`selection` with the same topic and sections in `lang` as its second language (for
    --bilingual); a topic already in `lang` prints once. A topic without a `lang` version,
    or one missing a section, is an error: never one language printed silently."""
    topic = selection.topic
    if topic.lang == lang:
        return selection
    if not library.has(topic.id, lang):
        have = ", ".join(library.languages(topic.id))
        raise TopicNotFound(f"--bilingual {lang}: topic '{topic.id}' has no '{lang}' version "
                            f"(languages: {have}); nothing was written")
    other = library.topic(topic.id, lang)
    missing = [s.id for s in selection.sections if other.section(s.id) is None]
    if missing:
        raise SectionNotFound(f"--bilingual {lang}: topic '{topic.id}' ({lang}, "
                              f"{other.path.name}) has no section '{missing[0]}'; "
                              "nothing was written")
    second = select(library, Spec(topic.id, lang, tuple(selection.section_ids)))
    return Selection(topic, selection.sections, second)
