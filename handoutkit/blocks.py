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

from markdown_it.common.utils import escapeHtml

BLOCKS = ("emergency", "tip", "warning", "key-points")
# The strings.toml key of each titled block's title, and the English title used when a
# section is rendered without the layouts' wording (tests, previews of one section).
TITLE_KEYS = {"tip": "tip", "warning": "warning", "key-points": "key_points"}
DEFAULT_TITLES = {"tip": "Tip", "warning": "Caution", "key-points": "Remember"}
KEY_POINTS = 3  # a key-points box holds exactly this many short points
MAX_POINT_WORDS = 20  # a point a reader can repeat back is one short sentence


def block_title(name: str, strings: dict | None) -> str | None:
    """The title a block prints in the page's language, or None for an untitled block."""
    key = TITLE_KEYS.get(name)
    if key is None:
        return None
    return (strings or {}).get(key) or DEFAULT_TITLES[name]


def block_renderer(name: str):
    """The markdown-it render rule of a `::: name` block."""
    role = "alert" if name == "emergency" else "note"

    def render(self, tokens, idx, options, env):
        if tokens[idx].nesting != 1:
            return "</div>\n"
        title = block_title(name, env.get("strings"))
        head = f'<h3 class="callout-title">{escapeHtml(title)}</h3>\n' if title else ""
        return f'<div class="callout callout-{name}" role="{role}">\n{head}'

    return render
