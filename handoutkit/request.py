"""One build request, whatever door it comes through: `build`'s options, a job-list row,
`POST /v1/documents`, a topic's PDF link, the staff page's form.

`BuildRequest.from_mapping` is the only parser of a request: the defaults, the limits
and the checks of personal details live here once, and every door gets the same answer
for the same mistake (a `RequestError` naming the field). The JSON schema of the service
(`json_schema`) is made from the same tables, so the OpenAPI document says exactly what
is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from .errors import SpecError, UsageError
from .options import DEFAULT_LAYOUT, DEFAULT_PAPER, FORMATS, PAPERS, BuildOptions, Personal

PERSONAL_FIELDS = tuple(Personal().items())  # the one list of personal fields
FLAGS = ("duplex", "archival")
# Every field a request may carry, in the order the messages list them.
FIELDS = ("specs", "lang", "bilingual", "fallback", "layout", "paper", "brand", "format", *FLAGS,
          *PERSONAL_FIELDS)
TRUE, FALSE = ("1", "true", "yes", "y"), ("", "0", "false", "no", "n")

# ECMA-262 and Python alike (the OpenAPI document carries them as they are).
LANG_PATTERN = r"^[a-z]{2}(?:-[A-Z][a-z]{3})?$"
NAME_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
SPEC_PATTERN = (r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:@[a-z]{2}(?:-[A-Z][a-z]{3})?)?"
                r"(?::[a-z0-9-]+(?:,[a-z0-9-]+)*)?$")
# UNSAFE_RE as a JSON-schema pattern (lone surrogates cannot be written in one).
SAFE_TEXT = ("^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f\\u2028\\u2029"
             "\\u202a-\\u202e\\u2066-\\u2069]*$")
MAX_SPEC = 200  # characters in one SPEC
MAX_NAME = 64  # a layout, brand or language name
MAX_BRAND_FILE = 1024  # a brand given as a file (command line, job list)
# Text that is not a character, or that could make the printed text read differently
# from what was typed: lone surrogates, C0/C1 controls, line and paragraph separators,
# bidi embeddings, overrides and isolates.
UNSAFE_RE = re.compile("[\ud800-\udfff\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029"
                       "\u202a-\u202e\u2066-\u2069]")


class RequestError(UsageError):
    """A request's mistake; `field` names the field (a 4xx in the service)."""

    def __init__(self, field_name: str, message: str, exit_code: int = UsageError.exit_code):
        super().__init__(message)
        self.field = field_name
        self.exit_code = exit_code  # a SPEC that does not parse: 1, as the engine's errors


@dataclass(frozen=True)
class Limits:
    """How much one request may ask for; the command line's by default."""

    specs: int | None = None
    field: int = 1000
    note: int = 1000


SERVICE_LIMITS = Limits(specs=20, field=200, note=1000)


