"""The boxed blocks a topic author writes between `::: name` and `:::` lines: the crisis
block (`emergency`), `tip`, `warning` (medicine and safety cautions), `key-points` (the
"Remember" box of three points a reader can repeat back) and `write-in` (lines and labelled
fields to fill in by hand). docs/topic-format.md describes them for authors.

Each box is a `<div>` (a Div in the PDF's structure tree); a box with a title starts with an
`<h3>` (an H3 in the tree) holding the title in the page's language, from the layouts'
strings.toml. The icon beside a title is a CSS background picture: drawn as an artifact,
never read aloud or extracted as text.
"""

from __future__ import annotations

import re

from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

BLOCKS = ("emergency", "tip", "warning", "key-points", "write-in")
# The strings.toml key of each titled block's title, and the English title used when a
# section is rendered without the layouts' wording (tests, previews of one section).
TITLE_KEYS = {"tip": "tip", "warning": "warning", "key-points": "key_points"}
DEFAULT_TITLES = {"tip": "Tip", "warning": "Caution", "key-points": "Remember"}
KEY_POINTS = 3  # a key-points box holds exactly this many short points
MAX_POINT_WORDS = 20  # a point a reader can repeat back is one short sentence
# A write-in item ends with one `___` per ruled line to write on under its label.
BLANKS_RE = re.compile(r"(?:\s*_{3,})+\s*$")
MAX_LINES = 8


def block_title(name: str, strings: dict | None) -> str | None:
    """The title a block prints in the page's language, or None for an untitled block."""
    key = TITLE_KEYS.get(name)
    if key is None:
        return None
    return (strings or {}).get(key) or DEFAULT_TITLES[name]


def crisis_lines(brand, strings: dict) -> tuple[str, ...]:
    """The clinic's own numbers for a crisis block, as HTML lines in the page's language:
    its after-hours line and its local crisis line (brand `after_hours`, `local_crisis`)."""
    lines = []
    for field in ("after_hours", "local_crisis"):
        number = getattr(brand, field, "") if brand is not None else ""
        if not number:
            continue
        template = escapeHtml(strings.get(field) or "{number}")
        if "{number}" not in template:
            template += " {number}"
        lines.append(template.replace("{number}", f'<bdi dir="ltr">{escapeHtml(number)}</bdi>'))
    return tuple(lines)


def blank_lines(text: str) -> int:
    """How many ruled lines a write-in item asks for: its trailing `___` groups."""
    match = BLANKS_RE.search(text)
    return len(re.findall(r"_{3,}", match.group(0))) if match else 0


def write_in_rule(state) -> None:
    """Inside `::: write-in`, each list item is a label and the lines to write on: the
    `___` at its end go, and the item gets the class its lines print with (`lines-N`, N
    ruled lines under the label). The lines are drawn as the item's background, so they
    are never read aloud."""
    depth = 0
    fields: list[tuple[int, int, str]] = []
    for index, token in enumerate(state.tokens):
        if token.type.startswith("container_write-in"):
            depth += token.nesting
        elif depth and token.type in ("bullet_list_open", "ordered_list_open"):
            token.attrSet("class", "write-in-list")
        elif depth and token.type == "list_item_open":
            inline = next((t for t in state.tokens[index:] if t.type == "inline"), None)
            if inline is None:
                continue
            lines = min(blank_lines(inline.content), MAX_LINES)
            if not lines:
                continue
            inline.content = BLANKS_RE.sub("", inline.content)
            if inline.children and inline.children[-1].type == "text":
                inline.children[-1].content = BLANKS_RE.sub("", inline.children[-1].content)
            token.attrSet("class", f"lines-{lines}")
            close = next(i for i in range(index, len(state.tokens))
                         if state.tokens[i].type == "list_item_close"
                         and state.tokens[i].level == token.level)
            fields.append((close, lines, inline.content.strip()))
    # A field to type in for each item (fillable in the PDF), after its label.
    for close, lines, label in reversed(fields):
        field = Token("write_in_field", "", 0)
        field.meta = {"lines": lines, "label": label}
        state.tokens.insert(close, field)


def render_field(self, tokens, idx, options, env) -> str:
    """A write-in item's field: a text area over its ruled lines, named after the section
    it is in, described by the item's label (what a screen reader says for it)."""
    meta = tokens[idx].meta
    count = env.setdefault("fields", [0])
    count[0] += 1
    name = f"{env.get('field_prefix') or 'write-in'}-{count[0]}"
    label = escapeHtml(meta["label"])
    return (f'<textarea class="write-in-field" name="{escapeHtml(name)}" title="{label}" '
            f'aria-label="{label}" rows="{meta["lines"]}"></textarea>')


def block_renderer(name: str):
    """The markdown-it render rule of a `::: name` block."""
    role = "alert" if name == "emergency" else "note"

    def render(self, tokens, idx, options, env):
        if tokens[idx].nesting != 1:
            lines = env.get("crisis_lines") if name == "emergency" else None
            local = "".join(f"<li>{line}</li>" for line in lines or ())
            return (f'<ul class="crisis-local">{local}</ul>\n' if local else "") + "</div>\n"
        title = block_title(name, env.get("strings"))
        head = f'<h3 class="callout-title">{escapeHtml(title)}</h3>\n' if title else ""
        return f'<div class="callout callout-{name}" role="{role}">\n{head}'

    return render
