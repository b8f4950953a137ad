"""The translators' exchange: a topic out as XLIFF 2.1 and a translated XLIFF file back
in as the topic in another language.

XLIFF 2.1 (OASIS, 2018) is what current CAT tools read and write (Trados Studio, memoQ,
Phrase, Crowdin, Okapi); the files are built and read with lxml's
element tree, never by joining strings, read back with entities, DTDs and network access
off, and checked against xliff-2-profile.xsd (the XLIFF 2 core structure used here).
Version 2.1 keeps the 2.0 namespace; a 2.0 file is read too.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from handoutkit.content.header import LANG_RE
from handoutkit.content.library import Library
from handoutkit.content.topic import Topic, parse_topic
from handoutkit.errors import HandoutsError, TopicNotFound

from . import history
from .crisis import standard_block
from .topicfile import read_text, set_fields, split, writable_root, write_text
from .units import Placeholder, Segmented, Unit, header_units, protect, segment

NS = "urn:oasis:names:tc:xliff:document:2.0"
MDA = "urn:oasis:names:tc:xliff:metadata:2.0"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_XLIFF_BYTES = 20 * 1024 * 1024

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


def _q(name: str, ns: str = NS) -> str:
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
    return _source(topic, read_text(topic.path))


def _source(topic: Topic, text: str) -> Source:
    header, body = split(text, topic.path)
    segmented = segment(body)
    return Source(topic, text, header, segmented,
                  header_units(topic.title, topic.summary, topic.credit) + segmented.units)


def _source_from_text(text: str, path: Path) -> Source:
    return _source(parse_topic(text, path), text)


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
        old = history.by_version(library.roots, topic_id, source_lang, changed_since)
        if old is None:
            raise TranslationError(
                f"no copy of version {changed_since} of {topic_id} ({source_lang}) is kept in "
                "the library's history folder; export the whole topic")
        before = {u.id for u in _source_from_text(read_text(old), topic.path).units}
        units = [u for u in units if u.id not in before]
        if not units:
            raise TranslationError(f"no text of {topic_id} ({source_lang}) changed since "
                                   f"version {changed_since}; nothing to export")
    if library.roots[0] != library.bundled:  # a clinic's library keeps what it exported
        history.keep(library.roots[0], topic, source.text)
    crisis = standard_block(library, target_lang)
    root = etree.Element(_q("xliff"), nsmap={None: NS, "mda": MDA})
    root.set("version", "2.1")
    root.set("srcLang", source_lang)
    root.set("trgLang", target_lang)
    file_el = etree.SubElement(root, _q("file"), id="f1",
                               original=f"handouts/{topic.path.name}")
    meta = etree.SubElement(etree.SubElement(file_el, _q("metadata", MDA)),
                            _q("metaGroup", MDA), category="handouts")
    for name, value in (("topic", topic.id), ("version", topic.version),
                        ("digest", history.digest_text(source.text)),
                        ("changed-since", changed_since)):
        if value is not None:
            etree.SubElement(meta, _q("meta", MDA), type=name).text = value
    notes = etree.SubElement(file_el, _q("notes"))
    etree.SubElement(notes, _q("note"), category="general").text = (
        f"Patient handout '{topic.title}' ({topic.id}), version {topic.version}. Plain "
        "words, short sentences, 'you'; a reader at grade 6 to 7. " + PLACEHOLDER_NOTE)
    groups: dict[str, etree._Element] = {}
    for unit in units:
        group = groups.get(unit.section)
        if group is None:
            group = etree.SubElement(file_el, _q("group"), id=f"g-{unit.section}",
                                     name=unit.section)
            groups[unit.section] = group
        _unit_element(group, unit, target_lang, crisis)
    schema().assertValid(root)  # what we write is XLIFF 2.1, checked, not assumed
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data, len(units)


def _unit_element(group, unit: Unit, target_lang: str, crisis) -> None:
    element = etree.SubElement(group, _q("unit"), id=unit.id, name=unit.kind)
    notes = etree.SubElement(element, _q("notes"))
    where = "the header" if unit.section == "header" else f"section '{unit.section}'"
    etree.SubElement(notes, _q("note"), category="location").text = (
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
        etree.SubElement(notes, _q("note"), category="crisis", priority="1").text = text
    if unit.kind == "item" and TERM_RE.match(unit.text):
        etree.SubElement(notes, _q("note"), category="format").text = (
            "A term and its explanation: keep the dash after the bold term.")
    if marks:
        etree.SubElement(notes, _q("note"), category="placeholders").text = PLACEHOLDER_NOTE
        original = etree.SubElement(element, _q("originalData"))
        for mark in marks:
            etree.SubElement(original, _q("data"), id=f"d{mark.number}").text = mark.text
    segment_el = etree.SubElement(element, _q("segment"),
                                  state="final" if prefill is not None else "initial")
    source_el = etree.SubElement(segment_el, _q("source"))
    source_el.set(f"{{{XML_NS}}}space", "preserve")
    _fill_inline(source_el, parts)
    if prefill is not None:
        target_el = etree.SubElement(segment_el, _q("target"))
        target_el.set(f"{{{XML_NS}}}space", "preserve")
        target_el.text = prefill


def _fill_inline(element, parts: list) -> None:
    last = None
    for part in parts:
        if isinstance(part, Placeholder):
            last = etree.SubElement(element, _q("ph"), id=str(part.number),
                                    dataRef=f"d{part.number}", disp=part.text,
                                    equiv=part.text)
        elif last is None:
            element.text = (element.text or "") + part
        else:
            last.tail = (last.tail or "") + part


# -- reading an XLIFF file ---------------------------------------------------------------

@dataclass
class FileUnit:
    """A unit as the XLIFF file holds it."""

    id: str
    source: list  # str and ("ph", id)
    target: list | None  # None: no target
    data: dict[str, str] = field(default_factory=dict)


@dataclass
class Exchange:
    topic: str
    version: str
    source_lang: str
    target_lang: str
    changed_since: str | None
    units: dict[str, FileUnit]


def read_exchange(path: Path) -> Exchange:
    """Read and check an XLIFF 2.0/2.1 file made by `translate export`."""
    try:
        size = path.stat().st_size
        if size > MAX_XLIFF_BYTES:
            raise TranslationError(f"{path}: {size:,} bytes; an exchange file of one topic "
                                   f"is far smaller (at most {MAX_XLIFF_BYTES:,})")
        raw = path.read_bytes()
    except OSError as exc:
        raise TranslationError(f"{path}: cannot be read ({exc.strerror})") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        tree = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise TranslationError(f"{path}: not valid XML ({exc.msg})") from None
    if tree.getroottree().docinfo.doctype:
        raise TranslationError(f"{path}: an XLIFF file may not declare a DOCTYPE")
    if tree.tag != _q("xliff") or tree.get("version") not in ("2.0", "2.1"):
        raise TranslationError(f"{path}: not an XLIFF 2.0 or 2.1 file (made by 'handouts "
                               "translate export')")
    checker = schema()
    if not checker.validate(tree):
        error = checker.error_log.last_error
        raise TranslationError(f"{path}:{error.line}: not valid XLIFF 2.1 "
                               f"({' '.join(error.message.split())[:160]})")
    files = tree.findall(_q("file"))
    if len(files) != 1:
        raise TranslationError(f"{path}: holds {len(files)} files; one topic a file")
    meta = {m.get("type"): (m.text or "").strip()
            for m in files[0].iter(_q("meta", MDA))}
    if not meta.get("topic") or not meta.get("version"):
        raise TranslationError(f"{path}: does not say which topic and version it holds "
                               "(export it with 'handouts translate export')")
    source_lang, target_lang = tree.get("srcLang") or "", tree.get("trgLang") or ""
    if not LANG_RE.match(target_lang) or not LANG_RE.match(source_lang):
        raise TranslationError(f"{path}: srcLang and trgLang must be language codes")
    units: dict[str, FileUnit] = {}
    for element in files[0].iter(_q("unit")):
        unit_id = element.get("id") or ""
        data = {d.get("id"): d.text or "" for d in element.iter(_q("data"))}
        # A CAT tool may split a unit into several segments, with the spaces between them
        # in <ignorable> elements: the unit's text is all of them, in order.
        parts = [c for c in element if c.tag in (_q("segment"), _q("ignorable"))]
        if not any(c.tag == _q("segment") for c in parts):
            raise TranslationError(f"{path}: unit {unit_id} has no segment")
        source: list = []
        target: list | None = None
        for part in parts:
            source_part = _inline(part.find(_q("source")), path, unit_id)
            source += source_part
            target_el = part.find(_q("target"))
            if target_el is not None:
                target = (target or []) + _inline(target_el, path, unit_id)
            elif part.tag == _q("ignorable") and target is not None:
                target += source_part
        units[unit_id] = FileUnit(unit_id, source, target, data)
    return Exchange(meta["topic"], meta["version"], source_lang, target_lang,
                    meta.get("changed-since"), units)


def _inline(element, path: Path, unit_id: str) -> list:
    if element is None:
        return []
    parts: list = [element.text] if element.text else []
    for child in element:
        name = etree.QName(child).localname
        if name == "ph":
            parts.append(("ph", child.get("id")))
        elif name == "mrk":  # an annotation: its text is the text
            parts += _inline(child, path, unit_id)
        elif name in ("sm", "em"):  # where an annotation starts and ends: no text
            pass
        elif name == "cp":  # a character XML cannot hold as it is
            try:
                parts.append(chr(int(child.get("hex") or "", 16)))
            except ValueError:
                raise TranslationError(f"{path}: unit {unit_id}: <cp> without a valid "
                                       "hex code") from None
        else:
            raise TranslationError(f"{path}: unit {unit_id}: the inline code <{name}> is not "
                                   "one of the unit's placeholders (it was changed)")
        if child.tail:
            parts.append(child.tail)
    return parts


# -- import -------------------------------------------------------------------------------

@dataclass
class Imported:
    path: Path
    topic: Topic
    stale: bool
    untranslated: list[str]


def import_file(library: Library, xliff: Path, force: bool = False,
                today: dt.date | None = None) -> Imported:
    """Write TOPIC.LANG.md from a translated XLIFF file (see the module's docstring)."""
    exchange = read_exchange(xliff)
    if exchange.target_lang == exchange.source_lang:
        raise TranslationError(f"{xliff}: the target language is the source's "
                               f"('{exchange.source_lang}'); nothing to import")
    try:
        source = load_source(library, exchange.topic, exchange.source_lang)
    except TopicNotFound as exc:
        raise TranslationError(f"{xliff}: {exc}") from None
    current = {u.id: u for u in source.units}
    stale = _stale_reasons(exchange, source)
    if stale and not force:
        raise TranslationError(
            f"{xliff}: {source.topic.path.name} changed since this file was exported "
            f"({stale[0]}): export it again, or import with --force to mark the "
            "translation stale")
    crisis = standard_block(library, exchange.target_lang)
    texts: dict[str, str] = {}
    untranslated: list[str] = []
    for unit_id, file_unit in exchange.units.items():
        unit = current.get(unit_id)
        if unit is None:
            continue
        text = _target_text(xliff, unit, file_unit, crisis, exchange.target_lang)
        if text is None:
            untranslated.append(unit_id)
        else:
            texts[unit_id] = text
    missing = [u for u in source.units if u.id not in exchange.units]
    if missing and exchange.changed_since:
        texts.update(_earlier_translation(library, exchange, source, missing))
        missing = [u for u in missing if u.id not in texts]
    if missing and not force:
        unit = missing[0]
        raise TranslationError(f"{xliff}: unit {unit.id} ({unit.kind} in "
                               f"{_where(unit)}) is missing; export the topic again")
    untranslated += [u.id for u in missing]
    for unit in source.units:
        if unit.kind == "crisis" and unit.id not in texts and crisis is not None:
            texts[unit.id] = crisis.box
    texts = {unit_id: text if text == current[unit_id].text else _fit(current[unit_id], text)
             for unit_id, text in texts.items()}
    _same_shape(xliff, source, texts)
    text = _translated_text(source, exchange, texts, bool(stale), today or dt.date.today())
    folder = writable_root(library) / "handouts"
    path = folder / f"{source.topic.id}.{exchange.target_lang}.md"
    try:
        topic = parse_topic(text, path)
    except HandoutsError as exc:
        raise TranslationError(f"{xliff}: the translation cannot be read as a topic "
                               f"({exc})") from None
    folder.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    return Imported(path, topic, bool(stale), untranslated)


ONE_LINE = ("title", "summary", "credit", "heading", "cell", "picture", "caption")


def _fit(unit: Unit, text: str) -> str:
    """A translation as it can stand where its unit stands: on one line for a heading, a
    table cell or a picture's description and caption, with the characters that would
    end them escaped."""
    if unit.kind not in ONE_LINE:
        return text
    text = " ".join(text.split())
    if unit.kind == "cell":
        text = re.sub(r"(?<!\\)\|", r"\\|", text)
    elif unit.kind == "picture":
        text = re.sub(r"(?<!\\)([\[\]])", r"\\\1", text)
    elif unit.kind == "caption":
        text = text.replace('"', "\u201d")
    return text


def _same_shape(xliff: Path, source: Source, texts: dict[str, str]) -> None:
    """The translated body has the source's blocks, in the same order: a unit whose text
    would open a list, a box or a heading of its own is refused, naming it."""
    kinds = [u.kind for u in source.body.units]

    def shape(chosen: dict[str, str]) -> list[str]:
        return [u.kind for u in segment(source.body.fill(chosen)).units]

    if shape(texts) == kinds:
        return
    for unit in source.body.units:  # which unit does it (only when one does)
        if unit.id in texts and shape({unit.id: texts[unit.id]}) != kinds:
            raise TranslationError(f"{xliff}: unit {unit.id} ({unit.kind} in "
                                   f"{_where(unit)}) changes the handout's layout (its text "
                                   "starts a list, a box or a heading); keep it plain text")
    raise TranslationError(f"{xliff}: the translation changes the handout's layout; keep "
                           "each unit plain text")


def _where(unit: Unit) -> str:
    return "the header" if unit.section == "header" else f"section '{unit.section}'"


def _stale_reasons(exchange: Exchange, source: Source) -> list[str]:
    reasons = []
    if exchange.version != source.topic.version:
        reasons.append(f"version {exchange.version}, now {source.topic.version}")
    current = {u.id: u for u in source.units}
    for unit_id, file_unit in exchange.units.items():
        unit = current.get(unit_id)
        if unit is None:
            reasons.append(f"unit {unit_id} is no longer in it")
        elif _restore(file_unit.source, file_unit.data) != unit.text:
            reasons.append(f"the source of unit {unit_id} differs")
    return reasons


def _restore(parts: list, data: dict[str, str]) -> str:
    return "".join(data.get(f"d{p[1]}", "") if isinstance(p, tuple) else p for p in parts)


def _target_text(xliff: Path, unit: Unit, file_unit: FileUnit, crisis, lang: str
                 ) -> str | None:
    """The unit's translation with its placeholders put back; None when not translated."""
    target = file_unit.target
    if not target or not "".join(p for p in target if isinstance(p, str)).strip() and not any(
            isinstance(p, tuple) for p in target):
        return None
    if unit.kind == "crisis" and crisis is not None:
        text = _restore(target, file_unit.data)
        if " ".join(text.split()) != " ".join(crisis.box.split()):
            raise TranslationError(
                f"{xliff}: unit {unit.id} (the crisis block) must keep the approved "
                f"'{lang}' wording it was filled in with")
        return crisis.box
    marks = {str(p.number): p.text for p in protect(unit.text) if isinstance(p, Placeholder)}
    where = f"{xliff}: unit {unit.id} ({unit.kind} in {_where(unit)})"
    for number, text in marks.items():
        if file_unit.data.get(f"d{number}", text) != text:
            raise TranslationError(f"{where}: placeholder {number} was changed "
                                   f"('{file_unit.data[f'd{number}']}' instead of '{text}')")
    used = [p[1] for p in target if isinstance(p, tuple)]
    unknown = [n for n in used if n not in marks]
    if unknown:
        raise TranslationError(f"{where}: placeholder {unknown[0]} is not in the source "
                               "(it was changed)")
    dropped = [n for n in marks if n not in used]
    if dropped:
        raise TranslationError(f"{where}: placeholder {dropped[0]} ('{marks[dropped[0]]}') "
                               "was dropped; keep every placeholder")
    if len(used) != len(set(used)):
        raise TranslationError(f"{where}: a placeholder is repeated; keep each one once")
    if used != list(marks):
        raise TranslationError(f"{where}: the placeholders were reordered "
                               f"({', '.join(used)} instead of {', '.join(marks)})")
    return "".join(marks[p[1]] if isinstance(p, tuple) else p for p in target)


def _earlier_translation(library: Library, exchange: Exchange, source: Source,
                         missing: list[Unit]) -> dict[str, str]:
    """For a file of changed units only: the other units' translations, from the existing
    translation, which follows the version the changes are counted from unit for unit."""
    topic = source.topic
    if not library.has(topic.id, exchange.target_lang):
        return {}
    old_path = history.by_version(library.roots, topic.id, exchange.source_lang,
                                  exchange.changed_since or "")
    if old_path is None:
        return {}
    old = _source_from_text(read_text(old_path), topic.path)
    translation = library.topic(topic.id, exchange.target_lang)
    translated = _source(translation, read_text(translation.path))
    if [u.kind for u in old.units] != [u.kind for u in translated.units]:
        return {}
    by_old = {o.id: t.text for o, t in zip(old.units, translated.units, strict=True)}
    return {u.id: by_old[u.id] for u in missing if u.id in by_old}


def _translated_text(source: Source, exchange: Exchange, texts: dict[str, str],
                     stale: bool, today: dt.date) -> str:
    topic = source.topic
    body = source.body.fill(texts)
    header = "---\n" + source.header + "---\n"
    translated_from = {"lang": exchange.source_lang, "version": exchange.version}
    if stale:
        translated_from["stale"] = True
    values = {
        "lang": exchange.target_lang,
        "title": texts.get("header.title", topic.title),
        "summary": texts.get("header.summary", topic.summary),
        "credit": texts.get("header.credit", topic.credit),
        "updated": max(today, topic.updated),
        "translated_from": translated_from,
        "reviewed_by": f"Pending review of the '{exchange.target_lang}' translation",
        "reviewed_on": None,
        "review_digest": None,
        # The source's search words are in its language: the translation gets its own.
        "keywords": None,
    }
    return set_fields(header + body, topic.path, values)
