"""Assembly: the layout turns selected topics into HTML (golden files, escaping, errors)."""

import datetime as dt
import os
from pathlib import Path

import pytest

from handoutkit.content.brand import load_brand
from handoutkit.content.select import parse_spec, select
from handoutkit.document.assemble import Setting, assemble, assemble_cover, css_string
from handoutkit.errors import LibraryError
from handoutkit.options import Personal

GOLDEN = Path(__file__).parent / "golden"
PRINTED = dt.date(2026, 11, 26)


def asset_name(path: Path) -> str:
    return f"asset:{path.name}"


def html_for(library, spec="hand-washing", personal=Personal(), **kwargs) -> str:
    brand = load_brand(library.default_brand)
    kwargs.setdefault("printed", PRINTED)
    setting = Setting(library, brand, asset_url=asset_name, **kwargs)
    return assemble([select(library, parse_spec(spec))], setting, personal=personal)


def check_golden(name: str, html: str, folder: Path = GOLDEN) -> None:
    """Compare with the golden file. Only UPDATE_GOLDEN=1 (no other value) rewrites a
    golden that differs, and the test then still fails: a regenerated golden is
    reviewed (git diff) and passes on the next run, never trusted on the run that wrote it."""
    path = folder / name
    expected = path.read_text(encoding="utf-8") if path.exists() else None
    if html == expected:
        return
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(html, encoding="utf-8")
        pytest.fail(f"{name} regenerated; review it (git diff) and run the tests again")
    pytest.fail(f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1"
                if expected is not None else f"{name} is missing; make it with UPDATE_GOLDEN=1")


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
    assert '<html lang="en" dir="ltr">' in html_for(test_library)


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
    with pytest.raises(LibraryError,
                       match="unknown layout 'fancy'; layouts: large-print, standard"):
        html_for(test_library, layout="fancy")
    with pytest.raises(LibraryError, match="unknown paper 'legal'"):
        html_for(test_library, paper="legal")


def test_broken_clinic_layout_names_file_and_line(make_library):
    from handoutkit.content.library import Library

    root = make_library({"layouts/broken/layout.html.j2": "line one\n{% if %}\n"})
    brand = load_brand(Library().default_brand)
    library = Library(root)
    with pytest.raises(LibraryError, match=r"layout.html.j2:2: template error"):
        assemble([select(library, parse_spec("psychotherapy"))],
                 Setting(library, brand, layout="broken"))


def test_undefined_variable_in_clinic_layout_is_an_error(make_library):
    from handoutkit.content.library import Library

    root = make_library({"layouts/typo/layout.html.j2": "{{ brand.nmae }}"})
    library = Library(root)
    brand = load_brand(library.default_brand)
    with pytest.raises(LibraryError, match="layout 'typo': .*nmae"):
        assemble([select(library, parse_spec("psychotherapy"))],
                 Setting(library, brand, layout="typo"))


def test_css_string_cannot_break_out():
    assert css_string('a"b\\c</style>') == '"a\\"b\\\\c\\3C /style>"'


SPANISH_TOPIC = """---
id: hand-washing
lang: es
title: Lavado de manos
level: basics
version: "2.1"
updated: 2026-10-01
summary: Cuándo y cómo lavarse las manos.
related: [psychotherapy]
codes: [Z71.89]
credit: Escrito para las pruebas de handouts.
reviewed_by: Prueba
review_due: 2027-10-01
---

Las manos limpias detienen muchos gérmenes.

## ¿Por qué lavarse las manos? {#why}

Los gérmenes pasan de las manos a la comida y a otras personas.

## ¿Y si alguien está muy enfermo? {#sick .required}

Llame al 911 si alguien no puede respirar.
"""


def test_golden_spanish_page(make_library, test_library):
    """The layouts' Spanish wording (dates, levels, related topics, footer) on a page."""
    from handoutkit.content.library import Library

    root = make_library({"handouts/hand-washing.es.md": SPANISH_TOPIC})
    check_golden("hand-washing.es.standard.html", html_for(Library(root), "hand-washing@es"))


def test_golden_packet_cover(test_library):
    """A packet's cover: personal details (escaped), contents with page numbers, links."""
    brand = load_brand(test_library.default_brand)
    setting = Setting(test_library, brand, printed=PRINTED, asset_url=asset_name)
    selections = [select(test_library, parse_spec(spec))
                  for spec in ("hand-washing:why,when", "psychotherapy")]
    personal = Personal("Ana <b>Díaz</b>", "2026-11-26", "Dr. Lee & Dr. Soto",
                        '<img src="x.png"> Bring this.')
    html = assemble_cover(selections, setting, personal, [3, 5])
    assert "&lt;b&gt;Díaz&lt;/b&gt;" in html and "<b>Díaz" not in html
    check_golden("packet-cover.standard.html", html)


@pytest.mark.parametrize("value", ["0", "yes", "", "true"])
def test_only_update_golden_1_regenerates(tmp_path, monkeypatch, value):
    """Probe: check_golden writing the file whenever UPDATE_GOLDEN was set (even to 0),
    then comparing the file with itself, passed any output; this fails on it."""
    (tmp_path / "g.html").write_text("old")
    monkeypatch.setenv("UPDATE_GOLDEN", value)
    with pytest.raises(pytest.fail.Exception, match="changed; if intended"):
        check_golden("g.html", "new", tmp_path)
    assert (tmp_path / "g.html").read_text() == "old"


