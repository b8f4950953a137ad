"""The HTML check and the promise for the laid-out pages (completeness.py), unit by unit:
what must print, the words compared, the messages, and what each document promises."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_hostile_library import CALM

from handoutkit.build import selections_for
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.content.topic import parse_topic
from handoutkit.document.articles import anchor_for, second_anchor
from handoutkit.document.assemble import Setting, assemble
from handoutkit.document.completeness import (
    IncompleteError,
    check_html,
    must_print,
    promise_for,
    section_words,
)
from handoutkit.errors import LibraryError
from handoutkit.pdf.pagecheck import Block

HEADER_END = CALM.index("---\n", 4) + 4
BREATHE = CALM[HEADER_END:CALM.index("## What if I am in crisis?")]
CRISIS = CALM[CALM.index("## What if I am in crisis?"):]


def topic(text: str, name: str = "calm.en.md"):
    return parse_topic(text, Path("/library/handouts") / name)


def test_section_words_are_every_text_in_order():
    text = CALM.replace("- Breathe out for 6 counts.",
                        "- Breathe out for `6` counts.\n\n```\nin 4, out 6\n```\n\n"
                        "Then:\n\n    hold 2\n\n-   \n")
    words = list(section_words(topic(text).section("breathe")))
    assert words == ["Breathe in for 4 counts.", "Breathe out for ", "6", " counts.",
                     "in 4, out 6", "Then:", "hold 2"]


def test_must_print_required_sections_and_a_mental_health_topic_s_crisis_box():
    text = (CALM.replace("{#breathe}", "{#breathe .required}")
            .replace("{#crisis .required}", "{#crisis}"))
    found = topic(text)
    selection = type("S", (), {"topic": found, "sections": found.sections})()
    assert [s.id for s in must_print(selection)] == ["breathe", "crisis"]
    plain = topic(text.replace("mental_health: true\n", ""))
    selection = type("S", (), {"topic": plain, "sections": plain.sections})()
    assert [s.id for s in must_print(selection)] == ["breathe"]


QUIET = CALM.replace("id: calm", "id: quiet").replace("mental_health: true\n", "").replace(
    CRISIS, "## More {#more .required}\n\nRest when you can.\n")


@pytest.fixture
def clinic(make_library):
    return Library(make_library({
        "handouts/calm.en.md": CALM,
        "handouts/calm.es.md": CALM.replace("lang: en", "lang: es"),
        "handouts/quiet.en.md": QUIET,
        "handouts/quiet.es.md": QUIET.replace("lang: en", "lang: es"),
        "layouts/brand.toml": 'name = "Clinic"\nafter_hours = "(555) 010-0001"\n'
                              'local_crisis = "(555) 010-0002"\n[lang.es]\n'
                              'after_hours = "(555) 010-0003"\n',
    }))


def assembled(library: Library, specs: list[str], bilingual: str | None = None):
    selections = selections_for(library, specs, None, bilingual)
    setting = Setting(library, load_brand(library.default_brand))
    return selections, assemble(selections, setting, cover=len(specs) > 1)


def test_check_html_passes_a_whole_document_and_names_what_is_lost(clinic):
    selections, html = assembled(clinic, ["quiet", "calm"])
    check_html(html, selections, anchor_for)
    # A required section that is not a crisis block: its words are compared too.
    broken = html.replace("Rest when you can.", "")
    line = next(s.line for s in selections[0].topic.sections if s.id == "more")
    with pytest.raises(IncompleteError) as caught:
        check_html(broken, selections, anchor_for)
    assert str(caught.value) == (
        f"quiet.en.md:{line}: the required section 'more' is not complete in the document "
        "(check the layout); the document was not written")
    # The crisis box's class gone, its words kept: lost all the same.
    with pytest.raises(IncompleteError, match="'crisis'"):
        check_html(html.replace("callout-emergency", "callout-plain"), selections, anchor_for)


def test_words_kept_whole_on_their_line_are_compared_as_text(clinic):
    selections, html = assembled(clinic, ["calm"])
    wrapped = html.replace("Breathe in for 4 counts.",
                           '<span class="word">Breathe</span> in for 4 counts.')
    check_html(wrapped, selections, anchor_for)


def test_a_mental_health_topic_without_its_crisis_block_is_refused(clinic):
    selections, html = assembled(clinic, ["calm"])
    bare = topic(CALM[:CALM.index("## What if I am in crisis?")])
    selection = type("S", (), {"topic": bare, "sections": bare.sections})()
    with pytest.raises(LibraryError) as caught:
        check_html(html, [selection], lambda s: "x")
    assert str(caught.value).startswith("calm.en.md: a mental-health topic must print its "
                                        "crisis block")
    # A crisis block in the topic's introduction is one.
    intro = topic(CALM[:HEADER_END] + "::: emergency\nCall 911 or 988.\n:::\n\n" + BREATHE)
    selection = type("S", (), {"topic": intro, "sections": intro.sections})()
    check_html(html, [selection], lambda s: "x")


def test_the_promise_names_every_block_with_the_brand_s_numbers_in_each_language(clinic):
    selections = selections_for(clinic, ["quiet", "calm"], None, "es")
    brand = load_brand(clinic.default_brand)
    promise = promise_for(selections, brand, cover=True)
    calm = selections[1]
    crisis = calm.topic.section("crisis")
    assert promise.blocks == (
        Block(f"{anchor_for(calm)}--crisis", "topic calm (en, calm.en.md)",
              ("911", "988", "(555) 010-0001", "(555) 010-0002"),
              tuple(section_words(crisis))),
        Block(f"{second_anchor(calm)}--crisis", "topic calm (es, calm.es.md)",
              ("911", "988", "(555) 010-0003", "(555) 010-0002"),
              tuple(section_words(calm.second.topic.section("crisis")))),
    )
    assert promise.strip == (anchor_for(calm),) and promise.cover
    assert promise.label == "topic quiet (en), topic calm (en)"
    assert promise_for(selections, brand, label="mine").label == "mine"
    assert not promise_for(selections, brand).cover


def test_a_promise_without_a_mental_health_topic_holds_no_block(clinic):
    selections = selections_for(clinic, ["quiet"], None)
    promise = promise_for(selections, load_brand(clinic.default_brand), cover=True)
    assert promise.blocks == () and promise.strip == () and not promise.cover


def test_a_crisis_block_in_the_introduction_is_promised_by_the_article(make_library):
    text = CALM[:HEADER_END] + "::: emergency\nCall 911 or 988.\n:::\n\n" + BREATHE
    library = Library(make_library({"handouts/calm.en.md": text}))
    selections = selections_for(library, ["calm"], None)
    promise = promise_for(selections, load_brand(library.default_brand))
    assert promise.blocks == (Block(anchor_for(selections[0]), "topic calm (en, calm.en.md)",
                                    ("911", "988"), ("Call 911 or 988.",
                                                     "Slow breaths can help you feel calm.")),)
