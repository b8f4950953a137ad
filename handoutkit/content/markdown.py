"""The Markdown of a topic's body, read with markdown-it: raw HTML off, callouts, figures,
section headings with `{#id .required}`, and limits that refuse what cannot print rather
than lose it silently."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from ..errors import LibraryError
from .blocks import BLOCKS, block_renderer, render_field, write_in_rule
from .header import ID_RE

CALLOUTS = BLOCKS
# `## Heading {#id .required}`: the attribute block at the end of a section heading.
HEADING_ATTRS_RE = re.compile(r"\s*\{([^{}]*)\}\s*$")
TERM_DASHES = ("–", "—", "-")

# Lists, quotes and callouts may nest this deep (each list level counts twice: the list and
# its item). markdown-it silently drops the rest of a document past its nesting limit, so
# the limit is raised above it and a deeper topic is refused with its line.
MAX_NESTING = 64
MAX_DEPTH_TEXT = "30 levels"
# No word of a handout is this long; shorter long words (web addresses) wrap at the margin.
MAX_WORD = 300
WORD_RE = re.compile(rf"\S{{{MAX_WORD + 1},}}")


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
        md.use(container_plugin, name=name, render=block_renderer(name))
    md.add_render_rule("image", _render_image)
    md.core.ruler.push("figures", _figures)
    md.core.ruler.push("empty_corner", _empty_corner)
    md.core.ruler.push("write_in", write_in_rule)
    md.add_render_rule("write_in_field", render_field)
    return md


def _empty_corner(state) -> None:
    """An empty header cell (a tool table's corner: `| | Mon | Tue |`) is a data cell: a
    header that names nothing tells a screen reader nothing (axe: empty-table-header)."""
    tokens = state.tokens
    for i in range(len(tokens) - 2):
        opening, inline, closing = tokens[i], tokens[i + 1], tokens[i + 2]
        if opening.type == "th_open" and inline.type == "inline" and \
                not inline.content.strip() and closing.type == "th_close":
            opening.type, opening.tag = "td_open", "td"
            closing.type, closing.tag = "td_close", "td"


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


def heading_attrs(inline: Token, where: str) -> tuple[str | None, bool]:
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


def mark_terms(tokens: list[Token]) -> None:
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


def check_words(tokens: list[Token], path: Path, offset: int) -> None:
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