@dataclass(frozen=True)
class BuildRequest:
    """What to build: checked, with the defaults filled in. `brand` is as given (a name
    of the library, or a file where the door allows one); `brand_path` resolves it."""

    specs: tuple[str, ...]
    lang: str | None = None
    bilingual: str | None = None
    fallback: str | None = None  # a topic missing in `lang` prints in this language, marked
    layout: str = DEFAULT_LAYOUT
    paper: str = DEFAULT_PAPER
    brand: str | None = None
    personal: Personal = field(default_factory=Personal)
    format: str = "pdf"
    duplex: bool = False
    archival: bool = False

    @classmethod
    # Complexity over 10: one branch per field a door sends.
    def from_mapping(cls, data: Mapping, *, limits: Limits = Limits(), text: bool = False,  # noqa: C901
                     brand_files: bool = False, allowed: tuple[str, ...] = FIELDS
                     ) -> BuildRequest:
        """The request in `data` (field -> value), or a RequestError naming the field.

        `text`: values are typed text (a CSV cell, a command-line option): an empty
        value is "not given", flags are words (yes/no), SPECs one string. Otherwise
        values are JSON: `null` is "not given", an empty string is a mistake.
        `brand_files`: the brand may be a file (command line, job list), not only a
        name of the library."""
        unknown = [name for name in data if name not in allowed]
        if unknown:
            raise RequestError(str(unknown[0])[:40], f"unknown field '{_shown(unknown[0])}'; "
                               f"the fields are: {', '.join(allowed)}")

        def given(name: str):
            value = data.get(name)
            return None if value is None or (text and value == "") else value

        specs = _specs(given("specs"), limits, text)
        values: dict = {"specs": specs}
        for name in ("lang", "bilingual", "fallback"):
            value = given(name)
            if value is not None:
                values[name] = _match(name, value, LANG_PATTERN, MAX_NAME,
                                      "a language tag of the library, like es or zh-Hant")
        layout = given("layout")
        if layout is not None:
            values["layout"] = _match("layout", layout, NAME_PATTERN, MAX_NAME,
                                      "a layout name, like standard or large-print")
        for name, choices in (("paper", tuple(PAPERS)), ("format", FORMATS)):
            value = given(name)
            if value is not None:
                if not isinstance(value, str) or value not in choices:
                    raise RequestError(name, f"'{name}' must be one of: {', '.join(choices)}")
                values[name] = value
        brand = given("brand")
        if brand is not None:
            values["brand"] = _brand(brand, brand_files)
        for name in FLAGS:
            value = given(name)
            if value is not None:
                values[name] = _flag(name, value, text)
        values["personal"] = _personal(data, limits, text)
        return cls(**values)

    def as_mapping(self) -> dict:
        """The request as JSON-able fields that `from_mapping` reads back as they are."""
        data: dict = {"specs": list(self.specs), "layout": self.layout, "paper": self.paper,
                      "format": self.format, "duplex": self.duplex, "archival": self.archival}
        for name in ("lang", "bilingual", "fallback", "brand"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        for name in PERSONAL_FIELDS:
            value = getattr(self.personal, name)
            if value is not None:
                data[name] = value
        return data

    def check_library(self, library) -> None:
        """What only the library can tell: the layout exists."""
        if self.layout not in library.layout_names:
            raise RequestError("layout", f"unknown layout '{self.layout}'; the layouts are: "
                               f"{', '.join(library.layout_names)}")

    def options(self, brand: Path | None = None, jobs: int | None = None) -> BuildOptions:
        """The engine's options for this request (`brand`: the brand file, resolved by
        the door that knows where brands may come from)."""
        return BuildOptions(lang=self.lang, bilingual=self.bilingual, fallback=self.fallback,
                            layout=self.layout,
                            paper=self.paper, brand=brand, personal=self.personal,
                            format=self.format, duplex=self.duplex, archival=self.archival,
                            jobs=jobs)


def _shown(value: object) -> str:
    """A value for a message: printable, short."""
    from .errors import printable

    text = printable(str(value).encode("utf-8", "replace").decode("utf-8"))
    return text if len(text) <= 40 else text[:37] + "..."


def _text(name: str, value: object, limit: int) -> str:
    if not isinstance(value, str):
        raise RequestError(name, f"'{name}' must be text")
    if len(value) > limit:
        raise RequestError(name, f"'{name}' is {len(value):,} characters long (at most "
                           f"{limit:,})")
    bad = UNSAFE_RE.search(value)
    if bad:
        raise RequestError(name, f"'{name}' holds {_describe(bad.group())}")
    return value


def _describe(char: str) -> str:
    import unicodedata

    if 0xD800 <= ord(char) <= 0xDFFF:
        return f"U+{ord(char):04X}, half of a character (a lone surrogate)"
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}".rstrip() if name else "a control character"


def _match(name: str, value: object, pattern: str, limit: int, what: str) -> str:
    value = _text(name, value, limit)
    if not re.match(pattern, value):
        raise RequestError(name, f"'{name}' must be {what}, not '{_shown(value)}'")
    return value


def _specs(value: object, limits: Limits, text: bool) -> tuple[str, ...]:
    from .content.select import parse_spec

    if text and isinstance(value, str):
        value = value.split()
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise RequestError("specs", "'specs' must be a list of SPECs like "
                           "[\"psychotherapy\", \"insomnia:what-is\"]")
    if limits.specs is not None and len(value) > limits.specs:
        raise RequestError("specs", f"too many SPECs: {len(value)} (at most {limits.specs})")
    for spec in value:
        _text("specs", spec, MAX_SPEC)
        try:
            parse_spec(spec)
        except SpecError as exc:
            raise RequestError("specs", str(exc), exc.exit_code) from None
    return tuple(value)


