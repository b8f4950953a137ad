"""What changed in a topic between two versions, section by section and word by word: as
text for the terminal (git's word-diff marks: [-deleted-] {+added+}) and as a PDF for the
review committee (deleted words struck through, added ones underlined, with the two
versions' dates)."""

from __future__ import annotations

import datetime as dt
import difflib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from handoutkit.content.header import parse_metadata
from handoutkit.content.library import Library
from handoutkit.errors import HandoutsError

from . import history
from .review import sections_of
from .topicfile import read_text, split


class DiffError(HandoutsError):
    """Versions of a topic that cannot be compared as asked."""


@dataclass(frozen=True)
class Version:
    label: str  # "version 1.2 (reviewed 2026-11-30 by Dana Lee, MD)"
    version: str
    updated: str
    text: str


@dataclass(frozen=True)
class SectionDiff:
    id: str
    state: str  # changed | added | removed
    ops: tuple[tuple[str, str], ...]  # (" " | "-" | "+", words)


@dataclass(frozen=True)
class TopicDiff:
    topic: str
    lang: str
    old: Version
    new: Version
    sections: tuple[SectionDiff, ...]
    unchanged: tuple[str, ...]


def _version_of(text: str, path: Path, label: str) -> Version:
    header, _ = split(text, path)
    meta = parse_metadata(header, path)
    return Version(label, meta["version"], meta["updated"].isoformat(), text)


def resolve(library: Library, topic_id: str, lang: str, which: str) -> Version:
    """A version of a topic: 'current', a version number kept in the history, or a file."""
    topic = library.topic(topic_id, lang)
    if which == "current" or which == topic.version and not Path(which).is_file():
        return _version_of(read_text(topic.path), topic.path, f"version {topic.version} "
                           "(current)")
    candidate = Path(which)
    if candidate.is_file():
        return _version_of(read_text(candidate), topic.path, str(candidate))
    kept = history.by_version(library.roots, topic_id, lang, which)
    if kept is None:
        raise DiffError(f"no copy of version {which} of {topic_id} ({lang}) is kept in the "
                        "library's history folder (give a file instead)")
    return _version_of(read_text(kept), topic.path, f"version {which}")


def since_review(library: Library, topic_id: str, lang: str) -> tuple[Version, Version]:
    topic = library.topic(topic_id, lang)
    if not topic.review_digest:
        raise DiffError(f"{topic_id} ({lang}) has no review on record ('handouts review' "
                        "records one)")
    kept = history.by_digest(library.roots, topic_id, lang,
                             topic.review_digest.removeprefix("sha256:"))
    if kept is None:
        raise DiffError(f"no copy of the version of {topic_id} ({lang}) reviewed on "
                        f"{topic.reviewed_on} is kept in the library's history folder")
    old = _version_of(read_text(kept), topic.path,
                      f"reviewed on {topic.reviewed_on} by {topic.reviewed_by}")
    return old, resolve(library, topic_id, lang, "current")


def compare(topic_id: str, lang: str, old: Version, new: Version, path: Path) -> TopicDiff:
    before, after = sections_of(old.text, path), sections_of(new.text, path)
    changed, unchanged = [], []
    for section_id in list(after) + [s for s in before if s not in after]:
        a, b = before.get(section_id), after.get(section_id)
        if a == b:
            unchanged.append(section_id)
            continue
        state = "added" if a is None else "removed" if b is None else "changed"
        changed.append(SectionDiff(section_id, state, tuple(_word_ops(a or "", b or ""))))
    return TopicDiff(topic_id, lang, old, new, tuple(changed), tuple(unchanged))


def _words(text: str) -> list[str]:
    return re.findall(r"\S+|\n", text)


