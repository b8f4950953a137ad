"""Clinical review on the record: who reviewed a topic, when, and a digest of exactly what
they reviewed (the body, the pictures' bytes and the sources), kept in the topic's header
(`reviewed_by`, `reviewed_on`, `review_digest`, `review_due`), with a copy of the reviewed
text in the library's history so later changes can be named section by section."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from handoutkit.content.library import Library
from handoutkit.content.topic import Topic
from handoutkit.errors import HandoutsError, LibraryError, OutputError

from . import history
from .topicfile import read_text, set_fields, split, writable_root, write_text

PENDING = ("pending", "pendiente")
DURATION_RE = re.compile(r"^(\d{1,3})([dwmy])$")
SECTION_RE = re.compile(r"^##[ \t]+(.*?)[ \t]*(\{[^{}]*\})?[ \t]*$", re.M)


class ReviewError(HandoutsError):
    """A review that cannot be recorded or listed as asked."""


def parse_duration(text: str) -> dt.timedelta | tuple[int, int]:
    """'90d', '12w', '6m', '2y': days and weeks as a timedelta, months and years as
    (months, 0) to add on the calendar."""
    match = DURATION_RE.match(text.strip().lower())
    if not match:
        raise ReviewError(f"'{text}' is not a duration: write it like 90d, 12w, 6m or 2y")
    number, unit = int(match[1]), match[2]
    if unit == "d":
        return dt.timedelta(days=number)
    if unit == "w":
        return dt.timedelta(weeks=number)
    return (number * (12 if unit == "y" else 1), 0)


def add_duration(day: dt.date, duration) -> dt.date:
    if isinstance(duration, dt.timedelta):
        return day + duration
    months = day.month - 1 + duration[0]
    year, month = day.year + months // 12, months % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def picture_path(library: Library, topic: Topic, src: str) -> Path | None:
    """A picture's file as the build finds it: beside the topic, else in the bundled library."""
    for folder in (topic.path.parent, library.bundled / "handouts"):
        candidate = (folder / src)
        if candidate.is_file():
            return candidate
    return None


def content_digest(library: Library, topic: Topic, text: str | None = None) -> str:
    """'sha256:...' of what a review covers: the body, each picture's bytes, the sources."""
    text = text if text is not None else read_text(topic.path)
    _, body = split(text, topic.path)
    digest = hashlib.sha256()
    digest.update(body.replace("\r\n", "\n").encode("utf-8"))
    for image in topic.images:
        digest.update(b"\0picture\0" + image.src.encode("utf-8") + b"\0")
        path = picture_path(library, topic, image.src)
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path else b"missing")
    for source in topic.sources:
        digest.update(b"\0source\0" + source.encode("utf-8"))
    return "sha256:" + digest.hexdigest()


def sections_of(text: str, path: Path) -> dict[str, str]:
    """A topic text's sections by id, each its Markdown (the intro under 'intro')."""
    from handoutkit.content.topic import slugify

    _, body = split(text, path)
    found: dict[str, str] = {}
    matches = list(SECTION_RE.finditer(body))
    if matches and matches[0].start() > 0 and body[: matches[0].start()].strip():
        found["intro"] = body[: matches[0].start()]
    for index, match in enumerate(matches):
        attrs = re.search(r"#([a-z0-9-]+)", match[2] or "")
        section_id = attrs[1] if attrs else slugify(match[1])
        end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        found[section_id] = body[match.start():end].strip()
    return found


def changed_sections(old_text: str, new_text: str, path: Path) -> list[str]:
    """The ids of the sections that differ between two texts of a topic, in the new order
    (removed ones last)."""
    old, new = sections_of(old_text, path), sections_of(new_text, path)
    changed = [sid for sid, text in new.items() if old.get(sid) != text]
    return changed + [sid for sid in old if sid not in new]


def _reviewed_text(library: Library, topic: Topic) -> str | None:
    kept = history.by_digest(library.roots, topic.id, topic.lang,
                             (topic.review_digest or "").removeprefix("sha256:"))
    return read_text(kept) if kept else None


@dataclass(frozen=True)
class Status:
    """Where a topic's review stands."""

    topic: Topic
    state: str  # reviewed | pending | out-of-date | due
    message: str
    changed: tuple[str, ...] = ()


