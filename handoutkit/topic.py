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
from typing import TYPE_CHECKING, Any, Callable

import yaml
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from .errors import LibraryError

if TYPE_CHECKING:
    from .cache import Cache

CALLOUTS = ("emergency", "tip")
LEVELS = ("basics", "in-depth")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
LANG_RE = re.compile(r"^[a-z]{2}$")
VERSION_RE = re.compile(r"^\d+(?:\.\d+){0,2}$")
# `## Heading {#id .required}`: the attribute block at the end of a section heading.
HEADING_ATTRS_RE = re.compile(r"\s*\{([^{}]*)\}\s*$")
COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
TERM_DASHES = ("–", "—", "-")

# Lists, quotes and callouts may nest this deep (each list level counts twice: the list and
# its item). markdown-it silently drops the rest of a document past its nesting limit, so
# the limit is raised above it and a deeper topic is refused with its line.
MAX_NESTING = 64
MAX_DEPTH_TEXT = "30 levels"

# A topic is a page or a few: far larger files are mistakes (or attacks) that would take
# minutes and gigabytes to lay out. HANDOUTS_MAX_TOPIC_BYTES changes the size limit.
MAX_TOPIC_BYTES = 2 * 1024 * 1024
MAX_SECTIONS = 500
# No word of a handout is this long; shorter long words (web addresses) wrap at the margin.
MAX_WORD = 300
WORD_RE = re.compile(rf"\S{{{MAX_WORD + 1},}}")

REQUIRED_FIELDS = ("id", "lang", "title", "level", "version", "updated", "summary", "credit")
OPTIONAL_FIELDS = ("related", "codes", "mental_health", "reviewed_by", "review_due", "url",
                   "sources")