def _word_ops(old: str, new: str) -> list[tuple[str, str]]:
    a, b = _words(old), _words(new)
    ops = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            ops.append((" ", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            ops.append(("-", " ".join(a[i1:i2])))
        if j2 > j1:
            ops.append(("+", " ".join(b[j1:j2])))
    return ops


def as_text(diff: TopicDiff) -> str:
    lines = [f"{diff.topic} ({diff.lang}): {diff.old.label}, updated {diff.old.updated} -> "
             f"{diff.new.label}, updated {diff.new.updated}"]
    if not diff.sections:
        lines.append("No changes.")
    for section in diff.sections:
        lines.append("")
        lines.append(f"== {section.id}: {section.state}")
        words = []
        for op, text in section.ops:
            text = text.replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n")
            words.append(text if op == " " else f"[-{text}-]" if op == "-" else f"{{+{text}+}}")
        lines.append(" ".join(words).replace(" \n", "\n").replace("\n ", "\n"))
    if diff.unchanged:
        lines.append("")
        lines.append(f"Unchanged: {', '.join(diff.unchanged)}")
    return "\n".join(lines) + "\n"


PDF_CSS = """
@page { size: letter; margin: 18mm; @bottom-right { content: counter(page) " / "
  counter(pages); font-size: 9pt; } }
body { font-family: "Atkinson Hyperlegible", sans-serif; font-size: 11pt; line-height: 1.45; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 13pt; margin: 14pt 0 4pt; }
p.versions { margin: 0 0 8pt; } .state { font-weight: normal; font-size: 10pt; }
del { text-decoration: line-through; color: #8a1c1c; }
ins { text-decoration: underline; color: #1d5e20; }
div.text { white-space: pre-wrap; }
p.key { font-size: 9.5pt; }
"""


def as_html(diff: TopicDiff, today: dt.date) -> str:
    esc = html.escape
    parts = [f"<h1>What changed: {esc(diff.topic)} ({esc(diff.lang)})</h1>",
             f'<p class="versions">Before: {esc(diff.old.label)}, updated '
             f"{esc(diff.old.updated)}.<br>After: {esc(diff.new.label)}, updated "
             f"{esc(diff.new.updated)}.<br>Printed {today.isoformat()}.</p>",
             '<p class="key"><del>Struck-through words</del> were deleted; '
             "<ins>underlined words</ins> were added.</p>"]
    if not diff.sections:
        parts.append("<p>No changes.</p>")
    for section in diff.sections:
        parts.append(f'<h2>{esc(section.id)} <span class="state">({esc(section.state)})'
                     "</span></h2>")
        words = []
        for op, text in section.ops:
            text = esc(text).replace(" \n ", "\n").replace("\n ", "\n").replace(" \n", "\n")
            words.append(text if op == " " else f"<del>{text}</del>" if op == "-"
                         else f"<ins>{text}</ins>")
        parts.append(f'<div class="text">{" ".join(words)}</div>')
    if diff.unchanged:
        parts.append(f"<p>Unchanged: {esc(', '.join(diff.unchanged))}.</p>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>What changed: {esc(diff.topic)}</title></head><body>"
            + "".join(parts) + "</body></html>")


def as_pdf(diff: TopicDiff, library: Library, today: dt.date) -> bytes:
    """The diff as a PDF, in the declared fonts only (fonts.py: Atkinson Hyperlegible,
    Noto for every other script), never the host's."""
    from handoutkit.content import fonts

    font_set = fonts.find_fonts(library.roots)
    font_set.activate()  # before WeasyPrint reads fontconfig's configuration
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    faces = "".join(
        f'@font-face {{ font-family: "{fonts.LATIN_FAMILY}"; src: url("{path.as_uri()}"); '
        f"font-weight: {weight}; font-style: {style}; }}"
        for path, (_, weight, style) in zip(font_set.latin, fonts.LATIN_FACES, strict=True))
    stack = ", ".join(f'"{family}"' for family in fonts.family_stack(diff.lang))
    config = FontConfiguration()
    sheet = CSS(string=faces + PDF_CSS + f"body {{ font-family: {stack}; }}",
                font_config=config)
    return HTML(string=as_html(diff, today)).write_pdf(stylesheets=[sheet],
                                                       font_config=config)
