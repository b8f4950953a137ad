"""Crisis blocks: one wording per language in every topic (lint), the verified 988 options,
and the clinic's own after-hours and local crisis numbers printed after 988 and 911."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import pdftotext

from handoutkit.cli import main
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.lint.blocks import crisis_wording
from handoutkit.lint.rules import Linter

TOPIC = """---
id: {id}
lang: en
title: {title}
level: basics
version: "1.0"
updated: 2026-11-20
summary: A short topic.
credit: Written by the handouts project contributors.
mental_health: true
---

## What is it? {{#what-is}}

It is a common problem. Treatment helps most people feel better.

## What if I am in crisis? {{#crisis .required}}

::: emergency
**If you think about hurting yourself, get help right away.**

- Call 911 or go to the nearest emergency department.
- Call or text **988**{extra}.
:::
"""


def _lint(root, topics=None):
    library = Library(root)
    linter = Linter(library, load_brand(library.default_brand))
    linter.run(topics)
    return linter


def test_crisis_blocks_of_one_language_must_match_word_for_word(make_library):
    root = make_library({
        "handouts/aaa.en.md": TOPIC.format(id="aaa", title="Aaa", extra=""),
        "handouts/bbb.en.md": TOPIC.format(id="bbb", title="Bbb", extra=""),
        "handouts/ccc.en.md": TOPIC.format(id="ccc", title="Ccc", extra=", any time"),
    })
    linter = _lint(root, ["aaa", "bbb", "ccc"])
    found = [f for f in linter.errors if f.check == "crisis"]
    assert [(f.topic, f.line) for f in found] == [("ccc", 17)]
    assert found[0].message.startswith("the crisis block is not word for word the one in "
                                       "aaa, bbb: it differs at '")
    # The same words, wrapped differently, are the same block.
    root = make_library({
        "handouts/aaa.en.md": TOPIC.format(id="aaa", title="Aaa", extra=""),
        "handouts/bbb.en.md": TOPIC.format(id="bbb", title="Bbb", extra="").replace(
            "Call or text **988**.", "Call or text\n  **988**."),
    })
    assert not [f for f in _lint(root, ["aaa", "bbb"]).errors if f.check == "crisis"]


def test_bundled_crisis_blocks_are_one_wording_per_language():
    library = Library()
    wordings: dict[str, set[str]] = {}
    for entry in library.files():
        topic = library.topic(entry.id, entry.lang)
        if topic.mental_health:
            wordings.setdefault(entry.lang, set()).add(crisis_wording(topic.section("crisis")))
    assert {lang: len(w) for lang, w in wordings.items()} == {lang: 1 for lang in wordings}
    assert {"en", "es", "vi", "tl", "ru", "ar"} <= set(wordings)
    english, = wordings["en"]
    for words in ("911", "Call or text 988", "988lifeline.org", "free and private",
                  "24 hours a day, 7 days a week", "press 1", "text 838255", "press 2",
                  "text AYUDA to 988", "988lineadevida.org", "stay on the line",
                  "more than 240 languages", "Text and chat are in English and Spanish only",
                  "Deaf or hard of hearing", "text telephone (TTY)",
                  "use your relay service or dial 711, then 988",
                  "American Sign Language (ASL), call 988 from a videophone",
                  "do not wait for a call back"):
        assert words in english, words
    # Every language gives the TTY and videophone ways in, with their numbers.
    for lang, (wording,) in wordings.items():
        assert "TTY" in wording and "711" in wording and "ASL" in wording, lang
    spanish, = wordings["es"]
    for words in ("911", "oprima 2", "AYUDA", "988lineadevida.org", "gratis y confidencial",
                  "oprima 1", "838255", "no cuelgue", "240",
                  "no espere a que le devuelvan la llamada", "marque 711 y luego 988",
                  "videoteléfono"):
        assert words in spanish, words
    # The same options in every language: veterans (press 1, text 838255), Spanish (press
    # 2, AYUDA), an interpreter in 240+ languages.
    for lang, (wording,) in wordings.items():
        for words in ("911", "988", "838255", "AYUDA", "988lineadevida.org", "240"):
            assert words in wording, (lang, words)


def test_crisis_blocks_lead_with_two_short_lines():
    """Each crisis block opens with two short bold lines a person in crisis can act on:
    danger now (911), then 988; at most about 12 words each (Chinese, Japanese: 36 characters)."""
    library = Library()
    for entry in library.files():
        topic = library.topic(entry.id, entry.lang)
        if not topic.mental_health:
            continue
        tokens = list(topic.section("crisis").tokens)
        start = next(i for i, t in enumerate(tokens) if t.type == "container_emergency_open")
        leads = []
        for i in range(start + 1, len(tokens) - 1):
            if tokens[i].type != "paragraph_open" or tokens[i].level != tokens[start].level + 1:
                if tokens[i].type == "bullet_list_open":
                    break
                continue
            leads.append(tokens[i + 1].content)
        assert len(leads) == 2, (entry.path.name, leads)
        assert "911" in leads[0] and "988" in leads[1], (entry.path.name, leads)
        for lead in leads:
            assert lead.startswith("**") and lead.endswith("**"), (entry.path.name, lead)
            text = lead.strip("*")
            chinese_or_japanese = entry.lang.startswith(("zh", "ja"))
            size = len(text.replace(" ", "")) if chinese_or_japanese else len(text.split())
            assert size <= (36 if chinese_or_japanese else 14), (entry.path.name, lead)

BRAND = """name = "Test Clinic"
color = "#1f5f8b"
phone = "(555) 010-0100"
after_hours = "(555) 010-0123"
local_crisis = "(555) 010-0777"

[lang.es]
after_hours = "(555) 010-0124"
"""


@pytest.mark.parametrize("spec, lines", [
    ("suicide-prevention", ["After hours, call our clinic at (555) 010-0123.",
                            "Local crisis line: (555) 010-0777."]),
    ("depression-adults@es", ["Fuera del horario de atención, llame a nuestra clínica al "
                              "(555) 010-0124.", "Línea local de crisis: (555) 010-0777."]),
])
def test_clinic_numbers_print_in_the_crisis_block_after_988_and_911(tmp_path, spec, lines):
    brand = tmp_path / "brand.toml"
    brand.write_text(BRAND, encoding="utf-8")
    out = tmp_path / "crisis.pdf"
    result = CliRunner().invoke(main, ["build", f"{spec}:crisis", "--brand", str(brand),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = " ".join(pdftotext(out).split())
    positions = [text.index(line) for line in lines]
    assert positions == sorted(positions)
    assert max(text.index("988"), text.index("911")) < positions[0]
    # Inside the box: before the end of the block's last line of the Lifeline.
    assert text.count("(555) 010-0777") == 1


def test_no_clinic_numbers_when_the_brand_has_none(tmp_path):
    out = tmp_path / "plain.pdf"
    result = CliRunner().invoke(main, ["build", "suicide-prevention:crisis", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = pdftotext(out)
    assert "After hours" not in text and "Local crisis line" not in text


def test_brand_numbers_must_be_text(tmp_path):
    brand = tmp_path / "brand.toml"
    brand.write_text('name = "X"\nafter_hours = 5550100\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"'after_hours' must be text in quotes"):
        load_brand(brand)