def _brand(value: object, files: bool) -> str:
    if not files:
        if value == "default":
            return value
        return _match("brand", value, NAME_PATTERN, MAX_NAME,
                      "'default' or the name of a brand of the library")
    return _text("brand", value, MAX_BRAND_FILE)


def _flag(name: str, value: object, text: bool) -> bool:
    if isinstance(value, bool):
        return value
    if text and isinstance(value, str):
        if value.lower() in TRUE:
            return True
        if value.lower() in FALSE:
            return False
        raise RequestError(name, f"'{name}' must be true or false, not '{_shown(value)}'")
    raise RequestError(name, f"'{name}' must be true or false")


def _personal(data: Mapping, limits: Limits, text: bool) -> Personal:
    """The personal details; the command line's checks (checks.personal_problem) after
    what no text may hold at all."""
    from .checks import date_problem, personal_problem

    labels = {name: Personal.label(name) for name in PERSONAL_FIELDS}
    values = {}
    for name in PERSONAL_FIELDS:
        value = data.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise RequestError(name, f"the {labels[name]} must be text")
        limit = limits.note if name == "note" else limits.field
        if len(value) > limit:
            raise RequestError(name, f"the {labels[name]} is {len(value):,} characters long "
                               f"(at most {limit:,})")
        if re.search("[\ud800-\udfff]", value):
            raise RequestError(name, f"the {labels[name]} holds half of a character (a lone "
                               "surrogate)")
        if re.search("[\u2028\u2029]", value) or (name != "note" and "\r" in value):
            raise RequestError(name, f"the {labels[name]} holds a control character")
        problem = personal_problem(Personal(**{name: value}))
        if problem:
            # A visit date that is no real day is bad input (exit 1, like an unknown
            # topic); the other refusals are bad usage (exit 2).
            code = 1 if name == "visit_date" and date_problem(value) else 2
            raise RequestError(name, problem, exit_code=code)
        values[name] = value
    return Personal(**values)


def json_schema(limits: Limits = SERVICE_LIMITS) -> dict:
    """The JSON schema of a document request (POST /v1/documents), from the same tables
    as `from_mapping`. Personal details come as one object, `personal`."""
    safe = SAFE_TEXT
    line = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$"

    def personal(name: str) -> dict:
        limit = limits.note if name == "note" else limits.field
        return {"type": ["string", "null"], "maxLength": limit,
                "pattern": safe if name == "note" else line}

    specs = {"type": "array", "minItems": 1,
             "items": {"type": "string", "pattern": SPEC_PATTERN, "maxLength": MAX_SPEC},
             "description": "TOPIC[@LANG][:SECTION,SECTION...], as `handouts build`"}
    if limits.specs is not None:
        specs["maxItems"] = limits.specs
    lang = {"type": ["string", "null"], "pattern": LANG_PATTERN, "maxLength": MAX_NAME}
    return {
        "type": "object", "required": ["specs"], "additionalProperties": False,
        "properties": {
            "specs": specs,
            "lang": lang,
            "bilingual": dict(lang, description="a second language printed after each "
                                                "section (as `build --bilingual`)"),
            "fallback": dict(lang, description="a topic not yet written in `lang` prints in "
                                               "this language, marked so (as `build "
                                               "--fallback`)"),
            "layout": {"type": ["string", "null"], "pattern": NAME_PATTERN,
                       "maxLength": MAX_NAME, "examples": ["standard", "large-print"]},
            "paper": {"enum": [*PAPERS, None]},
            "brand": {"type": ["string", "null"], "pattern": NAME_PATTERN,
                      "maxLength": MAX_NAME, "description": "default, or NAME for the "
                      "library's layouts/brands/NAME.toml"},
            "format": {"enum": [*FORMATS, None]},
            **{name: {"type": ["boolean", "null"]} for name in FLAGS},
            "personal": {"type": ["object", "null"], "additionalProperties": False,
                         "properties": {name: personal(name) for name in PERSONAL_FIELDS}},
            "fhir": {"type": ["object", "null"], "additionalProperties": False,
                     "properties": {name: {"type": "string", "maxLength": 500,
                                           "pattern": safe}
                                    for name in ("patient_ref", "encounter_ref",
                                                 "author_ref", "url")}},
        }}
