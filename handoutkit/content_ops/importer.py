"""`handouts import`: a clinic's own handout (a Word .docx file, an HTML page or a Markdown
file) into the library as a topic in the documented format, with its pictures, and a
report of what was found and what could not be carried over.

Everything is read and checked before anything is written: a file that is not what it
says, password-protected, damaged, a zip bomb, too large or with macros is refused with
one line, and nothing is written. Word's tracked changes and comments are never accepted
silently (`accept_changes`).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from handoutkit.content.header import ID_RE, LANG_RE
from handoutkit.content.library import ID_RE_TEXT, Library
from handoutkit.content.topic import Topic, parse_topic, slugify
from handoutkit.deliver import write_atomic
from handoutkit.errors import HandoutsError, OutputError

from . import history
from .crisis import CrisisBlock, mental_health_words, standard_block
from .htmlmd import ALT_TODO, Converted, convert, data_uri
from .topicfile import writable_root, write_text, yaml_value

MAX_IMPORT_BYTES = 50 * 1024 * 1024  # a handout, pictures and all, is far smaller
MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # what a .docx may expand to
MAX_RATIO = 100  # compression ratio of one part above which it is a zip bomb
MAX_PARTS = 5000
MAX_PICTURE_BYTES = 10 * 1024 * 1024
MAX_ID = 64
PICTURE_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg"),
                 b"GIF87a": ("image/gif", "gif"), b"GIF89a": ("image/gif", "gif")}
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STYLE_MAP = "p[style-name='Title'] => h1.doc-title:fresh\np[style-name='Subtitle'] => p:fresh"
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)


class ImportRefused(HandoutsError):
    """A file `handouts import` will not take (exit code 1, nothing written)."""


@dataclass
class SectionReport:
    id: str
    title: str
    reading_level: float | None


@dataclass
class Report:
    """What the import found and did."""

    topic: Topic | None = None
    path: Path | None = None
    measure: str = ""
    sections: list[SectionReport] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # jargon and acronyms flagged
    lost: list[str] = field(default_factory=list)  # what could not be carried over, where
    notes: list[str] = field(default_factory=list)  # what was added or needs doing
    pictures: list[Path] = field(default_factory=list)
    # Word's pictures as mammoth hands them over, by the address given them in the HTML.
    word_pictures: dict = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        return {"topic": self.topic.id if self.topic else None,
                "lang": self.topic.lang if self.topic else None,
                "file": str(self.path) if self.path else None,
                "mental_health": bool(self.topic and self.topic.mental_health),
                "measure": self.measure,
                "sections": [s.__dict__ for s in self.sections], "flagged": self.words,
                "not_carried_over": self.lost, "notes": self.notes,
                "pictures": [str(p) for p in self.pictures]}


# -- reading a Word file -------------------------------------------------------------------

def _refuse(path: Path, why: str) -> ImportRefused:
    return ImportRefused(f"{path.name}: {why}; nothing was imported")


def _check_package(path: Path, data: bytes) -> zipfile.ZipFile:
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or b"EncryptedPackage" in data \
                or "EncryptedPackage".encode("utf-16-le") in data:
            raise _refuse(path, "the file is password-protected; save a copy without a "
                                "password and import that")
        raise _refuse(path, "this is an old Word 97-2003 .doc file (or another Office "
                            "file); save it as a Word document (.docx) first")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        parts = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise _refuse(path, "not a Word .docx file, or a damaged one (it is not a "
                            "readable ZIP package)") from None
    if len(parts) > MAX_PARTS:
        raise _refuse(path, f"{len(parts):,} parts in the package; a zip bomb?")
    names = {p.filename for p in parts}
    if any(p.flag_bits & 0x1 for p in parts):
        raise _refuse(path, "the file is password-protected; save a copy without a "
                            "password and import that")
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise _refuse(path, "not a Word document (no word/document.xml in the package)")
    total = 0
    for part in parts:
        total += part.file_size
        if total > MAX_UNPACKED_BYTES or (
                part.file_size > 1024 * 1024 and part.compress_size
                and part.file_size / part.compress_size > MAX_RATIO):
            raise _refuse(path, "the package expands to far more than a handout holds (a "
                                "zip bomb?)")
    # The sizes a package declares may lie: read every part, counting what comes out.
    total = 0
    try:
        for part in parts:
            xml = part.filename.lower().endswith((".xml", ".rels"))
            tail = b""
            with package.open(part) as stream:
                while chunk := stream.read(1024 * 1024):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise _refuse(path, "the package expands to far more than a "
                                            "handout holds (a zip bomb?)")
                    # Word never declares entities; a part that does may expand without end.
                    if xml and (b"<!DOCTYPE" in tail + chunk or b"<!ENTITY" in tail + chunk):
                        raise _refuse(path, f"{part.filename} declares entities (not a file "
                                            "Word writes)")
                    tail = chunk[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        raise _refuse(path, "the file is damaged (a part of the package cannot be "
                            "read)") from None
    content_types = package.read("[Content_Types].xml").decode("utf-8", "replace")
    if any(n.lower().endswith("vbaproject.bin") for n in names) or \
            "macroEnabled" in content_types or path.suffix.lower() == ".docm":
        raise _refuse(path, "the document contains macros; save it as a plain Word "
                            "document (.docx) without them")
    return package


def _xml(package: zipfile.ZipFile, name: str, path: Path):
    try:
        raw = package.read(name)
    except KeyError:
        return None
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw:
        raise _refuse(path, f"{name} declares entities (not a file Word writes)")
    try:
        return etree.fromstring(raw, SAFE_XML)
    except etree.XMLSyntaxError:
        raise _refuse(path, f"the file is damaged ({name} is not valid XML)") from None


@dataclass
class WordFindings:
    changes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def _word_findings(document, comments_xml) -> WordFindings:
    """Tracked changes, comments, text boxes, fields and embedded objects, with where."""
    found = WordFindings()
    section = "the start of the document"
    comment_text = {}
    if comments_xml is not None:
        for comment in comments_xml.iter(f"{{{W}}}comment"):
            words = " ".join("".join(comment.itertext()).split())
            comment_text[comment.get(f"{{{W}}}id")] = (
                f"comment by {comment.get(f'{{{W}}}author') or 'someone'}: '{words[:50]}'")
    body = document.find(f"{{{W}}}body")
    paragraph = 0
    for element in (body.iter() if body is not None else ()):
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        namespace = etree.QName(element).namespace
        if name == "p" and namespace == W:
            if etree.QName(element.getparent()).localname != "txbxContent":
                paragraph += 1
            style = element.find(f"{{{W}}}pPr/{{{W}}}pStyle")
            value = (style.get(f"{{{W}}}val") or "") if style is not None else ""
            if re.match(r"(?i)^(heading\s*\d|title)$", value):
                section = f"section '{' '.join(''.join(element.itertext()).split())[:60]}'"
                paragraph = 0
            continue
        where = f"in {section}, paragraph {paragraph}"
        if namespace != W:
            if name == "chart":
                found.lost.append(f"a chart: {where}")
            continue
        if name in ("ins", "del", "moveFrom", "moveTo"):
            kind = {"ins": "insertion", "del": "deletion", "moveFrom": "move",
                    "moveTo": "move"}[name]
            words = " ".join("".join(element.itertext()).split())[:40]
            found.changes.append(f"a tracked {kind}{f' ({words!r})' if words else ''}: {where}")
        elif name.endswith("PrChange") or name in ("numberingChange", "cellIns", "cellDel",
                                                    "cellMerge"):
            found.changes.append(f"a tracked formatting change: {where}")
        elif name == "commentReference":
            text = comment_text.get(element.get(f"{{{W}}}id"), "a comment")
            found.comments.append(f"{text}: {where}")
        elif name == "txbxContent":
            found.lost.append(f"a text box (its words are kept as plain paragraphs): {where}")
        elif name == "fldSimple" or (name == "instrText" and element.text):
            instruction = (element.get(f"{{{W}}}instr") if name == "fldSimple"
                           else element.text) or ""
            kind = (instruction.split() or ["field"])[0].upper()
            kept = "left out" if name == "fldSimple" else "only the text it last showed is kept"
            if kind != "HYPERLINK":
                found.lost.append(f"a {kind} field ({kept}): {where}")
        elif name == "object" or name.startswith("embed"):
            found.lost.append(f"an embedded object (a spreadsheet, a drawing ...): {where}")
    if comment_text and not found.comments:
        found.comments = list(comment_text.values())
    return found


def _read_docx(path: Path, data: bytes, accept_changes: bool, report: Report) -> str:
    """The Word document as HTML, through mammoth (styles mapped to clean HTML)."""
    import mammoth

    package = _check_package(path, data)
    document = _xml(package, "word/document.xml", path)
    comments = _xml(package, "word/comments.xml", path)
    findings = _word_findings(document, comments)
    if (findings.changes or findings.comments) and not accept_changes:
        counts = []
        if findings.changes:
            counts.append(f"{len(findings.changes)} tracked change"
                          f"{'s' if len(findings.changes) != 1 else ''}")
        if findings.comments:
            counts.append(f"{len(findings.comments)} comment"
                          f"{'s' if len(findings.comments) != 1 else ''}")
        first = (findings.changes + findings.comments)[0].split(": in ")[-1]
        raise _refuse(path, f"the document has {' and '.join(counts)} (first in {first}); "
                            "accept or reject them in Word, or import with --accept-changes "
                            "to take the text with every change accepted and the comments "
                            "left out")
    for change in findings.changes:
        report.lost.append(f"{change} (accepted)")
    for comment in findings.comments:
        report.lost.append(f"{comment} (left out)")
    report.lost += findings.lost
    pictures: dict[str, tuple[bytes, str]] = {}

    def image(picture):
        try:
            with picture.open() as stream:
                raw = stream.read(MAX_PICTURE_BYTES + 1)
        except Exception:  # noqa: BLE001 - a picture mammoth cannot open is reported
            raw = b""
        key = f"docx-picture:{len(pictures)}"
        pictures[key] = (raw, picture.content_type or "")
        return {"src": key}

    try:
        result = mammoth.convert_to_html(io.BytesIO(data), style_map=STYLE_MAP,
                                         convert_image=mammoth.images.img_element(image))
    except Exception as exc:  # noqa: BLE001 - mammoth raises many kinds on damaged files
        raise _refuse(path, f"the file is damaged or not a Word document "
                            f"({type(exc).__name__})") from None
    for message in result.messages:
        text = str(getattr(message, "message", message))
        if text.lower().startswith("unrecognised") and "style" in text.lower():
            report.notes.append(f"{text}: read as plain text (Word's converter)")
        elif re.search(r"fldSimple|OLEObject|w:object|txbx", text):
            continue  # reported above with where it was
        elif "ignored" in text.lower() or "unrecognised" in text.lower():
            report.lost.append(f"{text} (Word's converter)")
    report.word_pictures = pictures
    return result.value


# -- the topic ---------------------------------------------------------------------------

def _picture_bytes(report: Report, folder: Path | None):
    """The `fetch_image` of htmlmd: Word's pictures, data: addresses, files beside an HTML
    or Markdown file (never outside its folder, never from the web)."""

    def fetch(src: str):
        pictures = report.word_pictures
        if src in pictures:
            raw, _ = pictures[src]
        elif src.startswith("data:"):
            raw, _ = data_uri(src)
        elif re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("//"):
            return None, "", f"'{src[:60]}' is on the web; pictures come in from files only"
        elif folder is not None:
            candidate = (folder / src).resolve()
            if folder.resolve() not in candidate.parents or not candidate.is_file():
                return None, "", f"'{src[:60]}' is not a file beside the document"
            raw = candidate.read_bytes()[: MAX_PICTURE_BYTES + 1]
        else:
            raw = None
        if not raw:
            return None, "", "it cannot be read"
        if len(raw) > MAX_PICTURE_BYTES:
            return None, "", "over 10 MB"
        for magic, (media, _) in PICTURE_TYPES.items():
            if raw.startswith(magic):
                return raw, media, ""
        return None, "", "not a PNG, JPEG or GIF picture (save it as PNG)"

    return fetch


def _decode(path: Path, data: bytes, html: bool) -> str:
    """The text of an HTML or Markdown file: UTF-8, or for a web page the character set
    its <meta charset> names (as Word's "Save as web page" writes windows-1252)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    declared = re.search(rb"""<meta[^>]+charset=["']?([\w-]{1,40})""", data[:4096], re.I)
    if html and declared:
        try:
            return data.decode(declared[1].decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    raise _refuse(path, "not UTF-8 text" + (" (nor the character set it names)"
                                              if html and declared else ""))


def _section_ids(titles: list[str], reserved: set[str]) -> list[str]:
    used = set(reserved)
    ids = []
    for number, title in enumerate(titles, 1):
        words = slugify(title).split("-")
        base = ""
        for word in words:  # at most about 40 characters, whole words
            if base and len(base) + len(word) + 1 > 40:
                break
            base = f"{base}-{word}" if base else word
        base = base or f"section-{number}"
        candidate, count = base, 1
        while candidate in used:
            count += 1
            candidate = f"{base}-{count}"
        used.add(candidate)
        ids.append(candidate)
    return ids


def _picture_line(picture, name: str) -> str:
    alt = picture.alt.replace("[", "(").replace("]", ")") or ALT_TODO
    caption = picture.caption.replace('"', "'")
    title = f' "{caption}"' if caption else ""
    return f"![{alt}](images/{name}{title})"


def _body(converted: Converted, picture_names: list[str], crisis: CrisisBlock | None,
          crisis_note: str) -> tuple[str, str | None]:
    """(the topic body, the title found in the document or None)."""
    blocks = list(converted.blocks)
    title = None
    headings = [b for b in blocks if b.kind == "heading"]
    if headings:
        # The title: Word's Title style, or a first heading alone at the top level (a logo
        # or a line of text before it stays where it is).
        top = min(h.level for h in headings)
        first = headings[0]
        if first.title_style or (first.level == top and len(headings) > 1
                                 and sum(1 for h in headings if h.level == top) == 1):
            title = first.text
            blocks = [b for b in blocks if b is not first]
            headings = headings[1:]
    section_level = min((h.level for h in headings), default=2)
    reserved = {"intro", "crisis"} if crisis is not None else {"intro"}
    ids = iter(_section_ids([h.text for h in headings if h.level == section_level], reserved))
    out: list[str] = []
    for block in blocks:
        if block.kind == "heading" and block.level == section_level:
            out.append(f"## {block.text} {{#{next(ids)}}}")
        elif block.kind == "heading":
            out.append(f"### {block.text}")
        elif block.kind == "picture":
            out.append(_picture_line(converted.pictures[block.picture],
                                     picture_names[block.picture]))
        else:
            out.append(block.text)
    if not any(b.kind == "heading" and b.level == section_level for b in blocks):
        out.insert(0, f"## {title or 'About this topic'} {{#about}}")
    if crisis is not None:
        out.append(f"<!-- {crisis_note} -->")
        out.append(crisis.section().rstrip("\n"))
    return "\n\n".join(out) + "\n", title


def _plain(markdown: str) -> str:
    """Inline Markdown as plain text: emphasis marks and link addresses dropped."""
    return re.sub(r"\\(.)", r"\1", re.sub(r"(?<!\\)[*]|(?<!\\)\[|\]\([^)]*\)", "", markdown))


def _summary(converted: Converted, title: str) -> str:
    for block in converted.blocks:
        if block.kind == "paragraph":
            plain = _plain(block.text)
            sentence = re.split(r"(?<=[.!?])\s", plain, maxsplit=1)[0]
            if len(sentence) <= 200:
                return sentence
    return title


def import_file(library: Library, source: Path, topic_id: str, lang: str = "en",
                accept_changes: bool = False, today: dt.date | None = None) -> Report:
    """Read, convert and check a handout, then write the topic and its pictures."""
    today = today or dt.date.today()
    if len(topic_id) > MAX_ID or not ID_RE.match(topic_id):
        raise ImportRefused(f"'{topic_id}' is not a topic id: use {ID_RE_TEXT}")
    if not LANG_RE.match(lang):
        raise ImportRefused(f"'{lang}' is not a language code such as en or es")
    root = writable_root(library)
    target = root / "handouts" / f"{topic_id}.{lang}.md"
    if target.exists():
        raise OutputError(f"{target} already exists; nothing was imported")
    try:
        size = source.stat().st_size
        if not source.is_file():
            raise ImportRefused(f"{source}: not a file")
        if size > MAX_IMPORT_BYTES:
            raise _refuse(source, f"{size / 1024 / 1024:.0f} MB, more than the "
                                  f"{MAX_IMPORT_BYTES // 1024 // 1024} MB a handout may be")
        data = source.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{source}: cannot be read ({exc.strerror})") from None
    report = Report()
    suffix = source.suffix.lower()
    if suffix in (".docx", ".docm", ".doc", ".dotx"):
        html_text = _read_docx(source, data, accept_changes, report)
        folder = None
    elif suffix in (".html", ".htm", ".md", ".markdown"):
        if data.startswith(OLE_MAGIC) or data.startswith(b"PK\x03\x04"):
            raise _refuse(source, f"not a {suffix} text file (it is a packaged document)")
        text = _decode(source, data, html=suffix in (".html", ".htm"))
        if suffix in (".md", ".markdown"):
            from handoutkit.content.markdown import MARKDOWN

            text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # a header of its own
            # A topic file's section ids (`## Title {#id}`): the import gives its own.
            text = re.sub(r"^(#{1,6}[ \t].*?)[ \t]*\{[^{}\n]*\}[ \t]*$", r"\1", text,
                          flags=re.M)
            try:
                html_text = MARKDOWN.render(text)
            except Exception:  # noqa: BLE001 - markdown-it's limits on hostile input
                raise _refuse(source, "the Markdown cannot be read (nested too deeply?)") \
                    from None
        else:
            html_text = text
        folder = source.parent
    else:
        raise ImportRefused(f"{source.name}: import reads Word (.docx), HTML (.html, .htm) "
                            "and Markdown (.md) files")
    try:
        converted = convert(html_text, _picture_bytes(report, folder))
    except ValueError as exc:
        raise _refuse(source, str(exc)) from None
    except RecursionError:
        raise _refuse(source, "the document is nested too deeply to read") from None
    report.lost += converted.lost
    if not any(b.kind in ("paragraph", "list", "table") for b in converted.blocks):
        raise _refuse(source, "no text found to import")
    return _finish(library, root, source, topic_id, lang, converted, report, today)


def _finish(library, root: Path, source: Path, topic_id: str, lang: str,
            converted: Converted, report: Report, today: dt.date) -> Report:
    picture_names = []
    for number, picture in enumerate(converted.pictures, 1):
        extension = next(ext for magic, (_, ext) in PICTURE_TYPES.items()
                         if picture.data.startswith(magic))
        picture_names.append(f"{topic_id}-{number}.{extension}")
    plain = " ".join(b.text for b in converted.blocks)
    words = mental_health_words(plain, lang)
    crisis = standard_block(library, lang) if words else None
    crisis_note = ""
    if words and crisis is not None:
        crisis_note = (f"Added by handouts import: the standard '{lang}' crisis block (as in "
                       f"{', '.join(crisis.topics[:3])}), because the handout speaks of "
                       f"{', '.join(words[:4])}. Remove any crisis text of the original that "
                       "says the same.")
        report.notes.append(crisis_note.removeprefix("Added by handouts import: ")
                            .replace("the standard", "Added the standard", 1))
    elif words:
        report.notes.append(f"The handout speaks of {', '.join(words[:4])}, so it is marked "
                            f"mental_health, but the library has no '{lang}' crisis block to "
                            "add: write one (docs/topic-format.md)")
    body, title = _body(converted, picture_names, crisis, crisis_note)
    if sum(1 for b in converted.blocks if b.kind == "heading") < 2:
        report.notes.append("no headings (Word's Heading styles) found: the text is one "
                            "section; add '## ' headings with ids to split it")
    title = _plain(title) if title else topic_id.replace("-", " ").capitalize()
    header = {
        "id": topic_id, "lang": lang, "title": title, "level": "basics", "version": "1.0",
        "updated": today, "summary": _summary(converted, title),
        "credit": "Written by the clinic's care team.",
        "mental_health": bool(words),
        "reviewed_by": "Pending clinical review (imported)",
    }
    name = re.sub(r"[^\w .()-]", "_", source.name)
    text = ("---\n" + "".join(f"{k}: {yaml_value(v)}\n" for k, v in header.items()) + "---\n\n"
            + f"<!-- Imported from {name} on {today.isoformat()} by 'handouts import'. -->\n\n"
            + body)
    target = root / "handouts" / f"{topic_id}.{lang}.md"
    try:
        topic = parse_topic(text, target)
    except HandoutsError as exc:
        raise _refuse(source, f"the converted topic cannot be read ({exc})") from None
    for picture, name in zip(converted.pictures, picture_names, strict=True):
        if not picture.alt:
            report.notes.append(f"picture images/{name} ({picture.where}) has no description: "
                                "replace the TODO (lint reports it as an error until then)")
    _measure(library, topic, report)
    # Written last, pictures first: a topic never points at a picture not yet there.
    written: list[Path] = []
    try:
        (root / "handouts" / "images").mkdir(parents=True, exist_ok=True)
        for picture, name in zip(converted.pictures, picture_names, strict=True):
            path = root / "handouts" / "images" / name
            if path.exists():
                raise OutputError(f"{path} already exists; nothing was imported")
            written.append(write_atomic(path, picture.data))
        write_text(target, text)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    history.keep(root, topic, text)  # for `diff` against the version first imported
    report.topic, report.path, report.pictures = topic, target, written
    return report


def _measure(library: Library, topic: Topic, report: Report) -> None:
    """Reading level per section, jargon and acronyms: lint's own measures."""
    from handoutkit.content.brand import load_brand
    from handoutkit.content.measures import readability
    from handoutkit.lint.rules import Linter

    result = readability(topic)
    scores = {s.id: score for s, score in result.sections} if result else {}
    report.measure = result.measure if result else ""
    report.sections = [SectionReport(s.id, s.title, scores.get(s.id))
                       for s in topic.sections]
    linter = Linter(library, load_brand(library.default_brand))
    linter._check_plain_words(topic)
    report.words = [f.message for f in linter.findings]
