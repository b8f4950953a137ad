"""Digests and keys derived from their inputs, each input changed one at a time.

A batch row's digest (resume.py) decides whether a packet already written is current; a
part's cache key (packet.py) whether a cached topic may serve. Each must change when any
of its inputs changes, or a patient gets yesterday's packet. The options are enumerated
from BuildOptions itself: an option added without a way to change it here fails the test.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from handoutkit.batch.joblist import Row
from handoutkit.batch.run import row_digest
from handoutkit.build import selections_for
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.document.assemble import Setting
from handoutkit.options import NOT_SHAPING, BuildOptions, Personal
from handoutkit.pdf.packet import fingerprint, part_key

KEY = b"k" * 32


def changed(name: str, value, tmp_path: Path):
    """Another value for option `name` (every option's type must be known here)."""
    if isinstance(value, bool):
        return not value
    if name == "brand":
        other = tmp_path / "other.toml"
        other.write_text('name = "Other"\n', encoding="utf-8")
        return other
    if name in ("lang", "bilingual", "fallback"):
        return "es" if value != "es" else "ko"
    if name == "layout":
        return "large-print"
    if name == "paper":
        return "a4"
    if name == "format":
        return "html"
    raise AssertionError(f"BuildOptions.{name} is new: say here how to change it, and make "
                         "sure every digest made from the options covers it")


def digest_for(library: Library, options: BuildOptions) -> str:
    selections = tuple(selections_for(library, ["psychotherapy"], options.lang,
                                      options.bilingual))
    row = Row(2, "a.pdf", ("psychotherapy",), options, selections=selections)
    return row_digest(row, library, KEY, {})


BASE = BuildOptions(personal=Personal("A", "2026-11-26", "C", "N"))


# Declared here, not read from the code under test: an option added to NOT_SHAPING by
# mistake drops out of the digest, and must not drop out of this test with it.
MAY_NOT_SHAPE = {"jobs"}


def test_only_the_number_of_cores_is_declared_not_shaping():
    assert set(NOT_SHAPING) == MAY_NOT_SHAPE


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(BuildOptions)
                                  if f.name not in MAY_NOT_SHAPE and f.name != "personal"])
def test_every_option_changes_the_row_digest(tmp_path, name):
    library = Library()
    before = digest_for(library, BASE)
    after = digest_for(library, dataclasses.replace(
        BASE, **{name: changed(name, getattr(BASE, name), tmp_path)}))
    assert before != after, name


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Personal)])
def test_every_personal_field_changes_the_row_digest(name):
    library = Library()
    other = dataclasses.replace(BASE.personal, **{name: "something else"})
    assert digest_for(library, BASE) != digest_for(
        library, dataclasses.replace(BASE, personal=other)), name


def test_how_many_cores_changes_nothing():
    library = Library()
    assert digest_for(library, BASE) == digest_for(library, dataclasses.replace(BASE, jobs=7))


# -- a part's cache key -------------------------------------------------------------------------

def part(library: Library, spec: str = "psychotherapy", *, bilingual: str | None = None,
         layout: str = "standard", paper: str = "letter", brand: Path | None = None,
         printed: dt.date = dt.date(2026, 11, 26)) -> str:
    selection = selections_for(library, [spec], None, bilingual)[0]
    look = fingerprint(library, load_brand(brand or library.default_brand), layout, paper)
    return part_key(selection, library, look, printed)


def edited_library(make_library, path: str, edit) -> Library:
    original = (Library().roots[-1] / path)
    data = original.read_bytes()
    return Library(make_library({path: edit(data)}))


def test_every_input_changes_a_part_key(make_library, tmp_path):
    library = Library()
    base = part(library)
    brand = tmp_path / "brand.toml"
    brand.write_text('name = "Other"\ncolor = "#1f5f8b"\n', encoding="utf-8")
    variants = {
        "sections": part(library, "psychotherapy:what-is"),
        "language": part(library, "psychotherapy@es"),
        "bilingual": part(library, bilingual="es"),
        "bilingual language": part(library, bilingual="ko"),
        "layout": part(library, layout="large-print"),
        "paper": part(library, paper="a4"),
        "brand": part(library, brand=brand),
        "printed date": part(library, printed=dt.date(2026, 11, 27)),
    }
    assert variants["bilingual"] != variants["bilingual language"]
    for what, key in variants.items():
        assert key != base, what


@pytest.mark.parametrize("path,edit", [
    ("handouts/psychotherapy.en.md", lambda b: b.replace(b"talk therapy.", b"talking therapy.")),
    # A related topic's title prints in "More on this topic".
    ("handouts/insomnia.en.md", lambda b: b.replace(b"title: Insomnia", b"title: Sleeplessness")),
    ("layouts/_base/base.css.j2", lambda b: b + b"\n/* changed */\n"),
    ("layouts/strings.toml", lambda b: b.replace(b"In crisis?", b"In a crisis?")),
    ("layouts/logo.svg", lambda b: b.replace(b"</svg>", b"<!-- changed --></svg>")),
])
def test_every_file_a_part_reads_changes_its_key(make_library, path, edit):
    assert part(Library()) != part(edited_library(make_library, path, edit)), path


def test_a_picture_s_bytes_change_the_key(tmp_path):
    topic = Library().topic("psychotherapy")
    assert topic.images
    src = topic.images[0].src
    picture = (topic.path.parent / src).read_bytes()
    keys = []
    for name, data in (("same", picture), ("edited", picture.replace(
            b"</svg>", b"<!-- changed --></svg>"))):
        root = tmp_path / name
        (root / "handouts" / src).parent.mkdir(parents=True)
        (root / "handouts" / "psychotherapy.en.md").write_bytes(topic.path.read_bytes())
        (root / "handouts" / src).write_bytes(data)
        keys.append(part(Library(root)))
    assert keys[0] != keys[1]


def test_the_same_inputs_give_the_same_key():
    assert part(Library()) == part(Library())
    setting = Setting(Library(), load_brand(Library().default_brand))
    assert setting.layout == "standard"


def test_a_fallback_part_is_not_the_plain_part():
    """An English part marked "not yet available in Spanish" is not the English part."""
    library = Library()
    look = fingerprint(library, load_brand(library.default_brand), "standard", "letter")
    day = dt.date(2026, 11, 26)
    plain = selections_for(library, ["insomnia"], "en")[0]
    marked = selections_for(library, ["insomnia"], "es", fallback="en")[0]
    assert marked.topic == plain.topic and marked.wanted_lang == "es"
    assert part_key(plain, library, look, day) != part_key(marked, library, look, day)
