"""The translators' exchange: a topic out as XLIFF 2.1 and a translated XLIFF file back
in as the topic in another language.

XLIFF 2.1 (OASIS, 2018) is what current CAT tools read and write (Trados Studio, memoQ,
Phrase, Crowdin, Okapi); the files are built and read with lxml's
element tree, never by joining strings, read back with entities, DTDs and network access
off, and checked against xliff-2-profile.xsd (the XLIFF 2 core structure used here).
Version 2.1 keeps the 2.0 namespace; a 2.0 file is read too.

This module writes the file (`export`) and holds what both directions share (the schema,
the source cut into units); reading and importing a translated file is `xliff_import`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from handoutkit.content.header import LANG_RE
from handoutkit.content.library import Library
from handoutkit.content.topic import Topic, parse_topic
from handoutkit.errors import HandoutsError

from . import history
from .crisis import standard_block
from .topicfile import read_text, split
from .units import Placeholder, Segmented, Unit, header_units, protect, segment

NS = "urn:oasis:names:tc:xliff:document:2.0"
MDA = "urn:oasis:names:tc:xliff:metadata:2.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"

TERM_RE = re.compile(r"^\*\*[^*]+\*\*\s*[–—-]")  # "**Term** – explanation"
KIND_NOTES = {
    "title": "The handout's title, printed at the top.",
    "summary": "One sentence that says what the handout covers.",
    "credit": "Who wrote the handout; printed under the title.",
    "heading": "A section heading: keep it a short, plain question.",
    "paragraph": "A paragraph.",
    "item": "A list item.",
    "cell": "A table cell.",
    "picture": "A picture's description, read aloud by screen readers.",
    "caption": "A picture's caption, printed under it.",
    "crisis": "The crisis block.",
}
PLACEHOLDER_NOTE = ("Keep every placeholder (phone numbers, 911, 988, web addresses, bold "
                    "and links) exactly as it is and in the same order.")


class TranslationError(HandoutsError):
    """An XLIFF file that cannot be imported as it is."""


SCHEMA = Path(__file__).with_name("xliff-2-profile.xsd")


@functools.lru_cache(maxsize=1)
def schema() -> etree.XMLSchema:
    """The XLIFF 2 core structure `translate` writes and reads (xliff-2-profile.xsd),
    loaded without network access."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def qname(name: str, ns: str = NS) -> str:
    """`name` in the namespace `ns`, as lxml spells it."""
    return f"{{{ns}}}{name}"


@dataclass
class Source:
    """A topic's source text cut into units: header units, then the body's."""

    topic: Topic
    text: str
    header: str
    body: Segmented
    units: list[Unit]


def load_source(library: Library, topic_id: str, lang: str) -> Source:
    topic = library.topic(topic_id, lang)
    return source_of(topic, read_text(topic.path))


def source_of(topic: Topic, text: str) -> Source:
    """The topic, whose file holds `text`, cut into units."""
    header, body = split(text, topic.path)
    segmented = segment(body)
    return Source(topic, text, header, segmented,
                  header_units(topic.title, topic.summary, topic.credit) + segmented.units)


def source_from_text(text: str, path: Path) -> Source:
    return source_of(parse_topic(text, path), text)


# -- export -------------------------------------------------------------------------------

def export(library: Library, topic_id: str, source_lang: str, target_lang: str,
           changed_since: str | None = None) -> tuple[bytes, int]:
    """The topic as an XLIFF 2.1 document (bytes) and its number of units; with
    `changed_since`, only the units whose text is not in that version."""
    if not LANG_RE.match(target_lang):
        raise TranslationError(f"'{target_lang}' is not a language code such as es or vi")
    if target_lang == source_lang:
        raise TranslationError(f"the topic is already in '{source_lang}': choose another "
                               "language with --to")
    source = load_source(library, topic_id, source_lang)
    topic = source.topic
    units = source.units
    if changed_since is not None:
        units = _changed_units(library, source, topic_id, source_lang, changed_since)
    if library.roots[0] != library.bundled:  # a clinic's library keeps what it exported
        history.keep(library.roots[0], topic, source.text)
    crisis = standard_block(library, target_lang)
    root = etree.Element(qname("xliff"), nsmap={None: NS, "mda": MDA})
    root.set("version", "2.1")
    root.set("srcLang", source_lang)
    root.set("trgLang", target_lang)
    file_el = etree.SubElement(root, qname("file"), id="f1",
                               original=f"handouts/{topic.path.name}")
    meta = etree.SubElement(etree.SubElement(file_el, qname("metadata", MDA)),
                            qname("metaGroup", MDA), category="handouts")
    for name, value in (("topic", topic.id), ("version", topic.version),
                        ("digest", history.digest_text(source.text)),
                        ("changed-since", changed_since)):
        if value is not None:
            etree.SubElement(meta, qname("meta", MDA), type=name).text = value
    notes = etree.SubElement(file_el, qname("notes"))
    etree.SubElement(notes, qname("note"), category="general").text = (
        f"Patient handout '{topic.title}' ({topic.id}), version {topic.version}. Plain "
        "words, short sentences, 'you'; a reader at grade 6 to 7. " + PLACEHOLDER_NOTE)
    groups: dict[str, etree._Element] = {}
    for unit in units:
        group = groups.get(unit.section)
        if group is None:
            group = etree.SubElement(file_el, qname("group"), id=f"g-{unit.section}",
                                     name=unit.section)
            groups[unit.section] = group
        _unit_element(group, unit, target_lang, crisis)
    schema().assertValid(root)  # what we write is XLIFF 2.1, checked, not assumed
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data, len(units)


