"""Loading: topic files become Topic values; broken files name the file and line."""

from pathlib import Path

import pytest
from conftest import TEST_LIBRARY

from handoutkit.content.topic import parse_topic, slugify
from handoutkit.errors import LibraryError, TopicNotFound

GOOD = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text()
PATH = Path("handouts/hand-washing.en.md")


def parse(text: str, name: str = "hand-washing.en.md"):
    return parse_topic(text, Path("handouts") / name)


def test_good_topic_metadata():
    topic = parse(GOOD)
    assert (topic.id, topic.lang, topic.title, topic.level) == (
        "hand-washing", "en", "Hand Washing", "basics")
    assert topic.version == "2.1"
    assert topic.updated.isoformat() == "2026-10-01"
    assert topic.related == ("psychotherapy", "not-in-library")
    assert topic.codes == ("Z71.89",)
    assert topic.review_due.isoformat() == "2027-10-01"
    assert len(topic.sha256) == 64


def test_sections_ids_required_and_derived():
    topic = parse(GOOD)
    assert topic.section_ids == ["why", "when", "how-do-i-wash-well", "urgent"]
    assert [s.required for s in topic.sections] == [False, False, False, True]
    assert topic.section("when").title == "When should I wash?"
    assert "{" not in topic.section("urgent").title
    assert topic.section("urgent").has_emergency
    assert not topic.section("when").has_emergency
    assert "Clean hands stop many germs." in topic.intro.html()


def test_terms_callouts_and_nested_lists_render():
    html = parse(GOOD).section("when").html()
    assert html.count('<li class="term">') == 2
    assert '<div class="callout callout-tip" role="note">\n<h3 class="callout-title">Tip</h3>' \
        in html
    assert "<ul>\n<li>Help children wash, too.</li>" in html
    urgent = parse(GOOD).section("urgent").html()
    assert '<div class="callout callout-emergency" role="alert">\n<p>' in urgent


def test_raw_html_in_a_topic_is_text():
    topic = parse(GOOD.replace("Germs spread", "<script>alert(1)</script> Germs spread"))
    html = topic.section("why").html()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_slugify():
    assert slugify("What is CBT?") == "what-is-cbt"
    assert slugify("¿Qué es la psicoterapia?") == "que-es-la-psicoterapia"


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: t.replace("---\n", "", 1),
         "hand-washing.en.md:1: a topic must start with a '---'"),
        (lambda t: t.replace("title: Hand Washing\n", ""),
         "hand-washing.en.md:1: the header has no 'title'"),
        (lambda t: t.replace("updated: 2026-10-01", "updated: 2026-13-45"),
         "hand-washing.en.md:7: 'updated': '2026-13-45' is not a date"),
        (lambda t: t.replace('version: "2.1"', "version: 2.1"),
         "hand-washing.en.md:6: 'version' must be written in quotes"),
        (lambda t: t.replace("level: basics", "level: easy"),
         "hand-washing.en.md:5: 'level' must be one of: basics, in-depth"),
        (lambda t: t.replace("codes: [Z71.89]", "colour: red"),
         "hand-washing.en.md:10: 'colour' is not a known field"),
        (lambda t: t.replace("related: [psychotherapy, not-in-library]", "related: [psychotherapy"),
         "hand-washing.en.md:10: the header is not valid YAML"),
        (lambda t: t.replace("{#when}", "{#why}"),
         "hand-washing.en.md:22: section id 'why' is already used on line 18"),
        (lambda t: t.replace("## Why wash", "# Why wash"),
         "hand-washing.en.md:18: do not write a '# ' title"),
        (lambda t: t.replace("{#urgent .required}", "{#urgent .must}"),
         "hand-washing.en.md:37: '.must' in the heading's braces"),
        (lambda t: t.split("## Why")[0], "the topic has no sections"),
        (lambda t: t.replace("---\n\nClean", "\nClean"), "the header is not closed"),
    ],
)
def test_broken_topics_name_file_and_line(change, message):
    with pytest.raises(LibraryError) as info:
        parse(change(GOOD))
    assert message in str(info.value)


def test_file_name_must_match_header():
    with pytest.raises(LibraryError, match="must be named hand-washing.en.md"):
        parse(GOOD, name="handwashing.en.md")


def test_library_layers_clinic_topics_over_bundled(test_library, library):
    assert "hand-washing" in test_library.topic_ids
    assert "psychotherapy" in test_library.topic_ids
    assert "hand-washing" not in library.topic_ids
    assert test_library.in_language("psychotherapy", "en").title == "Psychotherapy"
    assert test_library.in_language("not-in-library", "en") is None


def test_unknown_topic_suggests_close_matches(library):
    with pytest.raises(TopicNotFound,
                       match="unknown topic 'psychoterapy'; did you mean psychotherapy"):
        library.topic("psychoterapy")


def test_missing_language_lists_languages(test_library):
    with pytest.raises(TopicNotFound, match=r"has no 'fr' version \(languages: en\)"):
        test_library.topic("hand-washing", "fr")


def test_missing_library_folder(tmp_path):
    with pytest.raises(LibraryError, match="library folder not found"):
        from handoutkit.content.library import Library

        Library(tmp_path / "nope")


def test_every_bundled_topic_loads(library):
    topics = library.topics()
    files = sorted(p.name for p in (library.bundled / "handouts").glob("*.md"))
    assert sorted(f"{t.id}.{t.lang}.md" for t in topics) == files
    assert len(files) >= 16
    for topic in topics:
        assert topic.sections, topic.path
        if topic.mental_health:
            crisis = [s for s in topic.sections if s.required and s.has_emergency]
            assert crisis, f"{topic.path}: no required emergency section"
            text = crisis[0].html()
            assert "911" in text and "988" in text, topic.path
