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
import re
from dataclasses import dataclass, field
from pathlib import Path

from handoutkit.content.header import ID_RE, LANG_RE
from handoutkit.content.library import ID_RE_TEXT, Library
from handoutkit.content.topic import Topic, parse_topic, slugify
from handoutkit.deliver import write_atomic
from handoutkit.errors import HandoutsError, OutputError

from . import history
from .crisis import CrisisBlock, mental_health_words, standard_block
from .docx import MAX_PICTURE_BYTES, OLE_MAGIC, ImportRefused, read_docx, refuse
from .htmlmd import ALT_TODO, Converted, convert, data_uri
from .topicfile import writable_root, write_text, yaml_value

MAX_IMPORT_BYTES = 50 * 1024 * 1024  # a handout, pictures and all, is far smaller
MAX_ID = 64
PICTURE_TYPES = {b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"\xff\xd8\xff": ("image/jpeg", "jpg"),
                 b"GIF87a": ("image/gif", "gif"), b"GIF89a": ("image/gif", "gif")}


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


# -- the topic ---------------------------------------------------------------------------

def _picture_bytes(report: Report, folder: Path | None):  # noqa: C901 (a branch per address kind)
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
    raise refuse(path, "not UTF-8 text" + (" (nor the character set it names)"
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
    data = _read_bytes(source)
    report = Report()
    html_text, folder = _html(source, data, accept_changes, report)
    try:
        converted = convert(html_text, _picture_bytes(report, folder))
    except ValueError as exc:
        raise refuse(source, str(exc)) from None
    except RecursionError:
        raise refuse(source, "the document is nested too deeply to read") from None
    report.lost += converted.lost
    if not any(b.kind in ("paragraph", "list", "table") for b in converted.blocks):
        raise refuse(source, "no text found to import")
    return _finish(library, root, source, topic_id, lang, converted, report, today)


def _read_bytes(source: Path) -> bytes:
    try:
        size = source.stat().st_size
        if not source.is_file():
            raise ImportRefused(f"{source}: not a file")
        if size > MAX_IMPORT_BYTES:
            raise refuse(source, f"{size / 1024 / 1024:.0f} MB, more than the "
                                 f"{MAX_IMPORT_BYTES // 1024 // 1024} MB a handout may be")
        return source.read_bytes()
    except OSError as exc:
        raise ImportRefused(f"{source}: cannot be read ({exc.strerror})") from None


def _html(source: Path, data: bytes, accept_changes: bool,
          report: Report) -> tuple[str, Path | None]:
    """(the handout as HTML, the folder its pictures may be in, None for a Word file)."""
    suffix = source.suffix.lower()
    if suffix in (".docx", ".docm", ".doc", ".dotx"):
        word = read_docx(source, data, accept_changes)
        report.word_pictures = word.pictures
        report.lost += word.lost
        report.notes += word.notes
        return word.html, None
    if suffix not in (".html", ".htm", ".md", ".markdown"):
        raise ImportRefused(f"{source.name}: import reads Word (.docx), HTML (.html, .htm) "
                            "and Markdown (.md) files")
    if data.startswith(OLE_MAGIC) or data.startswith(b"PK\x03\x04"):
        raise refuse(source, f"not a {suffix} text file (it is a packaged document)")
    text = _decode(source, data, html=suffix in (".html", ".htm"))
    if suffix in (".md", ".markdown"):
        return _markdown_html(source, text), source.parent
    return text, source.parent


def _markdown_html(source: Path, text: str) -> str:
    from handoutkit.content.markdown import MARKDOWN

    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)  # a header of its own
    # A topic file's section ids (`## Title {#id}`): the import gives its own.
    text = re.sub(r"^(#{1,6}[ \t].*?)[ \t]*\{[^{}\n]*\}[ \t]*$", r"\1", text,
                  flags=re.M)
    try:
        return MARKDOWN.render(text)
    except Exception:  # noqa: BLE001 - markdown-it's limits on hostile input
        raise refuse(source, "the Markdown cannot be read (nested too deeply?)") \
            from None


def _finish(library, root: Path, source: Path, topic_id: str, lang: str,
            converted: Converted, report: Report, today: dt.date) -> Report:
    picture_names = [f"{topic_id}-{number}.{_extension(picture.data)}"
                     for number, picture in enumerate(converted.pictures, 1)]
    words = mental_health_words(" ".join(b.text for b in converted.blocks), lang)
    crisis, crisis_note = _crisis(library, lang, words, report)
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
        raise refuse(source, f"the converted topic cannot be read ({exc})") from None
    for picture, name in zip(converted.pictures, picture_names, strict=True):
        if not picture.alt:
            report.notes.append(f"picture images/{name} ({picture.where}) has no description: "
                                "replace the TODO (lint reports it as an error until then)")
    _measure(library, topic, report)
    written = _write(root, target, text, converted, picture_names)
    history.keep(root, topic, text)  # for `diff` against the version first imported
    report.topic, report.path, report.pictures = topic, target, written
    return report


def _extension(data: bytes) -> str:
    return next(ext for magic, (_, ext) in PICTURE_TYPES.items() if data.startswith(magic))


def _crisis(library: Library, lang: str, words: list[str],
            report: Report) -> tuple[CrisisBlock | None, str]:
    """(the standard crisis block to add, the note to put before it in the topic), for a
    handout that speaks of `words`."""
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
    return crisis, crisis_note


def _write(root: Path, target: Path, text: str, converted: Converted,
           picture_names: list[str]) -> list[Path]:
    """Written last, pictures first: a topic never points at a picture not yet there."""
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
    return written


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
