"""Reading a translated XLIFF file (`read_exchange`) and writing the topic in the other
language from it (`import_file`); the export and the schema are in `xliff`.
"""

from __future__ import annotations

import datetime as dt
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
from .topicfile import read_text, set_fields, writable_root, write_text
from .units import Placeholder, Unit, protect, segment
from .xliff import (
    MDA,
    Source,
    TranslationError,
    load_source,
    qname,
    schema,
    source_from_text,
    source_of,
)

MAX_XLIFF_BYTES = 20 * 1024 * 1024

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
    tree = _parse(path)
    if tree.tag != qname("xliff") or tree.get("version") not in ("2.0", "2.1"):
        raise TranslationError(f"{path}: not an XLIFF 2.0 or 2.1 file (made by 'handouts "
                               "translate export')")
    checker = schema()
    if not checker.validate(tree):
        error = checker.error_log.last_error
        raise TranslationError(f"{path}:{error.line}: not valid XLIFF 2.1 "
                               f"({' '.join(error.message.split())[:160]})")
    files = tree.findall(qname("file"))
    if len(files) != 1:
        raise TranslationError(f"{path}: holds {len(files)} files; one topic a file")
    meta = {m.get("type"): (m.text or "").strip()
            for m in files[0].iter(qname("meta", MDA))}
    if not meta.get("topic") or not meta.get("version"):
        raise TranslationError(f"{path}: does not say which topic and version it holds "
                               "(export it with 'handouts translate export')")
    source_lang, target_lang = tree.get("srcLang") or "", tree.get("trgLang") or ""
    if not LANG_RE.match(target_lang) or not LANG_RE.match(source_lang):
        raise TranslationError(f"{path}: srcLang and trgLang must be language codes")
    units: dict[str, FileUnit] = {}
    for element in files[0].iter(qname("unit")):
        unit = _file_unit(element, path)
        units[unit.id] = unit
    return Exchange(meta["topic"], meta["version"], source_lang, target_lang,
                    meta.get("changed-since"), units)


def _parse(path: Path):
    """The file's XML tree, read with entities, DTDs and network access off."""
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
    return tree


def _file_unit(element, path: Path) -> FileUnit:
    unit_id = element.get("id") or ""
    data = {d.get("id"): d.text or "" for d in element.iter(qname("data"))}
    # A CAT tool may split a unit into several segments, with the spaces between them
    # in <ignorable> elements: the unit's text is all of them, in order.
    parts = [c for c in element if c.tag in (qname("segment"), qname("ignorable"))]
    if not any(c.tag == qname("segment") for c in parts):
        raise TranslationError(f"{path}: unit {unit_id} has no segment")
    source: list = []
    target: list | None = None
    for part in parts:
        source_part = _inline(part.find(qname("source")), path, unit_id)
        source += source_part
        target_el = part.find(qname("target"))
        if target_el is not None:
            target = (target or []) + _inline(target_el, path, unit_id)
        elif part.tag == qname("ignorable") and target is not None:
            target += source_part
    return FileUnit(unit_id, source, target, data)


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
    """Write TOPIC.LANG.md from a translated XLIFF file (see the docstring of `xliff`)."""
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
    texts, untranslated = _file_texts(xliff, exchange, current, crisis)
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


def _file_texts(xliff: Path, exchange: Exchange, current: dict[str, Unit],
                crisis) -> tuple[dict[str, str], list[str]]:
    """(the translations of the file's units still in the source, by unit id; the ids of
    those without one)."""
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
    return texts, untranslated


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
    old = source_from_text(read_text(old_path), topic.path)
    translation = library.topic(topic.id, exchange.target_lang)
    translated = source_of(translation, read_text(translation.path))
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
