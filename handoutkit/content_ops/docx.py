"""Reading a Word .docx file for `handouts import`: the package checked (not password-
protected, not damaged, not a zip bomb, no macros, no entities), Word's tracked changes,
comments and what cannot be carried over found with where they are, and the document
converted to HTML by mammoth.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from handoutkit.errors import HandoutsError

MAX_UNPACKED_BYTES = 200 * 1024 * 1024  # what a .docx may expand to
MAX_RATIO = 100  # compression ratio of one part above which it is a zip bomb
MAX_PARTS = 5000
MAX_PICTURE_BYTES = 10 * 1024 * 1024
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
STYLE_MAP = "p[style-name='Title'] => h1.doc-title:fresh\np[style-name='Subtitle'] => p:fresh"
SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False)


class ImportRefused(HandoutsError):
    """A file `handouts import` will not take (exit code 1, nothing written)."""


def refuse(path: Path, why: str) -> ImportRefused:
    return ImportRefused(f"{path.name}: {why}; nothing was imported")


def _check_package(path: Path, data: bytes) -> zipfile.ZipFile:
    if data.startswith(OLE_MAGIC):
        if "EncryptionInfo".encode("utf-16-le") in data or b"EncryptedPackage" in data \
                or "EncryptedPackage".encode("utf-16-le") in data:
            raise refuse(path, "the file is password-protected; save a copy without a "
                               "password and import that")
        raise refuse(path, "this is an old Word 97-2003 .doc file (or another Office "
                           "file); save it as a Word document (.docx) first")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        parts = package.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError):
        raise refuse(path, "not a Word .docx file, or a damaged one (it is not a "
                           "readable ZIP package)") from None
    if len(parts) > MAX_PARTS:
        raise refuse(path, f"{len(parts):,} parts in the package; a zip bomb?")
    names = {p.filename for p in parts}
    if any(p.flag_bits & 0x1 for p in parts):
        raise refuse(path, "the file is password-protected; save a copy without a "
                           "password and import that")
    if "word/document.xml" not in names or "[Content_Types].xml" not in names:
        raise refuse(path, "not a Word document (no word/document.xml in the package)")
    _check_sizes(path, parts)
    _read_every_part(path, package, parts)
    content_types = package.read("[Content_Types].xml").decode("utf-8", "replace")
    if any(n.lower().endswith("vbaproject.bin") for n in names) or \
            "macroEnabled" in content_types or path.suffix.lower() == ".docm":
        raise refuse(path, "the document contains macros; save it as a plain Word "
                           "document (.docx) without them")
    return package


def _check_sizes(path: Path, parts: list[zipfile.ZipInfo]) -> None:
    """The sizes the package declares: in all, and the compression ratio of each part."""
    total = 0
    for part in parts:
        total += part.file_size
        if total > MAX_UNPACKED_BYTES or (
                part.file_size > 1024 * 1024 and part.compress_size
                and part.file_size / part.compress_size > MAX_RATIO):
            raise refuse(path, "the package expands to far more than a handout holds (a "
                               "zip bomb?)")


def _read_every_part(path: Path, package: zipfile.ZipFile,
                     parts: list[zipfile.ZipInfo]) -> None:
    """The sizes a package declares may lie: read every part, counting what comes out."""
    total = 0
    try:
        for part in parts:
            xml = part.filename.lower().endswith((".xml", ".rels"))
            tail = b""
            with package.open(part) as stream:
                while chunk := stream.read(1024 * 1024):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise refuse(path, "the package expands to far more than a "
                                           "handout holds (a zip bomb?)")
                    # Word never declares entities; a part that does may expand without end.
                    if xml and (b"<!DOCTYPE" in tail + chunk or b"<!ENTITY" in tail + chunk):
                        raise refuse(path, f"{part.filename} declares entities (not a file "
                                           "Word writes)")
                    tail = chunk[-16:]
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError):
        raise refuse(path, "the file is damaged (a part of the package cannot be "
                           "read)") from None


def _xml(package: zipfile.ZipFile, name: str, path: Path):
    try:
        raw = package.read(name)
    except KeyError:
        return None
    if b"<!DOCTYPE" in raw[:4096] or b"<!ENTITY" in raw:
        raise refuse(path, f"{name} declares entities (not a file Word writes)")
    try:
        return etree.fromstring(raw, SAFE_XML)
    except etree.XMLSyntaxError:
        raise refuse(path, f"the file is damaged ({name} is not valid XML)") from None


@dataclass
class WordFindings:
    changes: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def _word_findings(document, comments_xml) -> WordFindings:
    """Tracked changes, comments, text boxes, fields and embedded objects, with where."""
    found = WordFindings()
    section = "the start of the document"
    comment_text = _comment_texts(comments_xml)
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
        _word_finding(found, element, name, where, comment_text)
    if comment_text and not found.comments:
        found.comments = list(comment_text.values())
    return found


def _comment_texts(comments_xml) -> dict[str, str]:
    """Each comment's words and author, by its id."""
    comment_text = {}
    if comments_xml is not None:
        for comment in comments_xml.iter(f"{{{W}}}comment"):
            words = " ".join("".join(comment.itertext()).split())
            comment_text[comment.get(f"{{{W}}}id")] = (
                f"comment by {comment.get(f'{{{W}}}author') or 'someone'}: '{words[:50]}'")
    return comment_text


