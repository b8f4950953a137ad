"""Selection: SPECs resolve to sections; required sections always stay."""

import pytest

from handoutkit.content.select import Spec, parse_spec, select
from handoutkit.errors import SectionNotFound, SpecError


@pytest.mark.parametrize(
    "text, spec",
    [
        ("psychotherapy", Spec("psychotherapy", None, ())),
        ("psychotherapy@es", Spec("psychotherapy", "es", ())),
        ("psychotherapy:what-is,types", Spec("psychotherapy", None, ("what-is", "types"))),
        ("psychotherapy@es:what-is", Spec("psychotherapy", "es", ("what-is",))),
    ],
)
def test_parse_spec(text, spec):
    assert parse_spec(text) == spec
    assert str(parse_spec(text)) == text


@pytest.mark.parametrize("text",
                         ["Psychotherapy", "psychotherapy:", "psy chotherapy", "a@eng", ":x"])
def test_bad_spec(text):
    with pytest.raises(SpecError, match="cannot read"):
        parse_spec(text)


def test_whole_topic(test_library):
    selection = select(test_library, parse_spec("hand-washing"))
    assert selection.section_ids == ["why", "when", "how-do-i-wash-well", "urgent"]
    assert selection.is_whole


def test_required_section_stays_and_order_is_the_topics(test_library):
    selection = select(test_library, parse_spec("hand-washing:when,why"))
    assert selection.section_ids == ["why", "when", "urgent"]
    assert not selection.is_whole


def test_crisis_block_always_kept_in_bundled_topic(library):
    selection = select(library, parse_spec("psychotherapy:what-is"))
    assert selection.section_ids[0] == "what-is"
    assert "crisis" in selection.section_ids


def test_unknown_section_lists_valid_ids(test_library):
    with pytest.raises(SectionNotFound) as info:
        select(test_library, parse_spec("hand-washing:why,nope"))
    assert str(info.value) == (
        "topic 'hand-washing' (en) has no section 'nope'; its sections are: "
        "why, when, how-do-i-wash-well, urgent"
    )


def test_default_language_applies_without_at(test_library):
    from handoutkit.errors import TopicNotFound

    with pytest.raises(TopicNotFound, match="no 'es' version"):
        select(test_library, parse_spec("hand-washing"), "es")
