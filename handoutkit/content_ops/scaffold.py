"""Authoring helpers: a new topic from a commented template; a clinic's own library."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from ..content.library import ID_RE_TEXT, Library
from ..content.topic import ID_RE, LANG_RE
from ..errors import LibraryError, OutputError

MAX_ID = 64

TOPIC_TEMPLATE = """\
---
# The header: see docs/topic-format.md for every field. Lines starting with # are notes.
id: {id}
lang: {lang}
title: {title}            # the title printed on the handout
level: basics             # basics (a short sheet) or in-depth
version: "0.1"            # raise it with every change; it prints on every page
updated: {today}
summary: One sentence that says what this handout covers.
related: []               # ids of other topics, like [psychotherapy, insomnia]
codes: []                 # ICD-10-CM codes, like [F41.1] or ranges like [F10-F19]
credit: Written by the {clinic} care team.
mental_health: true       # true: the crisis section below must stay
reviewed_by: Pending clinical review
review_due: {review_due}
---

<!-- Notes between these marks are for editors and never print. Each section starts with
     "## " and a plain question, and has a short id in braces. Aim for 5 to 8 sections,
     short sentences, common words and "you". -->

## What is {title_lower}? {{#what-is}}

Write two or three short sentences.

## What are the signs? {{#signs}}

- **A term** – one sentence that explains it.
- Another sign.
  - A detail under it.

## How is it treated? {{#treatment}}

::: tip
A practical tip for the reader.
:::

## When should I get help? {{#get-help}}

Say when to call the care team.

## What if I am in crisis? {{#crisis .required}}

<!-- Keep this section in every mental-health topic. Check the numbers are exact. -->

::: emergency
**If you think about hurting yourself, get help right away.**

- Call 911 or go to the nearest emergency department.
- Call or text 988 to reach the 988 Suicide & Crisis Lifeline, any time, day or night.
:::
"""

# Sentences of TOPIC_TEMPLATE that only stand in for the author's text: lint refuses a
# topic that still holds one, so a half-written topic never reaches a patient.
PLACEHOLDERS = (
    "One sentence that says what this handout covers.",
    "Write two or three short sentences.",
    "one sentence that explains it.",
    "A detail under it.",
    "A practical tip for the reader.",
    "Say when to call the care team.",
)



def template_text(text: str) -> list[tuple[int, str]]:
    """(line, sentence) for each of the template's stand-in sentences left in `text`."""
    return [(number, placeholder)
            for number, line in enumerate(text.splitlines(), 1)
            for placeholder in PLACEHOLDERS if placeholder in line]


LAYOUT_TEMPLATE = """\
{#- Your clinic's layout: it extends the bundled standard layout. Add CSS in the style
    block after the include, or override the `header` and `closing` blocks of
    _base/page.html.j2. Build with: handouts --library . build TOPIC --layout clinic -#}
{% extends "standard/layout.html.j2" %}
{% block style %}
{{ super() }}
/* Your styles here, for example: h2 { border-bottom: 1pt solid #cccccc; } */
{% endblock %}
"""


def new_topic(library: Library, topic_id: str, lang: str = "en") -> Path:
    """Write handouts/ID.LANG.md in the library's first folder from the template."""
    if len(topic_id) > MAX_ID:
        raise LibraryError(f"a topic id may have at most {MAX_ID} characters, not "
                           f"{len(topic_id)}")
    if not ID_RE.match(topic_id):
        raise LibraryError(f"'{topic_id}' is not a topic id: use {ID_RE_TEXT}")
    if not LANG_RE.match(lang):
        raise LibraryError(f"'{lang}' is not a two-letter language code")
    root = library.roots[0]
    if root == library.bundled and root.name == "library" and root.parent.name == "handoutkit":
        raise LibraryError("the bundled library is part of the installed tool; "
                           "pass --library DIR (see 'handouts init')")
    path = root / "handouts" / f"{topic_id}.{lang}.md"
    if path.exists():
        raise OutputError(f"{path} already exists")
    today = dt.date.today()
    brand = root / "layouts" / "brand.toml"
    text = TOPIC_TEMPLATE.format(
        id=topic_id, lang=lang, title=topic_id.replace("-", " ").title(),
        title_lower=topic_id.replace("-", " "), today=today.isoformat(),
        review_due=today.replace(year=today.year + 1).isoformat(),
        clinic="clinic" if not brand.exists() else "clinic's",
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise OutputError(f"{path} already exists") from None
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def init_library(folder: str | Path, bundled: Path) -> list[Path]:
    """Create a clinic library: a brand to edit, a layout that extends the bundled one,
    an empty topics folder. Refuses a folder that already has files."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise OutputError(f"{folder} already exists and is not empty")
    written = []
    try:
        (folder / "handouts").mkdir(parents=True)
        (folder / "layouts" / "clinic").mkdir(parents=True)
        for name in ("brand.toml", "logo.svg"):
            shutil.copyfile(bundled / "layouts" / name, folder / "layouts" / name)
            written.append(folder / "layouts" / name)
        layout = folder / "layouts" / "clinic" / "layout.html.j2"
        layout.write_text(LAYOUT_TEMPLATE, encoding="utf-8")
        written.append(layout)
    except OSError as exc:
        raise OutputError(f"cannot create {folder}: {exc.strerror or exc}") from None
    return [folder / "handouts", *written]
