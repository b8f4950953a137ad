"""Assembly: the layout turns selected topics into HTML (golden files, escaping, errors)."""

import datetime as dt
import os
from pathlib import Path

import pytest

from handoutkit.assemble import Setting, assemble, css_string
from handoutkit.options import Personal
from handoutkit.brand import load_brand
from handoutkit.errors import LibraryError
from handoutkit.select import parse_spec, select

GOLDEN = Path(__file__).parent / "golden"
PRINTED = dt.date(2026, 11, 26)


def asset_name(path: Path) -> str:
    return f"asset:{path.name}"


def html_for(library, spec="hand-washing", personal=Personal(), **kwargs) -> str:
    brand = load_brand(library.default_brand)
    kwargs.setdefault("printed", PRINTED)
    setting = Setting(library, brand, asset_url=asset_name, **kwargs)
    return assemble([select(library, parse_spec(spec))], setting, personal=personal)


def check_golden(name: str, html: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(html, encoding="utf-8")
    assert html == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1"
    )


def test_golden_standard(test_library):
    check_golden("hand-washing.standard.html", html_for(test_library))


def test_golden_large_print_a4_with_personal_fields(test_library):
    personal = Personal("Ana <b>Díaz</b>", "2026-11-26", "Dr. Lee", "Wash & dry.")
    html = html_for(test_library, "hand-washing:when", layout="large-print", paper="a4",
                    personal=personal)
    check_golden("hand-washing-when.large-print.html", html)


def test_personal_fields_are_escaped_and_only_in_the_body(test_library):
    html = html_for(test_library, personal=Personal(patient='<img src="x">Ana'))
    head, body = html.split("<body>")
    assert "Ana" not in head
    assert "&lt;img src=&#34;x&#34;&gt;Ana" in body
    assert '<img src="x">' not in html


def test_metadata_in_head(test_library):
    head = html_for(test_library).split("<body>")[0]
    assert "<title>Hand Washing</title>" in head
    assert '<meta name="description" content="When and how to wash your hands.">' in head
    assert '<meta name="keywords" content="hand-washing, Z71.89">' in head
    assert '<meta name="author" content="Riverside Community Health">' in head
    assert '<html lang="en">' in html_for(test_library)


def test_related_lists_only_topics_in_the_library(test_library):
    html = html_for(test_library)
    more = html.split('class="more"')[1].split("</section>")[0]
    assert "<li>Psychotherapy</li>" in more
    assert "not-in-library" not in html


def test_section_anchors_are_prefixed_per_topic(test_library):
    html = html_for(test_library)
    assert 'id="hand-washing-en--why"' in html
    assert 'id="why"' not in html


def test_paper_and_sizes_reach_the_css(test_library):
    assert "size: letter;" in html_for(test_library)
    large = html_for(test_library, layout="large-print", paper="a4")
    assert "size: A4;" in large
    assert "font-size: 18pt; line-height: 1.5;" in large


def test_unknown_layout_and_paper(test_library):
    with pytest.raises(LibraryError, match="unknown layout 'fancy'; layouts: large-print, standard"):
        html_for(test_library, layout="fancy")
    with pytest.raises(LibraryError, match="unknown paper 'legal'"):
        html_for(test_library, paper="legal")


def test_broken_clinic_layout_names_file_and_line(make_library):
    from handoutkit.library import Library

    root = make_library({"layouts/broken/layout.html.j2": "line one\n{% if %}\n"})
    brand = load_brand(Library().default_brand)
    library = Library(root)
    with pytest.raises(LibraryError, match=r"layout.html.j2:2: template error"):
        assemble([select(library, parse_spec("psychotherapy"))],
                 Setting(library, brand, layout="broken"))


def test_undefined_variable_in_clinic_layout_is_an_error(make_library):
    from handoutkit.library import Library

    root = make_library({"layouts/typo/layout.html.j2": "{{ brand.nmae }}"})
    library = Library(root)
    brand = load_brand(library.default_brand)
    with pytest.raises(LibraryError, match="layout 'typo': .*nmae"):
        assemble([select(library, parse_spec("psychotherapy"))],
                 Setting(library, brand, layout="typo"))


def test_css_string_cannot_break_out():
    assert css_string('a"b\\c</style>') == '"a\\"b\\\\c\\3C /style>"'
