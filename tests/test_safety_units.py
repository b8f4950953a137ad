"""The crisis rules every build keeps (safety.py), one rule at a time, without rendering."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_hostile_library import CALM

from handoutkit.content.safety import crisis_problems, mental_health_reason
from handoutkit.content.topic import parse_topic


def topic(text: str, name: str = "calm.en.md"):
    return parse_topic(text, Path("/library/handouts") / name)


def problems(text: str, lint: bool = True) -> list[tuple[int, str]]:
    return crisis_problems(topic(text), text, lint=lint)


def test_a_whole_crisis_block_breaks_no_rule():
    assert problems(CALM) == []


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
                                  "\u2066", "\u2067", "\u2068", "\u2069"])
def test_every_bidi_control_is_refused_with_its_line(char):
    text = CALM.replace("Breathe in for 4", f"Breathe in{char} for 4")
    line = text[:text.index(char)].count("\n") + 1
    found = problems(text)
    assert found and found[0][0] == line
    assert f"U+{ord(char):04X}" in found[0][1] and f"line {line}" in found[0][1]


@pytest.mark.parametrize("number", ["911", "988"])
def test_a_crisis_number_in_an_editor_s_note_is_refused(number):
    text = CALM.replace("Slow breaths can help", f"<!-- call {number} -->\nSlow breaths can help")
    line = text[:text.index("<!--")].count("\n") + 1
    found = problems(text)
    assert (line, f"{number} is inside an editor's note (<!-- -->), which never prints; take "
            "it out of the note") in found


def test_a_longer_number_in_a_note_is_not_a_crisis_number():
    text = CALM.replace("Slow breaths can help",
                        "<!-- ref 19112 and 9880 -->\nSlow breaths can help")
    assert problems(text) == []


@pytest.mark.parametrize("number", ["911", "988"])
def test_a_crisis_section_must_give_each_number(number):
    other = "988" if number == "911" else "911"
    # Every occurrence of the number taken out of the crisis block.
    start = CALM.index("::: emergency")
    found = problems(CALM[:start] + CALM[start:].replace(number, "the line"))
    assert any(message == f"crisis section does not give {number}" for _, message in found)
    assert not any(message == f"crisis section does not give {other}" for _, message in found)


def test_a_mental_health_topic_needs_its_crisis_section():
    text = CALM[:CALM.index("## What if I am in crisis?")]
    assert problems(text) == [(0, "mental-health topic without a required section holding "
                                  "an ::: emergency callout")]
    not_required = CALM.replace("{#crisis .required}", "{#crisis}")
    assert problems(not_required)[0][1].startswith("mental-health topic without")
    # A build prints the crisis box of a section not marked required all the same.
    assert problems(not_required, lint=False) == []
    assert problems(text, lint=False) == [(0, "a mental-health topic must print its crisis "
                                              "block (an '::: emergency' callout in a section "
                                              "marked {.required})")]


def test_a_topic_that_is_not_mental_health_needs_no_crisis_section():
    text = CALM.replace("mental_health: true\n", "")
    text = text[:text.index("## What if I am in crisis?")]
    assert problems(text) == []


@pytest.mark.parametrize("edit,reason", [
    (lambda t: t.replace("summary:", "codes: [F41.1]\nsummary:"), "coded F41.1"),
    (lambda t: t.replace("summary:", "codes: [Z71.89, F99]\nsummary:"), "coded F99"),
    (lambda t: t.replace("Slow breaths", "Thoughts of suicide can pass. Slow breaths"),
     "speaks of suicide or self-harm"),
    (lambda t: t.replace("Slow breaths", "Some people self-harm. Slow breaths"),
     "speaks of suicide or self-harm"),
    (lambda t: t.replace("title: Feeling Calm", "title: Suicide and You"),
     "speaks of suicide or self-harm"),
    (lambda t: t.replace("## How do I breathe slowly?", "## What if I want to kill myself?"),
     "speaks of suicide or self-harm"),
])
def test_what_makes_a_topic_mental_health_whatever_its_header(edit, reason):
    text = edit(CALM.replace("mental_health: true\n", ""))
    text = text[:text.index("## What if I am in crisis?")]
    assert reason in (mental_health_reason(topic(text)) or "")


def test_codes_outside_chapter_f_and_plain_words_do_not():
    text = (CALM.replace("mental_health: true\n", "")
            .replace("summary:", "codes: [Z71.89, G47.0]\nsummary:"))
    text = text[:text.index("## What if I am in crisis?")]
    assert mental_health_reason(topic(text)) is None


def test_a_copy_of_a_bundled_mental_health_topic_stays_one():
    bundled = topic(CALM)
    copy = topic(CALM.replace("mental_health: true\n", ""))
    assert mental_health_reason(copy, bundled) == (
        "it is a copy of the bundled mental-health topic 'calm'")
    plain = topic(CALM.replace("mental_health: true\n", ""))
    assert mental_health_reason(copy, plain) is None or "copy" not in mental_health_reason(
        copy, plain)
