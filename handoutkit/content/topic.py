"""The reader: one topic file (YAML header + Markdown body) becomes one `Topic`.

The file format is documented for content owners in docs/topic-format.md.
Errors name the file and, where there is one, the line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from markdown_it.token import Token

from ..errors import LibraryError
from .header import ID_RE, LANG_RE, field_line, parse_metadata, split_front_matter
from .markdown import (
    MARKDOWN,
    MAX_DEPTH_TEXT,
    MAX_WORD,
    WORD_RE,
    TooDeep,
    check_words,
    heading_attrs,
    mark_terms,
)

if TYPE_CHECKING:
    from ..cache import Cache

COMMENT_RE = re.compile(r"<!--.*?-->", re.S)

# A topic is a page or a few: far larger files are mistakes (or attacks) that would take
# minutes and gigabytes to lay out. HANDOUTS_MAX_TOPIC_BYTES changes the size limit.
MAX_TOPIC_BYTES = 2 * 1024 * 1024
MAX_SECTIONS = 500

__all__ = ["ID_RE", "LANG_RE", "Image", "Section", "Topic", "load_topic", "parse_topic"]


@dataclass(frozen=True)
class Section:
    """One level-2 section of a topic, addressable by its id."""

    id: str
    title: str
    required: bool
    line: int
    tokens: tuple[Token, ...] = field(repr=False, compare=False)

    def html(self, resolve_image: Callable[[str], str] | None = None,
             strings: dict | None = None, crisis_lines: tuple[str, ...] = (),
             anchor: str = "") -> str:
        """The section body as HTML (without its heading); `strings` (the layouts' wording
        in the topic's language) gives the titles of its boxes, `crisis_lines` (HTML) the
        clinic's own numbers printed at the end of its crisis block, `anchor` (the
        section's id in the document) the names of its fields to fill in."""
        env = {"resolve_image": resolve_image, "strings": strings or {},
               "crisis_lines": crisis_lines, "field_prefix": anchor or self.id}
        return MARKDOWN.renderer.render(list(self.tokens), MARKDOWN.options, env)

    @property
    def has_emergency(self) -> bool:
        """Whether the section holds an ::: emergency callout (the crisis block)."""
        return any(t.type == "container_emergency_open" for t in self.tokens)


@dataclass(frozen=True)
class Image:
    """A picture a topic shows: its source in the library, its description, its line, and
    its caption (empty for a picture without one)."""

    src: str
    alt: str
    line: int
    caption: str = ""


@dataclass(frozen=True)
class Topic:
    """A topic in one language: metadata and its sections, in order."""

    path: Path
    id: str
    lang: str
    title: str
    level: str
    version: str
    updated: dt.date
    summary: str
    credit: str
    related: tuple[str, ...]
    codes: tuple[str, ...]
    mental_health: bool
    reviewed_by: str | None
    review_due: dt.date | None
    url: str | None
    intro: Section | None
    sections: tuple[Section, ...]
    images: tuple[Image, ...]
    sha256: str
    # A translation's source: "en 1.0" (its language and the version translated).
    translated_from: str | None = None
    # Where the facts come from: public guidance with the year ("NIMH: Depression (2024)").
    sources: tuple[str, ...] = ()
    # A translation imported with `translate import --force` against a changed source.
    translation_stale: bool = False
    # The last clinical review (`handouts review`): its day (YYYY-MM-DD) and the digest of
    # the content reviewed ("sha256:...").
    reviewed_on: str | None = None
    review_digest: str | None = None
    # Words patients use for the topic ("can't sleep", "drinking"), for search.
    keywords: tuple[str, ...] = ()

    def section(self, section_id: str) -> Section | None:
        """The section with this id, or None (a SPEC naming an unknown one is refused by
        select.py, with the ids there are)."""
        return next((s for s in self.sections if s.id == section_id), None)

    @property
    def section_ids(self) -> list[str]:
        """Every section id, in the topic's order."""
        return [s.id for s in self.sections]


def slugify(text: str) -> str:
    """A section id from heading words: 'What is CBT?' -> 'what-is-cbt'."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _images(tokens: list[Token]) -> list[Image]:
    found = []
    for token in tokens:
        for child in token.children or []:
            if child.type == "image":
                line = token.map[0] + 1 if token.map else 0
                alt = "".join(c.content for c in child.children or [])
                caption = " ".join((child.attrGet("title") or "").split())
                found.append(Image(child.attrGet("src") or "", alt.strip(), line, caption))
    return found


def max_topic_bytes() -> int:
    """The largest topic file read (HANDOUTS_MAX_TOPIC_BYTES, default 2 MB)."""
    value = os.environ.get("HANDOUTS_MAX_TOPIC_BYTES", "")
    return int(value) if value.isdigit() else MAX_TOPIC_BYTES


def parse_topic(text: str, path: Path) -> Topic:
    """Parse a topic file's text; `path` is used for error messages and the file name check."""
    # A byte order mark (some Windows editors write one) is not part of the text.
    header, body, body_line = split_front_matter(text.removeprefix("\ufeff"), path)
    meta = parse_metadata(header, path)
    expected = f"{meta['id']}.{meta['lang']}.md"
    if path.name != expected:
        raise LibraryError(
            f"{path}: the header says id '{meta['id']}' and lang '{meta['lang']}', "
            f"so the file must be named {expected}"
        )
    tokens = _body_tokens(body, path, body_line)
    offset = body_line - 1
    intro_tokens, headed = _group_by_heading(tokens, path, offset)
    intro = Section("intro", "", True, body_line, tuple(intro_tokens)) if intro_tokens else None
    sections = _sections(headed, path, offset)
    check_words(tokens, path, offset)
    for name in ("title", "summary", "credit", "reviewed_by"):
        match = WORD_RE.search(meta[name] or "")
        if match:
            raise LibraryError(f"{path}:{field_line(header, name)}: '{name}' has a word of "
                               f"{len(match.group(0)):,} characters (at most {MAX_WORD})")
    return Topic(
        path=path,
        intro=intro,
        sections=tuple(sections),
        images=tuple(
            Image(i.src, i.alt, i.line + offset, i.caption) for i in _images(tokens)
        ),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        **meta,
    )


def _body_tokens(body: str, path: Path, body_line: int) -> list[Token]:
    """The body's Markdown tokens; editors' notes (<!-- ... -->) removed, lines kept."""
    body = COMMENT_RE.sub(lambda m: "\n" * m.group(0).count("\n"), body)
    try:
        tokens = MARKDOWN.parse(body)
    except TooDeep as exc:
        raise LibraryError(
            f"{path}:{exc.line + body_line}: lists, quotes or callouts are nested too deeply "
            f"here (at most {MAX_DEPTH_TEXT}); the rest of the topic would be lost"
        ) from None
    except RecursionError:
        raise LibraryError(f"{path}: the Markdown is nested too deeply to read") from None
    mark_terms(tokens)
    return tokens


def _line(token: Token, offset: int) -> int:
    return token.map[0] + 1 + offset if token.map else offset + 1


def _group_by_heading(tokens: list[Token], path: Path, offset: int):
    """(intro tokens, [(heading token, its inline token, body tokens)]) for '## ' sections."""
    headings = sum(1 for t in tokens if t.type == "heading_open" and t.tag == "h2")
    if headings > MAX_SECTIONS:
        raise LibraryError(f"{path}: {headings} sections, more than the {MAX_SECTIONS} a topic "
                           "may have; split it into several topics")
    intro: list[Token] = []
    groups: list[tuple[Token, Token, list[Token]]] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open" and token.tag == "h1":
            raise LibraryError(
                f"{path}:{_line(token, offset)}: do not write a '# ' title; the layout prints "
                "the title from the header (sections start with '## ')"
            )
        if token.type == "heading_open" and token.tag == "h2":
            groups.append((token, tokens[index + 1], []))
            index += 3
            continue
        (groups[-1][2] if groups else intro).append(token)
        index += 1
    return intro, groups


def _sections(groups, path: Path, offset: int) -> list[Section]:
    """One Section per heading: its id (given, or made from its words) checked unique."""
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for heading, inline, body_tokens in groups:
        line = _line(heading, offset)
        section_id, required = heading_attrs(inline, f"{path}:{line}")
        title = inline.content.strip()
        if not title:
            raise LibraryError(f"{path}:{line}: a section heading has no words")
        section_id = section_id or slugify(title)
        if not section_id or section_id == "intro":
            raise LibraryError(f"{path}:{line}: give this section an id, like {{#what-is}}")
        if section_id in seen:
            raise LibraryError(
                f"{path}:{line}: section id '{section_id}' is already used on line "
                f"{seen[section_id]}"
            )
        seen[section_id] = line
        sections.append(Section(section_id, title, required, line, tuple(body_tokens)))
    if not sections:
        raise LibraryError(f"{path}: the topic has no sections (headings starting with '## ')")
    return sections


def load_topic(path: Path, cache: Cache | None = None) -> Topic:
    """Read and parse one topic file.

    With a cache, a file parsed before (same name, same bytes, same tool version) is read
    back from it instead: parsing a library's Markdown is most of a warm packet's start-up.
    """
    try:
        size, limit = path.stat().st_size, max_topic_bytes()
        if size > limit:
            raise LibraryError(f"{path}: {size:,} bytes, more than the {limit:,} a topic file "
                               "may have (HANDOUTS_MAX_TOPIC_BYTES)")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LibraryError(f"{path}: the file is not UTF-8 text") from None
    except OSError as exc:
        raise LibraryError(f"{path}: cannot be read ({exc.strerror})") from None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    memo_key = (str(path), digest)
    if memo_key in _PARSED:
        return _PARSED[memo_key]
    topic = _load_text(text, path, digest, cache)
    if len(_PARSED) >= _PARSED_MAX:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[memo_key] = topic
    return topic


# Topics parsed in this process, by file name and content: a long-lived process (the
# service's render workers) reads the library again for each request, so that edits show
# at once, but parses a file again only when its bytes change. Topics are immutable.
_PARSED: dict[tuple[str, str], Topic] = {}
_PARSED_MAX = 512


def _load_text(text: str, path: Path, digest: str, cache: Cache | None) -> Topic:
    """Parse a topic's text, or read it back from the cache when parsed before."""
    if cache is None:
        return parse_topic(text, path)
    from ..cache import make_key

    key = make_key("topic", path.name, digest)
    stored = cache.get(key)
    if stored is not None:
        try:
            return topic_from_json(json.loads(stored), path)
        except (ValueError, KeyError, TypeError):
            pass  # an entry this version cannot read: parse again
    topic = parse_topic(text, path)
    try:
        cache.put(key, json.dumps(topic_to_json(topic)).encode("utf-8"))
    except (TypeError, ValueError):
        pass  # a token a plugin gave data JSON cannot hold: parse it each time
    return topic


def topic_to_json(topic: Topic) -> dict:
    """The topic as JSON data (its path left out: the reader supplies it)."""
    data = {f.name: getattr(topic, f.name) for f in fields(Topic) if f.name != "path"}
    data["updated"] = topic.updated.isoformat()
    data["review_due"] = topic.review_due.isoformat() if topic.review_due else None
    data["intro"] = _section_to_json(topic.intro) if topic.intro else None
    data["sections"] = [_section_to_json(s) for s in topic.sections]
    data["images"] = [[i.src, i.alt, i.line, i.caption] for i in topic.images]
    return data


def topic_from_json(data: dict, path: Path) -> Topic:
    """A Topic from its cached JSON form (see `topic_to_json`)."""
    data = dict(data)
    data["updated"] = dt.date.fromisoformat(data["updated"])
    data["review_due"] = dt.date.fromisoformat(data["review_due"]) if data["review_due"] else None
    data["intro"] = _section_from_json(data["intro"]) if data["intro"] else None
    data["sections"] = tuple(_section_from_json(s) for s in data["sections"])
    data["images"] = tuple(Image(*i) for i in data["images"])
    data["related"], data["codes"] = tuple(data["related"]), tuple(data["codes"])
    data["sources"] = tuple(data.get("sources", ()))
    data["keywords"] = tuple(data.get("keywords", ()))
    return Topic(path=path, **data)


def _section_to_json(section: Section) -> dict:
    return {"id": section.id, "title": section.title, "required": section.required,
            "line": section.line, "tokens": [t.as_dict() for t in section.tokens]}


def _section_from_json(data: dict) -> Section:
    return Section(data["id"], data["title"], data["required"], data["line"],
                   tuple(Token.from_dict(t) for t in data["tokens"]))
