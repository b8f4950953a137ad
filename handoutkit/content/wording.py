"""The layouts' fixed wording per language (layouts/strings.toml, a clinic's first), dates
written the way each language writes them (CLDR, through Babel), language names and the
direction of each language's script."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from ..errors import LibraryError
from .library import Library


def load_strings(library: Library) -> dict[str, dict]:
    """The layouts' fixed wording per language (layouts/strings.toml), clinic's first.

    Parsed and checked once per content of the files: every stage of a build asks for
    it, and a batch or the service builds many documents. An edited file is read again.
    Callers must not change the tables they get."""
    files = tuple((str(path), _digest(path))
                  for path in (folder / "strings.toml" for folder in library.layout_dirs))
    return _strings(library, files)


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


_STRINGS: dict[tuple, dict[str, dict]] = {}  # by the files' paths and contents; a few


def _strings(library: Library, files: tuple) -> dict[str, dict]:
    if files not in _STRINGS:
        if len(_STRINGS) >= 16:
            _STRINGS.pop(next(iter(_STRINGS)))
        _STRINGS[files] = _read_strings(library)
    return _STRINGS[files]


def _read_strings(library: Library) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    for path, lang, table in library.layout_tables("strings.toml", "a table of wording"):
        for key, value in table.items():
            _check_wording(path, lang, key, value)
        merged.setdefault(lang, {}).update(table)
    reference = merged.get("en", {})
    for lang, table in merged.items():
        missing = [key for key in reference if key not in table]
        if missing:
            raise LibraryError(f"strings.toml: [{lang}] has no '{missing[0]}'")
    return merged


# Complexity over 10: one type check per kind of entry.
def _check_wording(path: Path, lang: str, key: str, value: object) -> None:  # noqa: C901
    """Each entry of strings.toml has the type the layouts use."""
    where = f"{path}: [{lang}] '{key}'"
    if key == "months":
        if not (isinstance(value, list) and len(value) == 12
                and all(isinstance(m, str) for m in value)):
            raise LibraryError(f"{where} must list the 12 month names in quotes")
    elif key == "levels":
        if not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            raise LibraryError(f"{where} must be a table of texts in quotes")
        missing = [level for level in ("basics", "in-depth") if level not in value]
        if missing:
            raise LibraryError(f"{where} has no '{missing[0]}'")
    elif not isinstance(value, str):
        raise LibraryError(f"{where} must be text in quotes")
    elif key in ("page_of", "page_n"):
        wanted = ("{page}", "{pages}") if key == "page_of" else ("{page}",)
        if any(value.count(blank) != 1 for blank in wanted) or (
                key == "page_n" and "{pages}" in value):
            raise LibraryError(f"{where} must hold {' and '.join(wanted)} once each")
    elif key == "date_format":
        try:
            value.format(day=1, month="May", year=2026)
        except (KeyError, IndexError, ValueError, AttributeError):
            raise LibraryError(f"{where} may use only {{day}}, {{month}} and {{year}}") from None


def format_date(date: dt.date, strings: dict, lang: str) -> str:
    """`date` as `lang` writes it (CLDR, through Babel: "November 26, 2026", "26 de
    noviembre de 2026", "2026年11月26日"); a library's strings.toml may set its own
    `date_format` and `months` for a language instead."""
    if "date_format" in strings and "months" in strings:
        month = strings["months"][date.month - 1]
        return strings["date_format"].format(day=date.day, month=month, year=date.year)
    from babel.dates import format_date as cldr_date

    return cldr_date(date, format="long", locale=cldr_locale(lang))


# Language tags whose CLDR locale has another name.
CLDR_NAMES = {"tl": "fil"}


def cldr_locale(lang: str):
    """The Babel locale for a topic's language tag ('zh-Hant' -> zh_Hant, 'tl' -> fil)."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(CLDR_NAMES.get(lang, lang), sep="-")
    except (UnknownLocaleError, ValueError):
        raise LibraryError(f"language '{lang}' is not known to CLDR (Babel)") from None


def direction(lang: str) -> str:
    """'rtl' for languages written right to left (Arabic, Hebrew...), else 'ltr'."""
    try:
        order = cldr_locale(lang).character_order
    except LibraryError:
        return "ltr"
    return "rtl" if order == "right-to-left" else "ltr"


def language_name(lang: str, in_lang: str) -> str:
    """The name of language `lang` written in `in_lang` ('en' in 'es' -> 'inglés')."""
    locale = cldr_locale(in_lang)
    return locale.languages.get(lang.replace("-", "_")) or locale.languages.get(
        lang.split("-")[0], lang)