def _word_finding(found: WordFindings, element, name: str, where: str,
                  comment_text: dict[str, str]) -> None:
    """What one element of Word's namespace is, if it is something to report."""
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


@dataclass
class WordDocument:
    """A Word file read: its HTML, its pictures by the address given them in the HTML, what
    could not be carried over and what to note."""

    html: str
    pictures: dict[str, tuple[bytes, str]]
    lost: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_docx(path: Path, data: bytes, accept_changes: bool) -> WordDocument:
    """The Word document as HTML, through mammoth (styles mapped to clean HTML)."""
    package = _check_package(path, data)
    document = _xml(package, "word/document.xml", path)
    comments = _xml(package, "word/comments.xml", path)
    findings = _word_findings(document, comments)
    if (findings.changes or findings.comments) and not accept_changes:
        raise _changes_refused(path, findings)
    lost = ([f"{change} (accepted)" for change in findings.changes]
            + [f"{comment} (left out)" for comment in findings.comments] + findings.lost)
    html, pictures, messages = _mammoth(path, data)
    word = WordDocument(html, pictures, lost)
    for message in messages:
        text = str(getattr(message, "message", message))
        if text.lower().startswith("unrecognised") and "style" in text.lower():
            word.notes.append(f"{text}: read as plain text (Word's converter)")
        elif re.search(r"fldSimple|OLEObject|w:object|txbx", text):
            continue  # reported above with where it was
        elif "ignored" in text.lower() or "unrecognised" in text.lower():
            word.lost.append(f"{text} (Word's converter)")
    return word


def _changes_refused(path: Path, findings: WordFindings) -> ImportRefused:
    counts = []
    if findings.changes:
        counts.append(f"{len(findings.changes)} tracked change"
                      f"{'s' if len(findings.changes) != 1 else ''}")
    if findings.comments:
        counts.append(f"{len(findings.comments)} comment"
                      f"{'s' if len(findings.comments) != 1 else ''}")
    first = (findings.changes + findings.comments)[0].split(": in ")[-1]
    return refuse(path, f"the document has {' and '.join(counts)} (first in {first}); "
                        "accept or reject them in Word, or import with --accept-changes "
                        "to take the text with every change accepted and the comments "
                        "left out")


def _mammoth(path: Path, data: bytes) -> tuple[str, dict[str, tuple[bytes, str]], list]:
    """(the HTML, the pictures by their address in it, mammoth's messages)."""
    import mammoth

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
        raise refuse(path, f"the file is damaged or not a Word document "
                           f"({type(exc).__name__})") from None
    return result.value, pictures, result.messages
