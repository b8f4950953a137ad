"""Job lists: the rows of patients a batch builds packets for (CSV or JSON Lines).

A job list is read and every row checked before anything is built; a bad row becomes an
Outcome naming the file and line, never an exception that stops the others. (The JSON
embedded in every PDF is the *manifest*, see manifest.py; the two are different things.)
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from ..build import selections_for
from ..checks import brand_problem, output_name_problem
from ..content.fonts import check_personal, find_fonts
from ..content.library import Library
from ..content.select import Selection
from ..errors import HandoutsError, JobListError, printable
from ..options import JOB_COLUMNS, BuildOptions
from ..request import FIELDS as REQUEST_FIELDS
from ..request import BuildRequest

# The columns that are the build request itself (the rest say where and how many).
REQUEST_COLUMNS = ("topics",) + tuple(c for c in REQUEST_FIELDS if c in JOB_COLUMNS)

COLUMNS = JOB_COLUMNS


@dataclass(frozen=True)
class Row:
    """One checked row of a job list: what to build for one patient, and where."""

    line: int  # line in the job list, for messages
    output: str
    specs: tuple[str, ...]
    options: BuildOptions
    copies: int = 1
    printer: str | None = None
    patient_ref: str | None = None
    encounter_ref: str | None = None
    author_ref: str | None = None
    # The SPECs resolved (once, when the row is checked): topics and their sections.
    selections: tuple[Selection, ...] = ()


@dataclass
class Outcome:
    """How one row ended, for the progress report and the summary."""

    line: int
    output: str
    status: str  # "built" | "skipped" | "failed"
    message: str = ""
    exit_code: int = 1  # of a failed row: 3 when its packet broke the safety promise


# Complexity over 10: two formats, and each kind of bad row named.
def read_rows(path: Path) -> Iterator[tuple[int, dict]]:  # noqa: C901
    """(line, {column: text}) for each data row of a CSV or JSON Lines job list."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise JobListError(f"job list not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JobListError(f"{path}: cannot be read ({exc})") from None
    if path.suffix.lower() in (".jsonl", ".ndjson") or text.lstrip().startswith("{"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line, object_pairs_hook=_no_twice)
            except _Twice as exc:
                yield number, {"__error__": f"column '{exc.args[0]}' is given twice"}
                continue
            except (ValueError, RecursionError) as exc:
                yield number, {"__error__": f"not valid JSON ({getattr(exc, 'msg', 'too deep')})"}
                continue
            if not isinstance(data, dict):
                yield number, {"__error__": "each line must be a JSON object"}
                continue
            try:
                yield number, {k: _json_text(k, v) for k, v in data.items()}
            except ValueError as exc:
                yield number, {"__error__": str(exc)}
        return
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "output" not in reader.fieldnames:
        raise JobListError(f"{path}:1: the header must name an 'output' column "
                            f"(columns: {', '.join(COLUMNS)})")
    twice = [c for c in reader.fieldnames if reader.fieldnames.count(c) > 1]
    if twice:
        raise JobListError(f"{path}:1: column '{twice[0]}' is given twice")
    unknown = [c for c in reader.fieldnames if c not in COLUMNS]
    if unknown:
        raise JobListError(f"{path}:1: unknown column '{unknown[0]}' "
                            f"(columns: {', '.join(COLUMNS)})")
    for data in reader:
        if None in data:
            yield reader.line_num, {"__error__": "more values than columns"}
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in data.items()}


class _Twice(ValueError):
    pass


def _no_twice(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    for key, value in pairs:
        if key in seen:
            raise _Twice(key)
        seen[key] = value
    return seen


def _json_text(name: str, value: object) -> str:
    """A JSON Lines value as the text a CSV cell would hold; objects are refused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (str, int, float)):
        return str(value).strip()
    if name == "topics" and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return " ".join(value)
    kind = "a list" if isinstance(value, list) else "an object"
    raise ValueError(f"'{name}' must be text, not {kind}")


# Complexity over 10: one check per column, each naming the row.
def parse_row(line: int, data: dict, base: Path) -> Row:  # noqa: C901
    """One job list row as a Row (its SPECs not yet resolved); a ValueError or
    RequestError names what is wrong. The build request itself is read by the one parser
    of every door (handoutkit.request)."""
    if "__error__" in data:
        raise ValueError(data["__error__"])
    unknown = [k for k in data if k not in COLUMNS]
    if unknown:
        raise ValueError(f"unknown column '{unknown[0]}'")
    output = data.get("output", "")
    if not output:
        raise ValueError("'output' is empty")
    if "/" in output or "\\" in output or output in (".", "..") or output.startswith("."):
        raise ValueError(f"'output' must be a plain file name, not '{output}'")
    problem = output_name_problem(output)
    if problem:
        raise ValueError(problem)
    if not output.lower().endswith(".pdf"):
        raise ValueError(f"'output' must end with .pdf, not '{output}'")
    if not data.get("topics", "").split():
        raise ValueError("'topics' is empty")
    copies_text = data.get("copies", "") or "1"
    if not (copies_text.isascii() and copies_text.isdigit()) or not 1 <= int(copies_text) <= 999:
        raise ValueError(f"'copies' must be a whole number from 1 to 999, not '{copies_text}'")
    request = BuildRequest.from_mapping(
        {("specs" if k == "topics" else k): v for k, v in data.items() if k in REQUEST_COLUMNS},
        text=True, brand_files=True)
    if request.brand:
        problem = brand_problem(request.brand, base)
        if problem:
            raise ValueError(problem)
    options = request.options(brand=(base / request.brand) if request.brand else None)
    specs = request.specs
    return Row(line, output, specs, options, int(copies_text), data.get("printer") or None,
               data.get("patient_ref") or None, data.get("encounter_ref") or None,
               data.get("author_ref") or None)


def check(library: Library, path: Path) -> tuple[list[Row], list[Outcome]]:
    """Every row of the job list at `path` checked before anything is built (topics,
    sections, layout, brand, personal fields): the good rows, with their SPECs resolved,
    and an Outcome naming file and line for each bad one."""
    from ..content.brand import load_brand

    rows, bad = [], []
    seen: dict[str, int] = {}
    brands: dict[Path, str | None] = {}
    for line, data in read_rows(path):
        output = data.get("output", "")
        try:
            row = parse_row(line, data, path.parent)
            if row.output in seen:
                raise ValueError(f"'output' {row.output} is also on line {seen[row.output]}")
            row = replace(row, selections=tuple(
                selections_for(library, list(row.specs), row.options.lang,
                               row.options.bilingual, row.options.fallback)))
            personal = row.options.personal
            check_personal(find_fonts(library.roots), personal.items())
            if row.options.layout not in library.layout_names:
                raise ValueError(f"unknown layout '{row.options.layout}'")
            brand = row.options.brand
            if brand is not None:
                if brand not in brands:
                    try:
                        load_brand(brand)
                        brands[brand] = None
                    except HandoutsError as exc:
                        brands[brand] = str(exc)
                if brands[brand]:
                    raise ValueError(brands[brand])
            seen[row.output] = line
            rows.append(row)
        except (ValueError, HandoutsError) as exc:
            bad.append(Outcome(line, output, "failed", printable(f"{path}:{line}: {exc}")))
        except OSError as exc:
            bad.append(Outcome(line, output, "failed",
                               f"{path}:{line}: {exc.strerror or exc}"))
    return rows, bad
