"""The plain handout's ETag (serve/etag.py), in process: every input of what prints changes
it, its form is a strong quoted tag, and If-None-Match is read as HTTP says."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request

from handoutkit.content.library import Library
from handoutkit.request import BuildRequest
from handoutkit.serve.etag import etag_matches, topic_etag

BASE = {"specs": ["psychotherapy"], "lang": "en", "layout": "standard", "paper": "letter",
        "format": "pdf"}


def etag(**changes) -> str:
    return topic_etag(Library(), BuildRequest.from_mapping({**BASE, **changes}))


def test_the_form_is_a_strong_quoted_tag_and_stable():
    tag = etag()
    assert re.fullmatch(r'"[0-9a-f]{32}"', tag)
    assert etag() == tag


@pytest.mark.parametrize("change", [{"lang": "es"}, {"layout": "large-print"},
                                    {"paper": "a4"}, {"format": "html"},
                                    {"specs": ["insomnia"]},
                                    {"specs": ["psychotherapy:what-is"]}])
def test_every_input_changes_it(change):
    assert etag(**change) != etag()


def test_an_edit_without_a_new_version_changes_it(make_library):
    from test_hostile_library import CALM

    root = make_library({"handouts/calm.en.md": CALM})
    request = BuildRequest.from_mapping({**BASE, "specs": ["calm"]})
    before = topic_etag(Library(root), request)
    path = root / "handouts" / "calm.en.md"
    path.write_text(CALM.rstrip() + "\n\nOne more line.\n", encoding="utf-8")
    assert topic_etag(Library(root), request) != before


def request_with(value: str | None) -> Request:
    headers = [] if value is None else [(b"if-none-match", value.encode())]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.mark.parametrize("given, matches", [
    (None, False), ("", False), ('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True),
    ('"x","abc"', True), ('  "abc"  ', True), ("*", True), (' * ', True), ('"abcd"', False),
    ('"ab"', False), ('w/"abc"', False), ('"ABC"', False), ('"x" "abc"', False),
    ('"abc"W/', False),
])
def test_if_none_match(given, matches):
    assert etag_matches(request_with(given), '"abc"') is matches


def test_a_brand_of_the_library_changes_it(make_library):
    from test_hostile_library import CALM

    root = make_library({
        "handouts/calm.en.md": CALM,
        "layouts/brands/evening.toml": 'name = "Evening Clinic"\ncolor = "#224466"\n'
                                       'phone = "(555) 010-0142"\n'})
    library = Library(root)
    assert library.brand_names == ["evening"]
    plain = topic_etag(library, BuildRequest.from_mapping({**BASE, "specs": ["calm"]}))
    branded = topic_etag(library, BuildRequest.from_mapping(
        {**BASE, "specs": ["calm"], "brand": "evening"}))
    assert branded != plain