class TooDeep(Exception):
    """The Markdown nests deeper than MAX_NESTING; `line` is 0-based within the body."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line


def _guard_nesting(md: MarkdownIt) -> None:
    """Make markdown-it refuse, rather than silently skip, what lies past its nesting limit."""
    tokenize = md.block.tokenize

    def checked(state, startLine, endLine):
        if state.level >= md.options["maxNesting"]:
            line = state.skipEmptyLines(startLine)
            if line < endLine:
                raise TooDeep(line)
        return tokenize(state, startLine, endLine)

    md.block.tokenize = checked


def _markdown() -> MarkdownIt:
    # Raw HTML is off: a topic cannot inject markup, scripts or resources.
    md = MarkdownIt("commonmark", {"html": False, "typographer": False,
                                   "maxNesting": MAX_NESTING})
    _guard_nesting(md)
    md.enable("table")
    # Let every picture reference reach the sandbox, which refuses it by name, instead of
    # silently printing it as text; scripts in links stay refused.
    md.validateLink = lambda url: not re.match(r"\s*(javascript|vbscript):", url, re.I)
    for name in CALLOUTS:
        md.use(container_plugin, name=name, render=_callout_renderer(name))
    md.add_render_rule("image", _render_image)
    md.core.ruler.push("figures", _figures)
    return md


def _figures(state) -> None:
    """A paragraph holding only a picture with a title becomes a figure: the title is its
    caption (`![alt](images/x.svg "Caption")`), printed under it and kept on its page."""
    tokens = state.tokens
    for i in range(len(tokens) - 2):
        opening, inline, closing = tokens[i], tokens[i + 1], tokens[i + 2]
        if opening.type != "paragraph_open" or closing.type != "paragraph_close":
            continue
        children = [c for c in inline.children or []
                    if not (c.type == "text" and not c.content.strip())]
        if len(children) == 1 and children[0].type == "image" and children[0].attrGet("title"):
            opening.hidden = closing.hidden = True
            children[0].meta["figure"] = True


def _callout_renderer(name: str):
    def render(self, tokens, idx, options, env):
        if tokens[idx].nesting == 1:
            role = ' role="note"' if name == "tip" else ' role="alert"'
            return f'<aside class="callout callout-{name}"{role}>\n'
        return "</aside>\n"

    return render


def _render_image(self, tokens, idx, options, env):
    # A copy: the topic's tokens are kept (and rendered again), so they keep their own src.
    token = tokens[idx].copy(attrs=dict(tokens[idx].attrs))
    resolve: Callable[[str], str] | None = env.get("resolve_image")
    src = token.attrGet("src") or ""
    if resolve is not None:
        token.attrSet("src", resolve(src))
    if not token.meta.get("figure"):
        return self.image([token], 0, options, env)
    caption = escapeHtml(token.attrGet("title") or "")
    token.attrs.pop("title", None)
    image = self.image([token], 0, options, env)
    return (f'<figure class="picture">{image}'
            f"<figcaption>{caption}</figcaption></figure>\n")


MARKDOWN = _markdown()


@dataclass(frozen=True)
class Section:
    """One level-2 section of a topic, addressable by its id."""

    id: str
    title: str
    required: bool
    line: int
    tokens: tuple[Token, ...] = field(repr=False, compare=False)

    def html(self, resolve_image: Callable[[str], str] | None = None) -> str:
        """The section body as HTML (without its heading)."""
        env = {"resolve_image": resolve_image} if resolve_image else {}
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

    def section(self, section_id: str) -> Section | None:
        """The section with this id; SectionNotFound lists the ids there are."""
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


def split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """Return (header, body, line number where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise LibraryError(f"{path}:1: a topic must start with a '---' line and its header")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise LibraryError(f"{path}:1: the header is not closed by a '---' line")


def _field_line(header: str, name: str) -> int:
    match = re.search(rf"^{re.escape(name)}\s*:", header, re.M)
    # +1 for the opening '---' line, +1 because lines count from one.
    return header.count("\n", 0, match.start()) + 2 if match else 1


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise LibraryError(f"{where}: '{value}' is not a date (write YYYY-MM-DD)") from None


def _as_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise LibraryError(f"{where}: write a list in square brackets, like [a, b]")
    return tuple(str(v).strip() for v in value)


class _HeaderLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when built in
    """Safe YAML that keeps dates as text, so a bad date is reported with its line."""


_HeaderLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_aliases(header: str, path: Path) -> None:
    """A header may not use YAML anchors and aliases (`&a`, `*a`): a few hundred bytes of
    nested aliases expand to gigabytes. Events are read without building anything."""
    for event in yaml.parse(header, Loader=_HeaderLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 2 if event.start_mark else 1
            raise LibraryError(f"{path}:{line}: the header may not use YAML anchors or "
                               "aliases (& and *); write each value out")


def parse_metadata(header: str, path: Path) -> dict[str, Any]:
    """Validate the YAML header; errors name the file and line."""
    try:
        if "&" in header or "*" in header:
            _refuse_aliases(header, path)
        data = yaml.load(header, Loader=_HeaderLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise LibraryError(f"{path}:{line}: the header is not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise LibraryError(f"{path}:2: the header must be 'field: value' lines")

    def where(name: str) -> str:
        return f"{path}:{_field_line(header, name)}: '{name}'"

    for name in data:
        if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            raise LibraryError(f"{where(name)} is not a known field")
    for name in REQUIRED_FIELDS:
        if data.get(name) in (None, ""):
            raise LibraryError(f"{path}:1: the header has no '{name}'")

    meta: dict[str, Any] = {}
    for name in ("id", "lang", "title", "level", "summary", "credit"):
        meta[name] = str(data[name]).strip()
    if not ID_RE.match(meta["id"]):
        raise LibraryError(f"{where('id')} must be lower-case letters, digits and hyphens")
    if not LANG_RE.match(meta["lang"]):
        raise LibraryError(f"{where('lang')} must be a two-letter language code such as en")
    if meta["level"] not in LEVELS:
        raise LibraryError(f"{where('level')} must be one of: {', '.join(LEVELS)}")
    version = data["version"]
    if isinstance(version, float):
        raise LibraryError(f"{where('version')} must be written in quotes, like \"1.0\"")
    meta["version"] = str(version).strip()
    if not VERSION_RE.match(meta["version"]):
        raise LibraryError(f"{where('version')} must look like \"1.0\"")
    meta["updated"] = _as_date(data["updated"], where("updated"))
    meta["review_due"] = (
        _as_date(data["review_due"], where("review_due")) if data.get("review_due") else None
    )
    meta["related"] = _as_list(data.get("related"), where("related"))
    meta["codes"] = _as_list(data.get("codes"), where("codes"))
    # Where the facts (and the steps a picture shows) come from: for reviewers, not printed.
    _as_list(data.get("sources"), where("sources"))
    mental_health = data.get("mental_health", False)
    if not isinstance(mental_health, bool):
        raise LibraryError(f"{where('mental_health')} must be true or false")
    meta["mental_health"] = mental_health
    meta["reviewed_by"] = str(data["reviewed_by"]).strip() if data.get("reviewed_by") else None
    meta["url"] = str(data["url"]).strip() if data.get("url") else None
    if meta["url"] and not meta["url"].startswith("https://"):
        raise LibraryError(f"{where('url')} must start with https://")
    return meta


def _heading_attrs(inline: Token, where: str) -> tuple[str | None, bool]:
    """Strip a trailing `{#id .required}` from a heading; return (id, required)."""
    match = HEADING_ATTRS_RE.search(inline.content)
    if not match:
        return None, False
    section_id, required = None, False
    for part in match.group(1).split():
        if part.startswith("#") and ID_RE.match(part[1:]):
            section_id = part[1:]
        elif part == ".required":
            required = True
        else:
            raise LibraryError(
                f"{where}: '{part}' in the heading's braces: write {{#id}} and/or {{.required}}"
            )
    inline.content = inline.content[: match.start()]
    # The inline children hold the same text: trim the last text child to match.
    if inline.children:
        last = inline.children[-1]
        if last.type == "text":
            last.content = HEADING_ATTRS_RE.sub("", last.content)
    return section_id, required


def _mark_terms(tokens: list[Token]) -> None:
    """Give `- **Term** – explanation` list items the class 'term'."""
    for index, token in enumerate(tokens):
        if token.type != "list_item_open" or index + 2 >= len(tokens):
            continue
        inline = tokens[index + 2]
        children = [c for c in inline.children or [] if not (c.type == "text" and not c.content)]
        if inline.type != "inline" or len(children) < 4 or children[0].type != "strong_open":
            continue
        close = next((i for i, c in enumerate(children) if c.type == "strong_close"), None)
        if close is None or close + 1 >= len(children):
            continue
        after = children[close + 1]
        if after.type == "text" and after.content.lstrip().startswith(TERM_DASHES):
            token.attrSet("class", "term")


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


def _check_words(tokens: list[Token], path: Path, offset: int) -> None:
    """Refuse a word too long to print on any line (it would run off the page)."""
    for token in tokens:
        texts = [token.content] if token.type in ("code_block", "fence") else [
            c.content for c in token.children or [] if c.type in ("text", "code_inline")]
        for text in texts:
            match = WORD_RE.search(text)
            if match:
                line = token.map[0] + 1 + offset if token.map else offset + 1
                raise LibraryError(
                    f"{path}:{line}: a word of {len(match.group(0)):,} characters (at most "
                    f"{MAX_WORD}) cannot be printed; break it up")


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

    # Editors' notes (<!-- ... -->) never print; newlines are kept so lines still count.
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
    _mark_terms(tokens)
    offset = body_line - 1

    def line_of(token: Token) -> int:
        return token.map[0] + 1 + offset if token.map else body_line

    headings = sum(1 for t in tokens if t.type == "heading_open" and t.tag == "h2")
    if headings > MAX_SECTIONS:
        raise LibraryError(f"{path}: {headings} sections, more than the {MAX_SECTIONS} a topic "
                           "may have; split it into several topics")
    groups: list[tuple[Token | None, Token | None, list[Token]]] = [(None, None, [])]
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.type == "heading_open" and token.tag == "h1":
            raise LibraryError(
                f"{path}:{line_of(token)}: do not write a '# ' title; the layout prints the "
                "title from the header (sections start with '## ')"
            )
        if token.type == "heading_open" and token.tag == "h2":
            groups.append((token, tokens[index + 1], []))
            index += 3
            continue
        groups[-1][2].append(token)
        index += 1

    intro_tokens = groups[0][2]
    intro = (
        Section("intro", "", True, body_line, tuple(intro_tokens)) if intro_tokens else None
    )
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for heading, inline, body_tokens in groups[1:]:
        line = line_of(heading)
        section_id, required = _heading_attrs(inline, f"{path}:{line}")
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
    _check_words(tokens, path, offset)
    for name in ("title", "summary", "credit", "reviewed_by"):
        match = WORD_RE.search(meta[name] or "")
        if match:
            raise LibraryError(f"{path}:{_field_line(header, name)}: '{name}' has a word of "
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
    if cache is None:
        return parse_topic(text, path)
    from .cache import make_key

    key = make_key("topic", path.name, hashlib.sha256(text.encode("utf-8")).hexdigest())
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
    return Topic(path=path, **data)


def _section_to_json(section: Section) -> dict:
    return {"id": section.id, "title": section.title, "required": section.required,
            "line": section.line, "tokens": [t.as_dict() for t in section.tokens]}


def _section_from_json(data: dict) -> Section:
    return Section(data["id"], data["title"], data["required"], data["line"],
                   tuple(Token.from_dict(t) for t in data["tokens"]))
