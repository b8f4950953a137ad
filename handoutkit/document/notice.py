"""The "Language assistance" notice: a page of a packet with one short line per language,
each in its own script and direction, saying that free help in that language is available
and giving the clinic's phone number.

A brand turns it on (`language_assistance = true` for the default languages, or a list of
language tags); the lines come from `layouts/language-assistance.toml`, a clinic's first.
"""

from __future__ import annotations

from ..content.brand import Brand
from ..content.library import Library
from ..content.wording import direction
from ..errors import LibraryError

FILE = "language-assistance.toml"
PHONE = "{phone}"


def notice_tables(library: Library) -> dict[str, dict]:
    """Each language's entries of language-assistance.toml, a clinic's last (they win)."""
    merged: dict[str, dict] = {}
    for path, lang, table in library.layout_tables(FILE, "a table with a 'line'"):
        for key, value in table.items():
            if key not in ("line", "title") or not isinstance(value, str):
                raise LibraryError(f"{path}: [{lang}] may only hold 'line' and 'title' texts")
        if "line" in table and table["line"].count(PHONE) != 1:
            raise LibraryError(f"{path}: [{lang}] 'line' must hold {PHONE} once")
        merged.setdefault(lang, {}).update(table)
    return merged


def notice(library: Library, brand: Brand) -> dict | None:
    """The notice a packet prints for `brand`: its title and, per language, the line split
    around the phone number; None when the brand does not ask for one."""
    if not brand.language_assistance:
        return None
    if not brand.phone:
        raise LibraryError(f"{brand.path}: 'language_assistance' needs the clinic's 'phone'")
    tables = notice_tables(library)
    english = tables.get("en", {})
    lines = []
    for lang in ("en", *brand.language_assistance):
        line = tables.get(lang, {}).get("line")
        if line is None:
            raise LibraryError(f"{brand.path}: 'language_assistance' lists '{lang}', but "
                               f"layouts/{FILE} has no line for it")
        before, _, after = line.partition(PHONE)
        lines.append({"lang": lang, "dir": direction(lang), "before": before,
                      "phone": brand.phone, "after": after})
    return {"title": english.get("title", "Language assistance"), "intro": lines[0],
            "lines": lines[1:]}


def notice_texts(library: Library, brand: Brand) -> list[tuple[str, str]]:
    """(language, line as printed) for every line of the brand's notice."""
    found = notice(library, brand)
    if found is None:
        return []
    return [(line["lang"], line["before"] + line["phone"] + line["after"])
            for line in [found["intro"], *found["lines"]]]
