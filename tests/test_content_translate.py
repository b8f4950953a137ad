"""The translators' exchange: XLIFF 2.1 out, translated XLIFF back in, refused when the
placeholders, the units or the source changed; stale translations listed and linted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT, pdftotext
from lxml import etree

from handoutkit.content.header import split_front_matter
from handoutkit.content_ops.units import protect, segment

NS = {"x": "urn:oasis:names:tc:xliff:document:2.0",
      "mda": "urn:oasis:names:tc:xliff:metadata:2.0"}
XLIFF = "{urn:oasis:names:tc:xliff:document:2.0}"

PLAIN_TOPIC = """\
---
id: hand-washing
lang: en
title: Washing Your Hands
level: basics
version: "1.0"
updated: 2026-11-01
summary: How and when to wash your hands.
credit: Written by the clinic's care team.
---

<!-- An editor's note. -->

## Why wash your hands? {#why}

Clean hands stop **germs** from spreading.
Wash them *often*, as the
[CDC](https://www.cdc.gov/handwashing) says.

## How do I wash them? {#how}

1. Wet your hands.
2. Rub them with soap for 20 seconds.
   - Scrub between your fingers.
3. Call 555-123-4567 or visit example.org if you have a rash.

| When | Why |
|---|---|
| Before you eat | Germs get in your mouth |
| After the toilet | |

![A person washing hands at a sink](images/sink.png "Wash for 20 seconds.")
"""


@pytest.fixture
def clinic(tmp_path):
    root = tmp_path / "clinic"
    (root / "handouts").mkdir(parents=True)
    (root / "handouts" / "hand-washing.en.md").write_text(PLAIN_TOPIC, encoding="utf-8")
    return root


def export(run, clinic, topic, lang, out, *more):
    result = run("--library", clinic, "translate", "export", topic, "--to", lang, "-o", out,
                 *more)
    assert result.exit_code == 0, result.output
    return etree.parse(str(out))


def body(path: Path) -> str:
    return split_front_matter(path.read_text(encoding="utf-8"), path)[1]


def test_segmenting_and_filling_gives_every_bundled_topic_back_byte_for_byte():
    for path in sorted((ROOT / "handouts").glob("*.md")):
        text = body(path)
        assert segment(text).fill({}) == text, path.name


def test_placeholders_protect_numbers_addresses_and_markup():
    parts = protect("Call or text **988**, or 911, at 988lifeline.org or "
                    "[the site](https://x.org/a), or (555) 123-4567. Take 9880 pills.")
    marks = [p.text for p in parts if not isinstance(p, str)]
    assert marks == ["**", "988", "**", "911", "988lifeline.org", "[", "](https://x.org/a)",
                     "(555) 123-4567"]


def test_export_is_xliff_2_1_with_a_unit_per_text_and_protected_placeholders(run, clinic,
                                                                             tmp_path):
    tree = export(run, clinic, "hand-washing", "fr", tmp_path / "hw.xlf")
    root = tree.getroot()
    assert root.tag == f"{XLIFF}xliff" and root.get("version") == "2.1"
    assert (root.get("srcLang"), root.get("trgLang")) == ("en", "fr")
    meta = {m.get("type"): m.text for m in root.iter("{%s}meta" % NS["mda"])}
    assert meta["topic"] == "hand-washing" and meta["version"] == "1.0"
    units = root.findall(".//x:unit", NS)
    kinds = [u.get("name") for u in units]
    # title, summary, credit; 2 headings, 1 paragraph; 4 list items; 5 filled cells;
    # the picture's description and caption.
    assert kinds.count("heading") == 2 and kinds.count("item") == 4
    assert kinds.count("cell") == 5 and kinds.count("paragraph") == 1
    assert {"title", "summary", "credit", "picture", "caption"} <= set(kinds)
    assert len({u.get("id") for u in units}) == len(units)
    groups = [g.get("name") for g in root.findall(".//x:group", NS)]
    assert groups == ["header", "why", "how"]
    paragraph = next(u for u in units if u.get("name") == "paragraph")
    data = [d.text for d in paragraph.findall(".//x:data", NS)]
    assert data == ["**", "**", "*", "*", "[", "](https://www.cdc.gov/handwashing)"]
    phone = next(u for u in units if "555" in etree.tostring(u, encoding=str))
    assert [d.text for d in phone.findall(".//x:data", NS)] == ["555-123-4567", "example.org"]
    source = phone.find(".//x:source", NS)
    assert "555" not in (source.text or "") + "".join(p.tail or "" for p in source)
    assert all(u.find(".//x:note[@category='location']", NS) is not None for u in units)


def test_round_trip_without_changes_gives_the_same_document(run, clinic, tmp_path):
    export(run, clinic, "hand-washing", "fr", tmp_path / "hw.xlf")
    result = run("--library", clinic, "translate", "import", tmp_path / "hw.xlf")
    assert result.exit_code == 0, result.output
    written = clinic / "handouts" / "hand-washing.fr.md"
    assert body(written) == body(clinic / "handouts" / "hand-washing.en.md")
    header = written.read_text(encoding="utf-8").split("---")[1]
    assert "translated_from: {lang: en, version: \"1.0\"}" in header
    assert "lang: fr" in header and "title: Washing Your Hands" in header
    assert re.search(r"reviewed_by: .*Pending", header)


def _fill(tree, texts: dict[str, str]) -> None:
    """Give units a target: their id -> Markdown text, placeholders as in the source."""
    for unit in tree.getroot().iter(f"{XLIFF}unit"):
        if unit.get("id") not in texts:
            continue
        segment_el = unit.find("x:segment", NS)
        target = segment_el.find("x:target", NS)
        if target is None:
            target = etree.SubElement(segment_el, f"{XLIFF}target")
        for child in list(target):
            target.remove(child)
        target.text = None
        data = [(d.text, d.get("id")) for d in unit.iter(f"{XLIFF}data")]
        last = None
        for part in protect(texts[unit.get("id")]):
            if isinstance(part, str):
                if last is None:
                    target.text = (target.text or "") + part
                else:
                    last.tail = (last.tail or "") + part
            else:
                index = next(i for i, (text, _) in enumerate(data) if text == part.text)
                number = data.pop(index)[1][1:]
                last = etree.SubElement(target, f"{XLIFF}ph", id=number, dataRef=f"d{number}")


def test_a_filled_translation_imports_lints_and_builds_in_its_language(run, clinic, tmp_path):
    # The test translation: the bundled Spanish depression topic, unit for unit.
    out = tmp_path / "dep.xlf"
    tree = export(run, clinic, "depression-adults", "es", out)
    crisis = [u for u in tree.getroot().iter(f"{XLIFF}unit") if u.get("name") == "crisis"]
    assert len(crisis) == 1
    target = crisis[0].find(".//x:target", NS).text
    assert target.startswith("**¿Hay peligro ahora? Llame al 911")  # the es wording
    assert "approved crisis wording for 'es'" in crisis[0].find(
        ".//x:note[@category='crisis']", NS).text
    english = segment(body(ROOT / "handouts" / "depression-adults.en.md")).units
    spanish_path = ROOT / "handouts" / "depression-adults.es.md"
    spanish = segment(body(spanish_path)).units
    texts = {e.id: s.text for e, s in zip(english, spanish, strict=True) if e.kind != "crisis"}
    head = spanish_path.read_text(encoding="utf-8")
    for name in ("title", "summary", "credit"):
        texts[f"header.{name}"] = re.search(rf"^{name}: (.*)$", head, re.M)[1].strip('"')
    _fill(tree, texts)
    tree.write(str(out), xml_declaration=True, encoding="UTF-8")
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 0, result.output
    written = clinic / "handouts" / "depression-adults.es.md"
    assert body(written) == body(spanish_path)
    lint = run("--library", clinic, "lint", "depression-adults", "--json")
    import json

    findings = json.loads(lint.stdout)["findings"]
    mine = [f for f in findings if f["path"] == str(written) and f["severity"] == "error"]
    assert mine == [] and lint.exit_code == 0
    pdf = tmp_path / "dep-es.pdf"
    built = run("--library", clinic, "build", "depression-adults@es", "-o", pdf)
    assert built.exit_code == 0, built.output
    assert "Depresión en adultos" in pdftotext(pdf)


def _unit_with(tree, text: str):
    return next(u for u in tree.getroot().iter(f"{XLIFF}unit")
                if text in "".join(u.find(".//x:source", NS).itertext())
                or text in [d.text for d in u.iter(f"{XLIFF}data")])


def test_changed_dropped_or_reordered_placeholders_are_refused(run, clinic, tmp_path):
    cases = {
        "changed": lambda unit: unit.find(".//x:data", NS).__setattr__("text", "555-999-0000"),
        "dropped": lambda unit: _fill_raw(unit, [("ph", "1"), "Llame."]),
        "reordered": lambda unit: _fill_raw(unit, [("ph", "2"), " o ", ("ph", "1")]),
    }
    for name, spoil in cases.items():
        out = tmp_path / f"{name}.xlf"
        tree = export(run, clinic, "hand-washing", "fr", out)
        unit = _unit_with(tree, "555-123-4567")
        spoil(unit)
        tree.write(str(out))
        result = run("--library", clinic, "translate", "import", out)
        assert result.exit_code == 1, name
        assert f"unit {unit.get('id')}" in result.stderr, name
        assert name in result.stderr, (name, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (clinic / "handouts" / "hand-washing.fr.md").exists()


def _fill_raw(unit, parts) -> None:
    segment_el = unit.find("x:segment", NS)
    target = etree.SubElement(segment_el, f"{XLIFF}target")
    last = None
    for part in parts:
        if isinstance(part, tuple):
            last = etree.SubElement(target, f"{XLIFF}ph", id=part[1], dataRef=f"d{part[1]}")
        elif last is None:
            target.text = part
        else:
            last.tail = part


def test_a_missing_unit_and_a_changed_source_are_refused_force_marks_stale(run, clinic,
                                                                          tmp_path):
    out = tmp_path / "hw.xlf"
    tree = export(run, clinic, "hand-washing", "fr", out)
    unit = _unit_with(tree, "Wet your hands.")
    unit.getparent().remove(unit)
    tree.write(str(out))
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 1 and f"unit {unit.get('id')}" in result.stderr
    assert "missing" in result.stderr

    export(run, clinic, "hand-washing", "fr", out)
    source = clinic / "handouts" / "hand-washing.en.md"
    source.write_text(source.read_text().replace("Wet your hands.", "Wet both hands.")
                      .replace('version: "1.0"', 'version: "1.1"'), encoding="utf-8")
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 1
    assert "changed since this file was exported" in result.stderr
    assert not (clinic / "handouts" / "hand-washing.fr.md").exists()
    result = run("--library", clinic, "translate", "import", out, "--force")
    assert result.exit_code == 0 and "stale" in result.output
    header = (clinic / "handouts" / "hand-washing.fr.md").read_text().split("---")[1]
    assert 'translated_from: {lang: en, version: "1.0", stale: true}' in header
    listed = run("--library", clinic, "list", "--stale")
    assert listed.output.strip() == ("hand-washing@fr  (en 1.0 -> 1.1)  translated from "
                                     "version 1.0; the source is now 1.1")
    lint = run("--library", clinic, "lint", "hand-washing")
    assert "translated from English version 1.0" in lint.output
    assert "[translation] imported with --force" in lint.output


def test_changed_since_exports_only_the_changed_units_and_imports_them(run, clinic, tmp_path):
    first = tmp_path / "v1.xlf"
    export(run, clinic, "hand-washing", "fr", first)
    run("--library", clinic, "translate", "import", first)  # the translation of 1.0
    source = clinic / "handouts" / "hand-washing.en.md"
    source.write_text(source.read_text().replace("Wet your hands.", "Wet both hands.")
                      .replace('version: "1.0"', 'version: "1.1"'), encoding="utf-8")
    second = tmp_path / "v2.xlf"
    tree = export(run, clinic, "hand-washing", "fr", second, "--changed-since", "1.0")
    units = list(tree.getroot().iter(f"{XLIFF}unit"))
    assert ["".join(u.find(".//x:source", NS).itertext()) for u in units] == ["Wet both hands."]
    _fill(tree, {units[0].get("id"): "Mouillez vos deux mains."})
    tree.write(str(second))
    result = run("--library", clinic, "translate", "import", second)
    assert result.exit_code == 0, result.output
    text = (clinic / "handouts" / "hand-washing.fr.md").read_text()
    assert "1. Mouillez vos deux mains." in text and "Wet" not in text
    assert 'translated_from: {lang: en, version: "1.1"}' in text
    assert run("--library", clinic, "list", "--stale").output.strip() == "No stale translations."


def test_a_hostile_or_foreign_file_is_refused_in_one_line(run, clinic, tmp_path):
    bomb = tmp_path / "bomb.xlf"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                    '<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.1">'
                    "&a;</xliff>")
    other = tmp_path / "old.xlf"
    other.write_text('<xliff xmlns="urn:oasis:names:tc:xliff:document:1.2" version="1.2"/>')
    for path, words in ((bomb, "DOCTYPE"), (other, "not an XLIFF 2.0 or 2.1 file")):
        result = run("--library", clinic, "translate", "import", path)
        assert result.exit_code == 1 and words in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_translation_that_would_change_the_layout_is_refused(run, clinic, tmp_path):
    out = tmp_path / "hw.xlf"
    tree = export(run, clinic, "hand-washing", "fr", out)
    unit = _unit_with(tree, "Wet your hands.")
    _fill_raw(unit, ["Mouillez vos mains.\n\n## Nouvelle section"])
    tree.write(str(out))
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 1
    assert f"unit {unit.get('id')}" in result.stderr and "layout" in result.stderr
    assert not (clinic / "handouts" / "hand-washing.fr.md").exists()


def test_one_line_units_stay_on_one_line_and_annotations_are_read(run, clinic, tmp_path):
    out = tmp_path / "hw.xlf"
    tree = export(run, clinic, "hand-washing", "fr", out)
    cell = _unit_with(tree, "Before you eat")
    _fill_raw(cell, ["Avant de\nmanger | vite"])
    heading = _unit_with(tree, "How do I wash them?")
    target = etree.SubElement(heading.find("x:segment", NS), f"{XLIFF}target")
    target.text = "Comment "
    mark = etree.SubElement(target, f"{XLIFF}mrk", id="m1", type="comment", value="ok")
    mark.text = "les laver"
    mark.tail = " ?"
    tree.write(str(out))
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 0, result.output
    text = (clinic / "handouts" / "hand-washing.fr.md").read_text()
    assert "| Avant de manger \\| vite | Germs get in your mouth |" in text
    assert "## Comment les laver ? {#how}" in text


def test_a_unit_resegmented_by_a_cat_tool_is_read_whole(run, clinic, tmp_path):
    out = tmp_path / "hw.xlf"
    tree = export(run, clinic, "hand-washing", "fr", out)
    unit = _unit_with(tree, "Rub them with soap")
    old = unit.find("x:segment", NS)
    unit.remove(old)
    for tag, source, target in (("segment", "Rub them with soap for 20", "Frottez-les 20"),
                                ("ignorable", " ", None),
                                ("segment", "seconds.", "secondes.")):
        part = etree.SubElement(unit, f"{XLIFF}{tag}")
        etree.SubElement(part, f"{XLIFF}source").text = source
        if target is not None:
            etree.SubElement(part, f"{XLIFF}target").text = target
    tree.write(str(out))
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 0, result.output
    assert "2. Frottez-les 20 secondes." in (clinic / "handouts" / "hand-washing.fr.md").read_text()


def test_exports_are_valid_against_the_schema_and_invalid_files_are_refused(run, clinic,
                                                                           tmp_path):
    from handoutkit.content_ops.xliff import schema

    for topic, lang in (("hand-washing", "fr"), ("psychotherapy", "es"),
                        ("suicide-prevention", "ar")):
        tree = export(run, clinic, topic, lang, tmp_path / f"{topic}.xlf")
        assert schema().validate(tree), schema().error_log.last_error
    out = tmp_path / "hand-washing.xlf"
    tree = etree.parse(str(out))
    unit = tree.getroot().find(".//x:unit", NS)
    unit.find("x:segment", NS).insert(0, etree.Element(f"{XLIFF}target"))
    tree.write(str(out))
    result = run("--library", clinic, "translate", "import", out)
    assert result.exit_code == 1
    assert "not valid XLIFF 2.1" in result.stderr and "target" in result.stderr
