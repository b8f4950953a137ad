"""A topic file's header: the YAML between the '---' lines, checked field by field.

Errors name the file and the line of the field.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import yaml

from ..errors import LibraryError

LEVELS = ("basics", "in-depth")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# A language tag: two letters, and a script for Chinese (zh-Hans, zh-Hant).
LANG_RE = re.compile(r"^[a-z]{2}(?:-[A-Z][a-z]{3})?$")
VERSION_RE = re.compile(r"^\d+(?:\.\d+){0,2}$")
REQUIRED_FIELDS = ("id", "lang", "title", "level", "version", "updated", "summary", "credit")
OPTIONAL_FIELDS = ("related", "codes", "mental_health", "reviewed_by", "review_due", "url",
                   "sources", "translated_from", "reviewed_on", "review_digest", "keywords")
# `review_digest` (written by `handouts review`): SHA-256 of the reviewed body, pictures
# and sources.
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


def split_front_matter(text: str, path: Path) -> tuple[str, str, int]:
    """Return (header, body, line number where the body starts)."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        raise LibraryError(f"{path}:1: a topic must start with a '---' line and its header")
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), index + 2
    raise LibraryError(f"{path}:1: the header is not closed by a '---' line")


def field_line(header: str, name: str) -> int:
    match = re.search(rf"^{re.escape(name)}\s*:", header, re.M)
    # +1 for the opening '---' line, +1 because lines count from one.
    return header.count("\n", 0, match.start()) + 2 if match else 1


def _as_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise LibraryError(f"{where}: '{value}' is not a date (write YYYY-MM-DD)") from None


def _as_list(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise LibraryError(f"{where}: write a list in square brackets, like [a, b]")
    return tuple(str(v).strip() for v in value)


class _HeaderLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when built in
    """Safe YAML that keeps dates as text, so a bad date is reported with its line."""


_HeaderLoader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _refuse_aliases(header: str, path: Path) -> None:
    """A header may not use YAML anchors and aliases (`&a`, `*a`): a few hundred bytes of
    nested aliases expand to gigabytes. Events are read without building anything."""
    for event in yaml.parse(header, Loader=_HeaderLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            line = event.start_mark.line + 2 if event.start_mark else 1
            raise LibraryError(f"{path}:{line}: the header may not use YAML anchors or "
                               "aliases (& and *); write each value out")


# Complexity over 10: one check per header field, in order.
def parse_metadata(header: str, path: Path) -> dict[str, Any]:  # noqa: C901
    """Validate the YAML header; errors name the file and line."""
    data = _load_yaml(header, path)

    def where(name: str) -> str:
        return f"{path}:{field_line(header, name)}: '{name}'"

    for name in data:
        if name not in REQUIRED_FIELDS + OPTIONAL_FIELDS:
            raise LibraryError(f"{where(name)} is not a known field")
    for name in REQUIRED_FIELDS:
        if data.get(name) in (None, ""):
            raise LibraryError(f"{path}:1: the header has no '{name}'")
    meta = _identity(data, where)
    meta["updated"] = _as_date(data["updated"], where("updated"))
    meta["review_due"] = (
        _as_date(data["review_due"], where("review_due")) if data.get("review_due") else None
    )
    meta["related"] = _as_list(data.get("related"), where("related"))
    meta["codes"] = _as_list(data.get("codes"), where("codes"))
    # What patients call it ("can't sleep", "hearing voices"): found by `handouts find`.
    meta["keywords"] = _as_list(data.get("keywords"), where("keywords"))
    # Where the facts (and the steps a picture shows) come from: public guidance with the
    # year; printed in small type and listed in the embedded manifest.
    meta["sources"] = _as_list(data.get("sources"), where("sources"))
    mental_health = data.get("mental_health", False)
    if not isinstance(mental_health, bool):
        raise LibraryError(f"{where('mental_health')} must be true or false")
    meta["mental_health"] = mental_health
    meta["url"] = str(data["url"]).strip() if data.get("url") else None
    if meta["url"] and not meta["url"].startswith("https://"):
        raise LibraryError(f"{where('url')} must start with https://")
    meta.update(_provenance(data, where))
    return meta


def _load_yaml(header: str, path: Path) -> dict:
    """The header as a mapping, read with safe YAML (no anchors, dates kept as text)."""
    try:
        if "&" in header or "*" in header:
            _refuse_aliases(header, path)
        data = yaml.load(header, Loader=_HeaderLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(exc, "problem", None) or "cannot be read"
        raise LibraryError(f"{path}:{line}: the header is not valid YAML ({problem})") from None
    if not isinstance(data, dict):
        raise LibraryError(f"{path}:2: the header must be 'field: value' lines")
    return data


def _identity(data: dict, where) -> dict[str, Any]:
    """The fields that name the topic: id, language, title, level, version, summary."""
    meta: dict[str, Any] = {}
    for name in ("id", "lang", "title", "level", "summary", "credit"):
        meta[name] = str(data[name]).strip()
    if not ID_RE.match(meta["id"]):
        raise LibraryError(f"{where('id')} must be lower-case letters, digits and hyphens")
    if not LANG_RE.match(meta["lang"]):
        raise LibraryError(f"{where('lang')} must be a language code such as en, vi or zh-Hans")
    if meta["level"] not in LEVELS:
        raise LibraryError(f"{where('level')} must be one of: {', '.join(LEVELS)}")
    version = data["version"]
    if isinstance(version, float):
        raise LibraryError(f"{where('version')} must be written in quotes, like \"1.0\"")
    meta["version"] = str(version).strip()
    if not VERSION_RE.match(meta["version"]):
        raise LibraryError(f"{where('version')} must look like \"1.0\"")
    return meta


def _provenance(data: dict, where) -> dict[str, Any]:
    """Who reviewed the topic and when, and which original a translation was made from."""
    meta: dict[str, Any] = {}
    meta["reviewed_by"] = str(data["reviewed_by"]).strip() if data.get("reviewed_by") else None
    meta["translated_from"] = _translated_from(data.get("translated_from"),
                                               where("translated_from"))
    meta["translation_stale"] = bool(isinstance(data.get("translated_from"), dict)
                                     and data["translated_from"].get("stale"))
    meta["reviewed_on"] = (_as_date(data["reviewed_on"], where("reviewed_on")).isoformat()
                           if data.get("reviewed_on") else None)
    digest = str(data["review_digest"]).strip() if data.get("review_digest") else None
    if digest and not DIGEST_RE.match(digest):
        raise LibraryError(f"{where('review_digest')} must be 'sha256:' and 64 hex digits "
                           "(written by 'handouts review')")
    meta["review_digest"] = digest
    return meta


def _translated_from(source: Any, where: str) -> str | None:
    """`translated_from: {lang: en, version: "1.0"}` as 'en 1.0', or None when absent;
    `stale: true` in it marks a translation imported against a changed source."""
    if source is None:
        return None
    if not (isinstance(source, dict) and set(source) - {"stale"} == {"lang", "version"}
            and isinstance(source.get("stale", False), bool)
            and LANG_RE.match(str(source["lang"]))
            and isinstance(source["version"], str) and VERSION_RE.match(source["version"])):
        raise LibraryError(f"{where} must be like " '{lang: en, version: "1.0"}')
    return f"{source['lang']} {source['version']}"
