"""Clinical review on the record: `review` records who, when and a digest of the content;
`lint --release` fails when the content changed since, when the review is due or pending;
`diff` shows what changed (text and PDF); `review --due` lists what is due, oldest first."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil

import pytest
from conftest import ROOT, pdffonts, pdftotext

from handoutkit.content_ops import diff as diffs
from handoutkit.content_ops.review import add_duration, parse_duration

TODAY = dt.date.today()


@pytest.fixture
def clinic(tmp_path):
    root = tmp_path / "clinic"
    (root / "handouts").mkdir(parents=True)
    shutil.copy(ROOT / "handouts" / "psychotherapy.en.md", root / "handouts")
    return root


def header(path) -> str:
    return path.read_text(encoding="utf-8").split("---")[1]


def release_review_errors(run, clinic) -> list[str]:
    result = run("--library", clinic, "lint", "--release", "psychotherapy", "--json")
    findings = json.loads(result.stdout)["findings"]
    return [f["message"] for f in findings if f["check"] == "review"
            and f["severity"] == "error" and f["path"].startswith(str(clinic))]


def test_review_records_who_when_and_the_digest(run, clinic):
    topic = clinic / "handouts" / "psychotherapy.en.md"
    assert any("not reviewed by a clinician yet" in m for m in release_review_errors(run, clinic))
    updated = dt.date.fromisoformat(re.search(r"^updated: (\S+)", header(topic), re.M)[1])
    day = max(TODAY - dt.timedelta(days=3), updated).isoformat()
    result = run("--library", clinic, "review", "psychotherapy", "--by", "Dana Lee,  MD",
                 "--date", day, "--due", "18m")
    assert result.exit_code == 0, result.output
    head = header(topic)
    assert "reviewed_by: Dana Lee, MD" in head
    assert f"reviewed_on: {day}" in head
    assert re.search(r"^review_digest: \"?sha256:[0-9a-f]{64}\"?$", head, re.M)
    due = add_duration(dt.date.fromisoformat(day), parse_duration("18m"))
    assert f"review_due: {due.isoformat()}" in head
    # Only the review fields changed: the rest of the file is as it was.
    original = (ROOT / "handouts" / "psychotherapy.en.md").read_text(encoding="utf-8")
    assert topic.read_text(encoding="utf-8").split("---", 2)[2] == original.split("---", 2)[2]
    assert release_review_errors(run, clinic) == []
    kept = list((clinic / "history" / "psychotherapy.en").glob("*.md"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == original


def _change(topic, old, new):
    text = topic.read_text(encoding="utf-8")
    assert old in text
    topic.write_text(text.replace(old, new), encoding="utf-8")


def test_changed_content_fails_release_naming_the_sections_and_diff_shows_it(run, clinic,
                                                                            tmp_path):
    topic = clinic / "handouts" / "psychotherapy.en.md"
    run("--library", clinic, "review", "psychotherapy", "--by", "Dana Lee, MD")
    _change(topic, "talk therapy. You meet", "talk therapy. You see")
    _change(topic, "They may use one or mix a few.",
            "They may use one or mix a few, and change them over time.")
    assert release_review_errors(run, clinic) == [
        "review out of date: changed sections what-is, types"]
    plain = run("--library", clinic, "lint", "psychotherapy")
    assert "warning: [review] review out of date: changed sections what-is, types" in plain.output

    result = run("--library", clinic, "diff", "psychotherapy", "--since-review")
    assert result.exit_code == 0
    out = result.output
    assert "== what-is: changed" in out and "== types: changed" in out
    assert "[-meet-] {+see+}" in out
    assert "[-few.-] {+few, and change them over time.+}" in out
    assert "== how-it-helps" not in out and "Unchanged: how-it-helps" in out
    assert out.startswith("psychotherapy (en): reviewed on ")
    pdf = tmp_path / "changes.pdf"
    result = run("--library", clinic, "diff", "psychotherapy", "--since-review", "--pdf", pdf)
    assert result.exit_code == 0
    text = " ".join(pdftotext(pdf).split())
    assert "What changed: psychotherapy (en)" in text
    updated = re.search(r"^updated: (\S+)", header(topic), re.M)[1]
    assert f"updated {updated}" in text and "meet see" in text
    fonts = pdffonts(pdf)
    assert fonts and all(f["emb"] == "yes" and re.search(r"\+(Atkinson|Noto)", f["name"])
                         for f in fonts)
    html = diffs.as_html(diffs.compare("psychotherapy", "en", *diffs.since_review(
        __import__("handoutkit.content.library", fromlist=["Library"]).Library(clinic),
        "psychotherapy", "en"), topic), TODAY)
    assert "<del>meet</del> <ins>see</ins>" in html
    assert "text-decoration: line-through" in diffs.PDF_CSS
    assert "ins { text-decoration: underline" in diffs.PDF_CSS

    # Reviewing again makes it current.
    run("--library", clinic, "review", "psychotherapy", "--by", "Dana Lee, MD")
    assert release_review_errors(run, clinic) == []


def test_a_changed_picture_or_source_also_outdates_the_review(run, clinic):
    topic = clinic / "handouts" / "psychotherapy.en.md"
    run("--library", clinic, "review", "psychotherapy", "--by", "Dana Lee, MD")
    _change(topic, "(2022: therapy by video or by phone)", "(2023: therapy by video)")
    assert release_review_errors(run, clinic) == [
        "review out of date: changed sections pictures or sources"]
    run("--library", clinic, "review", "psychotherapy", "--by", "Dana Lee, MD")
    assert release_review_errors(run, clinic) == []
    # The clinic's own drawing in place of the bundled one: the same text, another picture.
    images = clinic / "handouts" / "images"
    images.mkdir()
    bundled = (ROOT / "handouts" / "images" / "therapy-formats.svg").read_text()
    (images / "therapy-formats.svg").write_text(bundled.replace("</svg>", "<g/></svg>"))
    assert release_review_errors(run, clinic) == [
        "review out of date: changed sections pictures or sources"]


def test_diff_between_two_versions_and_files(run, clinic, tmp_path):
    topic = clinic / "handouts" / "psychotherapy.en.md"
    old = tmp_path / "old.md"
    shutil.copy(topic, old)
    _change(topic, 'version: "1.3"', 'version: "1.4"')
    _change(topic, "Most visits last about 45 to 60 minutes",
            "Most visits last about 50 minutes")
    result = run("--library", clinic, "diff", "psychotherapy", old, "current")
    assert result.exit_code == 0
    assert "== sessions: changed" in result.output
    assert "[-45 to 60-] {+50+}" in result.output
    assert run("--library", clinic, "diff", "psychotherapy").exit_code == 2
    missing = run("--library", clinic, "diff", "psychotherapy", "0.9", "current")
    assert missing.exit_code == 1 and "no copy of version 0.9" in missing.stderr


def _topic(clinic, topic_id, due, reviewed_by="Dana Lee, MD"):
    text = (ROOT / "handouts" / "psychotherapy.en.md").read_text(encoding="utf-8")
    text = text.replace("id: psychotherapy", f"id: {topic_id}")
    text = re.sub(r"review_due: .*", f"review_due: {due}", text)
    text = re.sub(r"reviewed_by: .*", f"reviewed_by: {reviewed_by}", text)
    (clinic / "handouts" / f"{topic_id}.en.md").write_text(text, encoding="utf-8")


def test_review_due_lists_oldest_first_as_csv_and_json(run, clinic):
    _topic(clinic, "later", (TODAY + dt.timedelta(days=60)).isoformat())
    _topic(clinic, "overdue", (TODAY - dt.timedelta(days=30)).isoformat())
    _topic(clinic, "far", (TODAY + dt.timedelta(days=400)).isoformat())
    result = run("--library", clinic, "review", "--due", "--within", "90d", "--format", "csv")
    assert result.exit_code == 0
    rows = [r for r in csv.DictReader(io.StringIO(result.output)) if r["topic"] in
            ("later", "overdue", "far", "psychotherapy")]
    assert [(r["topic"], r["state"]) for r in rows[:2]] == [("overdue", "due"),
                                                            ("later", "due")]
    assert "far" not in [r["topic"] for r in rows]
    assert ("psychotherapy", "pending") in [(r["topic"], r["state"]) for r in rows]
    dates = [r["review_due"] for r in csv.DictReader(io.StringIO(result.output))]
    assert dates == sorted(dates, key=lambda d: d or "0000")
    soon = json.loads(run("--library", clinic, "review", "--due", "--format", "json").output)
    assert "later" not in [r["topic"] for r in soon]
    assert [r for r in soon if r["topic"] == "overdue"][0]["message"].startswith(
        "review was due on")
    one = run("--library", clinic, "review", "overdue", "--due", "--format", "json")
    assert [r["topic"] for r in json.loads(one.output)] == ["overdue"]
    lint = run("--library", clinic, "lint", "--release", "overdue")
    assert lint.exit_code == 1 and "review was due on" in lint.output


def test_review_refuses_bad_input_in_one_line(run, clinic):
    for args, words in (
            (["review", "psychotherapy", "--by", "Pending someone"], "--by must name"),
            (["review", "psychotherapy", "--by", "A, MD", "--due", "soon"], "not a duration"),
            (["review", "psychotherapy", "--by", "A, MD", "--date", "2999-01-01"], "future"),
            (["review", "psychotherapy", "--by", "A, MD", "--date", "2026-11-01"],
             "before the topic's last change (2026-12-06)"),
            (["review", "nosuch", "--by", "A, MD"], "unknown topic")):
        result = run("--library", clinic, *args)
        assert result.exit_code == 1, args
        assert words in result.stderr and result.stderr.count("\n") == 1
    assert "review_digest" not in header(clinic / "handouts" / "psychotherapy.en.md")


def test_review_fields_are_checked_when_read(clinic):
    from handoutkit.content.topic import parse_topic
    from handoutkit.errors import LibraryError

    path = clinic / "handouts" / "psychotherapy.en.md"
    text = path.read_text(encoding="utf-8")
    good = text.replace("review_due:", f"reviewed_on: 2026-12-01\nreview_digest: sha256:{'a' * 64}"
                        "\nreview_due:")
    topic = parse_topic(good, path)
    assert (topic.reviewed_on, topic.review_digest) == ("2026-12-01", "sha256:" + "a" * 64)
    for bad, words in (("review_digest: md5:abc", "must be 'sha256:' and 64 hex digits"),
                       ("reviewed_on: yesterday", "'yesterday' is not a date"),
                       ('translated_from: {lang: en, version: "1.0", stale: maybe}',
                        "must be like")):
        with pytest.raises(LibraryError, match=re.escape(words)):
            parse_topic(text.replace("review_due:", bad + "\nreview_due:"), path)


def test_reviewing_a_bundled_topic_makes_the_clinic_its_signed_copy(run, clinic):
    assert not (clinic / "handouts" / "suicide-prevention.es.md").exists()
    result = run("--library", clinic, "review", "suicide-prevention@es", "--by",
                 "Ana Ruiz, RN", "--due", "1y")
    assert result.exit_code == 0, result.output
    copy = clinic / "handouts" / "suicide-prevention.es.md"
    bundled = ROOT / "handouts" / "suicide-prevention.es.md"
    assert copy.read_text(encoding="utf-8").split("---", 2)[2] == \
        bundled.read_text(encoding="utf-8").split("---", 2)[2]
    assert "reviewed_by: Ana Ruiz, RN" in header(copy)
    assert "reviewed_by: Ana Ruiz" not in header(bundled)
    lint = run("--library", clinic, "lint", "--release", "suicide-prevention", "--json")
    mine = [f for f in json.loads(lint.stdout)["findings"]
            if f["path"] == str(copy) and f["check"] == "review"]
    assert mine == []