def test_regenerated_golden_is_not_trusted(tmp_path, monkeypatch):
    (tmp_path / "g.html").write_text("old")
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    with pytest.raises(pytest.fail.Exception, match="regenerated; review it"):
        check_golden("g.html", "new", tmp_path)
    assert (tmp_path / "g.html").read_text() == "new"
    check_golden("g.html", "new", tmp_path)  # the next run compares, and passes
    monkeypatch.delenv("UPDATE_GOLDEN")
    with pytest.raises(pytest.fail.Exception, match="missing"):
        check_golden("absent.html", "x", tmp_path)


def test_part_links_related_topics_by_placeholder_and_has_no_page_numbers(test_library):
    from handoutkit.document.assemble import TOPIC_LINK, assemble_part

    brand = load_brand(test_library.default_brand)
    setting = Setting(test_library, brand, printed=PRINTED, asset_url=asset_name)
    html = assemble_part(select(test_library, parse_spec("hand-washing:why")), setting)
    assert TOPIC_LINK == "handouts-topic:"
    assert '<a href="handouts-topic:psychotherapy">Psychotherapy</a>' in html
    assert "Why wash your hands?" in html and "When should I wash?" not in html
    assert "What if someone is very sick?" in html  # the required section stays
    assert 'class="number-page' not in html and 'class="personal"' not in html
    assert "Printed November 26, 2026" in html
    assert "<title>Hand Washing</title>" in html


def test_numbers_pages_one_per_entry_in_its_language(test_library):
    from handoutkit.document.assemble import assemble_numbers

    brand = load_brand(test_library.default_brand)
    setting = Setting(test_library, brand, printed=PRINTED, asset_url=asset_name)
    html = assemble_numbers(setting, ["en", "en", "es"])
    body = html.split("<body>")[1]
    assert body.count('<div class="number-page numbers-en" lang="en" dir="ltr"></div>') == 2
    assert body.count('<div class="number-page numbers-es" lang="es" dir="ltr"></div>') == 1
    # Blank pages (duplex) say so, in their page's language.
    blank = assemble_numbers(setting, ["en", "es", "es"], frozenset({1}))
    assert "This page is intentionally blank" not in blank.split("<body>")[1]
    assert blank.split("<body>")[1].count("Esta página se dejó en blanco a propósito") == 1
    assert "Página" in html and "Page" in html
    assert '<html lang="en" dir="ltr">' in html
    assert "Why wash your hands?" not in html  # no topic text, only numbers


def clinic_with(make_library, topic_text: str, extra: dict | None = None):
    from handoutkit.content.library import Library

    return Library(make_library({"handouts/hand-washing.en.md": topic_text, **(extra or {})}))


HAND = (Path(__file__).parent / "library" / "handouts" / "hand-washing.en.md").read_text()


@pytest.mark.parametrize("src, message", [
    ("http://example.org/x.png", "refused to load http://example.org/x.png: pictures must "
                                 "be files in the library"),
    ("//example.org/x.png", "refused to load //example.org/x.png: pictures must be files"),
    ("data:image/png;base64,AAAA", "pictures must be files in the library"),
    ("../../outside.png", "refused to load ../../outside.png: it is outside the library"),
    ("missing.png", "picture not found: missing.png"),
])
def test_pictures_are_checked_while_assembling(make_library, src, message):
    from handoutkit.errors import HandoutsError

    library = clinic_with(make_library, HAND.replace("Germs spread", f"![A]({src})\n\nGerms"))
    with pytest.raises(HandoutsError, match=message) as info:
        html_for(library)
    assert str(info.value).startswith(str(library.roots[0] / "handouts" / "hand-washing.en.md"))


def test_picture_in_the_library_gets_its_asset_url(make_library):
    library = clinic_with(make_library,
                          HAND.replace("Germs spread", "![A dot](img/dot.png)\n\nGerms spread"),
                          {"handouts/img/dot.png": b"x"})
    assert '<img src="asset:dot.png" alt="A dot" />' in html_for(library)


@pytest.mark.parametrize("strings, message", [
    ('[en]\nmonths = ["Jan"]\n', r"\[en\] 'months' must list the 12 month names in quotes"),
    ('[en]\nmonths = [' + ", ".join(['1'] * 12) + ']\n', r"'months' must list the 12 month"),
    ("[en]\nlevels = 3\n", r"\[en\] 'levels' must be a table of texts in quotes"),
    ('[en]\nlevels = {basics = 1, in-depth = "x"}\n', r"'levels' must be a table of texts"),
    ('[en]\nlevels = {basics = "B"}\n', r"\[en\] 'levels' has no 'in-depth'"),
    ("[en]\nprinted = 3\n", r"\[en\] 'printed' must be text in quotes"),
    ('[en]\ndate_format = "{weekday}"\n', r"'date_format' may use only \{day\}, \{month\} and "
                                          r"\{year\}"),
    ('[en]\ndate_format = "{0}"\n', r"'date_format' may use only"),
    ('en = "x"\n', r"\[en\] must be a table of wording"),
    ("[en\n", "not valid TOML"),
    ('[sv]\nprinted = "Utskriven"\n', r"strings.toml: \[sv\] has no '"),
])
def test_strings_toml_is_checked(make_library, strings, message):
    library = clinic_with(make_library, HAND, {"layouts/strings.toml": strings})
    with pytest.raises(LibraryError, match=message):
        html_for(library)


def test_clinic_strings_override_the_bundled_ones(make_library):
    library = clinic_with(make_library, HAND, {
        "layouts/strings.toml": '[en]\nmore_on_topic = "See also"\n'})
    html = html_for(library)
    assert "See also" in html and "More on this topic" not in html