def status(library: Library, topic: Topic, today: dt.date) -> Status:
    """pending (no clinician yet), out-of-date (content changed since the review), due
    (review_due passed) or reviewed."""
    reviewer = (topic.reviewed_by or "").strip()
    if not reviewer or reviewer.lower().startswith(PENDING):
        return Status(topic, "pending", "review pending: no clinician has reviewed it yet")
    if topic.review_digest:
        text = read_text(topic.path)
        if content_digest(library, topic, text) != topic.review_digest:
            reviewed = _reviewed_text(library, topic)
            changed = tuple(changed_sections(reviewed, text, topic.path)) if reviewed else ()
            if reviewed is not None and not changed:
                changed = ("pictures or sources",)
            what = (f"changed sections {', '.join(changed)}" if changed else
                    "the content changed (no copy of the reviewed version is kept to name "
                    "the sections)")
            return Status(topic, "out-of-date", f"review out of date: {what}", changed)
    if topic.review_due and topic.review_due < today:
        return Status(topic, "due", f"review was due on {topic.review_due}")
    return Status(topic, "reviewed", f"reviewed by {reviewer}")


def lint_findings(library: Library, topic: Topic, today: dt.date, release: bool
                  ) -> list[tuple[str, str, str]]:
    """What lint reports about the review record beyond its dates: content changed since
    the review (an error for release), and a translation imported against a changed source."""
    found = []
    if topic.review_digest:
        state = status(library, topic, today)
        if state.state == "out-of-date":
            found.append(("error" if release else "warning", "review", state.message))
    if topic.translated_from and not topic.translated_from.startswith("en "):
        # (lint's translation check compares with an English source itself)
        source_lang, version = topic.translated_from.split()[:2]
        if library.has(topic.id, source_lang):
            source = library.topic(topic.id, source_lang)
            if _version(version) < _version(source.version):
                found.append(("warning", "translation",
                              f"translated from the '{source_lang}' version {version}; it is "
                              f"now version {source.version}: update the translation"))
    if topic.translation_stale:
        found.append(("warning", "translation", "imported with --force from an exchange file "
                      "made before its source changed (translated_from: stale): update it"))
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def record(library: Library, topic_id: str, lang: str, by: str, day: dt.date,
           due: str | None) -> tuple[Topic, Path, str, dt.date]:
    """Record a review in the topic's header; returns (topic, file, digest, next due)."""
    by = " ".join(by.split())
    if not by or by.lower().startswith(PENDING):
        raise ReviewError("--by must name the reviewer, like \"Dana Lee, MD\"")
    topic = library.topic(topic_id, lang)
    if day > dt.date.today():
        raise ReviewError(f"--date {day} is in the future")
    if day < topic.updated:
        raise ReviewError(f"--date {day} is before the topic's last change ({topic.updated}): "
                          "a review covers the content as it is now")
    root = writable_root(library)
    # A bundled topic reviewed for a clinic becomes the clinic's own copy, signed; its
    # pictures still come from the bundled library.
    target = root / "handouts" / topic.path.name
    text = read_text(topic.path)
    digest = content_digest(library, topic, text)
    next_due = add_duration(day, parse_duration(due or "2y"))
    new_text = set_fields(text, topic.path, {"reviewed_by": by, "reviewed_on": day,
                                              "review_digest": digest,
                                              "review_due": next_due})
    try:
        history.keep(root, topic, text, digest.removeprefix("sha256:"))
    except OSError as exc:
        raise LibraryError(f"cannot keep a copy in {root / history.FOLDER}: {exc}") from None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {target.parent}: {exc.strerror}") from None
    write_text(target, new_text)
    return topic, target, digest, next_due


@dataclass(frozen=True)
class Due:
    topic: str
    lang: str
    title: str
    version: str
    state: str
    reviewed_by: str
    reviewed_on: str
    review_due: str
    message: str

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def due_list(library: Library, today: dt.date, within: str | None = None) -> list[Due]:
    """Topics and translations whose review is pending, out of date, past due or due
    within `within` of today, oldest first (no date first, then by due date)."""
    horizon = add_duration(today, parse_duration(within)) if within else today
    rows = []
    for entry in library.files():
        try:
            topic = library.topic(entry.id, entry.lang)
        except HandoutsError:
            continue
        state = status(library, topic, today)
        if state.state == "reviewed":
            if not (topic.review_due and topic.review_due <= horizon):
                continue
            state = Status(topic, "due", f"review due on {topic.review_due}")
        rows.append(Due(topic.id, topic.lang, topic.title, topic.version, state.state,
                        topic.reviewed_by or "", topic.reviewed_on or "",
                        topic.review_due.isoformat() if topic.review_due else "",
                        state.message))
    return sorted(rows, key=lambda r: (r.review_due or "0000", r.reviewed_on or "0000",
                                       r.topic, r.lang))