def _changed_units(library: Library, source: Source, topic_id: str, source_lang: str,
                   changed_since: str) -> list[Unit]:
    """The source's units whose text is not in version `changed_since` of the topic."""
    topic = source.topic
    old = history.by_version(library.roots, topic_id, source_lang, changed_since)
    if old is None:
        raise TranslationError(
            f"no copy of version {changed_since} of {topic_id} ({source_lang}) is kept in "
            "the library's history folder; export the whole topic")
    before = {u.id for u in source_from_text(read_text(old), topic.path).units}
    units = [u for u in source.units if u.id not in before]
    if not units:
        raise TranslationError(f"no text of {topic_id} ({source_lang}) changed since "
                               f"version {changed_since}; nothing to export")
    return units


def _unit_element(group, unit: Unit, target_lang: str, crisis) -> None:
    element = etree.SubElement(group, qname("unit"), id=unit.id, name=unit.kind)
    notes = etree.SubElement(element, qname("notes"))
    where = "the header" if unit.section == "header" else f"section '{unit.section}'"
    etree.SubElement(notes, qname("note"), category="location").text = (
        f"{KIND_NOTES[unit.kind]} In {where}.")
    parts = protect(unit.text)
    marks = [p for p in parts if isinstance(p, Placeholder)]
    prefill = None
    if unit.kind == "crisis":
        if crisis is not None:
            prefill = crisis.box
            text = (f"The approved crisis wording for '{target_lang}' exists (the "
                    f"'{target_lang}' crisis block of {', '.join(crisis.topics)}, which "
                    "every topic of the language prints word for word, with the crisis "
                    "strip of layouts/strings.toml). It is filled in: do not change it.")
        else:
            text = (f"There is no approved crisis wording for '{target_lang}' yet: "
                    "translate it exactly, keep every number, and have a clinician approve "
                    "it; every topic of the language must then use the same words.")
        etree.SubElement(notes, qname("note"), category="crisis", priority="1").text = text
    if unit.kind == "item" and TERM_RE.match(unit.text):
        etree.SubElement(notes, qname("note"), category="format").text = (
            "A term and its explanation: keep the dash after the bold term.")
    if marks:
        etree.SubElement(notes, qname("note"), category="placeholders").text = PLACEHOLDER_NOTE
        original = etree.SubElement(element, qname("originalData"))
        for mark in marks:
            etree.SubElement(original, qname("data"), id=f"d{mark.number}").text = mark.text
    segment_el = etree.SubElement(element, qname("segment"),
                                  state="final" if prefill is not None else "initial")
    source_el = etree.SubElement(segment_el, qname("source"))
    source_el.set(f"{{{XML_NS}}}space", "preserve")
    _fill_inline(source_el, parts)
    if prefill is not None:
        target_el = etree.SubElement(segment_el, qname("target"))
        target_el.set(f"{{{XML_NS}}}space", "preserve")
        target_el.text = prefill


def _fill_inline(element, parts: list) -> None:
    last = None
    for part in parts:
        if isinstance(part, Placeholder):
            last = etree.SubElement(element, qname("ph"), id=str(part.number),
                                    dataRef=f"d{part.number}", disp=part.text,
                                    equiv=part.text)
        elif last is None:
            element.text = (element.text or "") + part
        else:
            last.tail = (last.tail or "") + part
