"""English where missing (--fallback): a topic not yet written in the reader's language
prints in the fallback language, marked on the cover, under its title and in the
manifest; without --fallback it is an error, as before."""

from __future__ import annotations

import json

import pikepdf
import pytest
from conftest import page_texts

from handoutkit.build import build, selections_for
from handoutkit.content.library import Library
from handoutkit.document.manifest import NAME
from handoutkit.errors import TopicNotFound
from handoutkit.options import BuildOptions

NOTE = "This handout is not yet available in Spanish (español)."


def test_without_fallback_a_missing_language_is_an_error():
    with pytest.raises(TopicNotFound, match="has no 'es' version"):
        selections_for(Library(), ["psychotherapy", "insomnia"], "es")


def test_fallback_takes_the_topic_in_english_and_says_what_was_wanted():
    selections = selections_for(Library(), ["psychotherapy", "insomnia@es"], "es",
                                fallback="en")
    assert [(s.topic.id, s.topic.lang, s.wanted_lang) for s in selections] == [
        ("psychotherapy", "es", None), ("insomnia", "en", "es")]
    # A topic written in the reader's language is never replaced.
    assert selections_for(Library(), ["psychotherapy"], "es", fallback="en")[0].wanted_lang \
        is None
    # An unknown topic is still an error.
    with pytest.raises(TopicNotFound, match="unknown topic"):
        selections_for(Library(), ["no-such-topic"], "es", fallback="en")


def test_the_note_prints_on_the_cover_and_under_the_title_and_in_the_manifest(tmp_path):
    out = tmp_path / "packet.pdf"
    out.write_bytes(build(Library(), ["psychotherapy", "insomnia"],
                          BuildOptions(lang="es", fallback="en")))
    pages = [" ".join(p.split()) for p in page_texts(out)]
    assert f"Insomnia: {NOTE}" in pages[0]  # the cover
    first = next(i for i, p in enumerate(pages) if p.startswith("Riverside") and "Insomnia" in p
                 and "THE BASICS" in p)
    assert NOTE in pages[first]
    assert sum(NOTE in p for p in pages) == 2
    with pikepdf.open(out) as pdf:
        manifest = json.loads(pdf.attachments[NAME].get_file().read_bytes())
    entries = {t["id"]: t for t in manifest["topics"]}
    assert entries["insomnia"]["not_available_in"] == "es" and entries["insomnia"]["lang"] == "en"
    assert "not_available_in" not in entries["psychotherapy"]
