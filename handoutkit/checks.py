"""Checks on values a user types or a job list carries, before anything is built."""

from __future__ import annotations

import re
from pathlib import Path

from .options import Personal

# Room for the ".fhir.json" written beside a packet within the usual 255-byte name limit.
MAX_OUTPUT_NAME = 240
MAX_PERSONAL = 1000  # characters in a personal field: a name, a date, a short note
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings, overrides and isolates: the printed text could read differently from
# what was typed (a name shown backwards, a date's digits reordered).
BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


# A visit date written with digits: YYYY-MM-DD (printed the page's way), or M/D/YYYY and
# D.M.YYYY as typed. Any of these must be a real day; words ("next Tuesday") print as typed.
DIGIT_DATE_RE = re.compile(r"^\s*(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})\s*$")


def date_problem(value: str) -> str | None:
    """What is wrong with a visit date written with digits ("2026-13-45"), or None."""
    import datetime as dt

    match = DIGIT_DATE_RE.match(value)
    if match is None:
        return None
    first, separator, middle, last = match.groups()
    if separator == "-":
        year, month, day = first, middle, last
    elif separator == "/":
        month, day, year = first, middle, last
    else:
        day, month, year = first, middle, last
    try:
        if len(year) != 4:
            raise ValueError
        dt.date(int(year), int(month), int(day))
    except ValueError:
        return (f"the visit date '{value.strip()}' is not a real date (write it as "
                "YYYY-MM-DD, like 2026-11-26)")
    return None


def personal_problem(personal: Personal) -> str | None:
    """What is wrong with the personal details, or None."""
    if personal.visit_date:
        problem = date_problem(personal.visit_date)
        if problem:
            return problem
    for name, value in personal.items().items():
        label = Personal.label(name)
        if value is None:
            continue
        if len(value) > MAX_PERSONAL:
            return f"the {label} is {len(value):,} characters long (at most {MAX_PERSONAL:,})"
        if CONTROL_RE.search(value) or (name != "note" and ("\n" in value or "\t" in value)):
            return f"the {label} holds a control character"
        bidi = BIDI_CONTROL_RE.search(value)
        if bidi:
            import unicodedata

            char = bidi.group()
            return (f"the {label} holds U+{ord(char):04X} {unicodedata.name(char)}, which can "
                    "make the printed text read differently from what was typed")
    return None


def output_name_problem(name: str) -> str | None:
    """What is wrong with a job list's output file name, or None."""
    if CONTROL_RE.search(name) or "\n" in name or "\t" in name:
        return f"'output' {name!r} holds a control character"
    if len(name.encode("utf-8")) > MAX_OUTPUT_NAME:
        return (f"'output' is {len(name.encode('utf-8'))} bytes long; file names may have "
                f"at most {MAX_OUTPUT_NAME}")
    return None


def brand_problem(text: str, base: Path) -> str | None:
    """A job list's brand must be a file in the job list's own folder."""
    if "\0" in text:
        return "'brand' holds a NUL byte"
    path = Path(text)
    if path.is_absolute() or ".." in path.parts or text.startswith("~"):
        return f"'brand' must be a file in the job list's folder, not '{text}'"
    try:
        inside = (base / path).resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError):
        inside = False
    if not inside:
        return f"'brand' must be a file in the job list's folder, not '{text}'"
    return None
