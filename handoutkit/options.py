"""One home for what shapes a document: paper sizes, defaults, personal details, the
printed date, and the columns a batch job list may set.

The command line, batch rows and the engine all read these; nothing here imports the
rest of the engine, so every layer can use it.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

# Paper names users type -> the CSS @page size WeasyPrint understands.
PAPERS = {"letter": "letter", "a4": "A4"}
DEFAULT_PAPER = "letter"
DEFAULT_LAYOUT = "standard"
FORMATS = ("pdf", "html")

# The columns of a batch job list (CSV header or JSON Lines keys).
JOB_COLUMNS = ("output", "topics", "lang", "bilingual", "fallback", "layout", "paper", "brand",
               "patient", "visit_date", "clinician", "note", "duplex", "archival", "copies",
               "printer", "patient_ref", "encounter_ref", "author_ref")


@dataclass(frozen=True)
class Personal:
    """Details printed on the first page only; never in metadata, names or caches."""

    patient: str | None = None
    visit_date: str | None = None
    clinician: str | None = None
    note: str | None = None

    def __bool__(self) -> bool:
        return any(self.items().values())

    def items(self) -> dict[str, str | None]:
        """Every personal field by name: the one list each check of personal details walks
        (a field added here is checked everywhere)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def label(name: str) -> str:
        """A field's name as a message says it: 'visit date'."""
        return name.replace("_", " ")


@dataclass(frozen=True)
class BuildOptions:
    """What changes the output. `None` means "not given": the defaults apply."""

    lang: str | None = None
    bilingual: str | None = None  # a second language printed after each section
    fallback: str | None = None  # a topic missing in `lang` prints in this language, marked
    layout: str = DEFAULT_LAYOUT
    paper: str = DEFAULT_PAPER
    brand: Path | None = None
    personal: Personal = field(default_factory=Personal)
    format: str = "pdf"
    duplex: bool = False
    archival: bool = False
    jobs: int | None = None  # None: every core


# Options that say how a document is made, not what it is: left out of every digest.
NOT_SHAPING = ("jobs",)


def shaping_items(options: BuildOptions) -> list[tuple[str, object]]:
    """Every option that shapes a document, by name, as plain data for a digest. Derived
    from BuildOptions' fields: a new option joins every digest made from it (a batch row's,
    resume.py) unless it is declared in NOT_SHAPING."""
    items: list[tuple[str, object]] = []
    for option in fields(options):
        if option.name in NOT_SHAPING:
            continue
        value = getattr(options, option.name)
        if isinstance(value, Personal):
            value = [(f.name, getattr(value, f.name)) for f in fields(value)]
        elif isinstance(value, Path):
            value = str(value)
        items.append((option.name, value))
    return items


@dataclass(frozen=True)
class FhirRefs:
    """Where a DocumentReference files the PDF in the health record."""

    patient_ref: str
    encounter_ref: str | None = None
    author_ref: str | None = None
    url: str | None = None  # point to the PDF here instead of embedding it


def source_date_epoch() -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (reproducible builds) as a UTC time, or None when unset."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
    return None


def generation_time() -> dt.datetime:
    """Now, or SOURCE_DATE_EPOCH (UTC, whole seconds)."""
    return source_date_epoch() or dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def printed_date() -> dt.date:
    """The date printed on handouts: today, or the date of SOURCE_DATE_EPOCH."""
    fixed = source_date_epoch()
    return fixed.date() if fixed else dt.date.today()
