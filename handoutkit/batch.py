"""Batch: a manifest of patients (CSV or JSON Lines) into personalised packets.

The whole manifest is checked first; bad rows are reported (file and line) and skipped.
The topics every row needs are rendered once, on all cores, into the cache; then rows run
in parallel, each producing only its personal parts (the cover) and merging cached parts.
Outputs are written atomically, so a killed run leaves no partial PDF under a final name,
and a re-run skips rows whose output is already complete and current, and retries the
print and FHIR steps that failed (resume.py: a keyed digest of the row, and a journal).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

from .build import make, selections_for
from .cache import Cache
from .errors import HandoutsError, ManifestError, UsageError
from .deliver import remove_stale_temporaries
from .library import Library
from .options import DEFAULT_LAYOUT, DEFAULT_PAPER, JOB_COLUMNS, PAPERS, BuildOptions, Personal
from .checks import brand_problem, output_name_problem, personal_problem
from .resume import Journal, digest, load_key

COLUMNS = JOB_COLUMNS
TRUE, FALSE = ("1", "true", "yes", "y"), ("", "0", "false", "no", "n")


@dataclass(frozen=True)
class Row:
    line: int  # line in the manifest file, for messages
    output: str
    specs: tuple[str, ...]
    options: BuildOptions
    copies: int = 1
    printer: str | None = None
    patient_ref: str | None = None
    encounter_ref: str | None = None
    author_ref: str | None = None


@dataclass
class Outcome:
    line: int
    output: str
    status: str  # "built" | "skipped" | "failed"
    message: str = ""


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> bool:
        return self.count("failed") > 0

    def line(self) -> str:
        return (f"{self.count('built')} built, {self.count('skipped')} skipped (already "
                f"current), {self.count('failed')} failed")


# -- reading and checking ------------------------------------------------------------------

def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, {column: text}) for each data row of a CSV or JSON Lines manifest."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"manifest not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read ({exc})") from None
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
        raise ManifestError(f"{path}:1: the header must name an 'output' column "
                            f"(columns: {', '.join(COLUMNS)})")
    twice = [c for c in reader.fieldnames if reader.fieldnames.count(c) > 1]
    if twice:
        raise ManifestError(f"{path}:1: column '{twice[0]}' is given twice")
    unknown = [c for c in reader.fieldnames if c not in COLUMNS]
    if unknown:
        raise ManifestError(f"{path}:1: unknown column '{unknown[0]}' "
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


def _flag(value: str, name: str) -> bool:
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ValueError(f"'{name}' must be true or false, not '{value}'")


def parse_row(line: int, data: dict, base: Path) -> Row:
    """One manifest row as a Row; ValueError names what is wrong."""
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
    specs = tuple(data.get("topics", "").split())
    if not specs:
        raise ValueError("'topics' is empty")
    copies_text = data.get("copies", "") or "1"
    if not (copies_text.isascii() and copies_text.isdigit()) or not 1 <= int(copies_text) <= 999:
        raise ValueError(f"'copies' must be a whole number from 1 to 999, not '{copies_text}'")
    brand = data.get("brand") or None
    if brand:
        problem = brand_problem(brand, base)
        if problem:
            raise ValueError(problem)
    options = BuildOptions(
        lang=data.get("lang") or None,
        layout=data.get("layout") or DEFAULT_LAYOUT,
        paper=data.get("paper") or DEFAULT_PAPER,
        brand=(base / brand) if brand else None,
        personal=Personal(data.get("patient") or None, data.get("visit_date") or None,
                          data.get("clinician") or None, data.get("note") or None),
        duplex=_flag(data.get("duplex", ""), "duplex"),
        archival=_flag(data.get("archival", ""), "archival"),
    )
    problem = personal_problem(options.personal)
    if problem:
        raise ValueError(problem)
    if options.paper not in PAPERS:
        raise ValueError(f"'paper' must be {' or '.join(PAPERS)}, not '{options.paper}'")
    return Row(line, output, specs, options, int(copies_text), data.get("printer") or None,
               data.get("patient_ref") or None, data.get("encounter_ref") or None,
               data.get("author_ref") or None)


def check(library: Library, path: Path) -> tuple[list[Row], list[Outcome]]:
    """Every row checked before anything is built: topics, sections, layout, brand."""
    from .brand import load_brand

    rows, bad = [], []
    seen: dict[str, int] = {}
    brands: dict[Path, str | None] = {}
    for line, data in read_rows(path):
        output = data.get("output", "")
        try:
            row = parse_row(line, data, path.parent)
            if row.output in seen:
                raise ValueError(f"'output' {row.output} is also on line {seen[row.output]}")
            selections_for(library, list(row.specs), row.options.lang)
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
            bad.append(Outcome(line, output, "failed", f"{path}:{line}: {exc}"))
        except OSError as exc:
            bad.append(Outcome(line, output, "failed",
                               f"{path}:{line}: {exc.strerror or exc}"))
    return rows, bad


def shard(rows: list[Row], index: int, count: int) -> list[Row]:
    """Shard `index` (1-based) of `count`: chosen by the output name, so the shards of the
    same manifest never overlap and together hold every row, whatever the row order."""
    return [row for row in rows
            if int(hashlib.sha256(row.output.encode()).hexdigest(), 16) % count == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard must look like 2/4, not '{text}'") from None
    if not 1 <= index <= count:
        raise UsageError(f"--shard {text}: the first number must be from 1 to {count}")
    return index, count


# -- running -------------------------------------------------------------------------------

def row_digest(row: Row, library: Library, key: bytes, fingerprints: dict) -> str:
    """The keyed digest of everything that shapes a row's packet (see resume.py)."""
    from .brand import load_brand
    from .packet import fingerprint

    options = row.options
    selections = selections_for(library, list(row.specs), options.lang)
    brand_path = options.brand or library.default_brand
    look = (brand_path, options.layout, options.paper)
    if look not in fingerprints:
        brand = load_brand(brand_path)
        fingerprints[look] = fingerprint(library, brand, options.layout, options.paper)
    topics = [(s.topic.id, s.topic.lang, s.topic.sha256, s.section_ids,
               [(r, library.source_digest(r, s.topic.lang)) for r in s.topic.related])
              for s in selections]
    personal = options.personal
    return digest(key, "row", row.output, topics, fingerprints[look], options.lang,
                  options.layout, options.paper, options.duplex, options.archival,
                  [personal.patient, personal.visit_date, personal.clinician, personal.note])


def is_current(path: Path, wanted: str) -> bool:
    """An output is complete and current when it is a whole PDF whose embedded manifest
    carries the digest of this very row (never judged by modification times)."""
    from .inspection import read_manifest

    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 1024))
            if b"%%EOF" not in handle.read():
                return False
        embedded = read_manifest(path)
    except (OSError, ValueError, HandoutsError):
        return False
    found = embedded.get(DIGEST_FIELD)
    return isinstance(found, str) and hmac.compare_digest(found, wanted)


DIGEST_FIELD = "row_digest"


@dataclass(frozen=True)
class Task:
    """A row and the steps it still needs, each with the digest the journal records."""

    row: Row
    digest: str
    steps: dict[str, str]  # step ("pdf", "fhir", "print") -> its digest


def plan(row: Row, library: Library, out_dir: Path, key: bytes, journal: Journal,
         fingerprints: dict) -> Task:
    packet = row_digest(row, library, key, fingerprints)
    steps = {}
    if not is_current(out_dir / row.output, packet):
        steps["pdf"] = packet
    if row.patient_ref:
        fhir_digest = digest(key, "fhir", packet, row.patient_ref, row.encounter_ref,
                             row.author_ref)
        if "pdf" in steps or not journal.done(row.output, "fhir", fhir_digest):
            steps["fhir"] = fhir_digest
    if row.printer:
        print_digest = digest(key, "print", packet, row.printer, row.copies,
                              row.options.duplex)
        if not journal.done(row.output, "print", print_digest):
            steps["print"] = print_digest
    return Task(row, packet, steps)


_WORKER: dict = {}


def _run_row(task: Task) -> Outcome:
    from .deliver import write_atomic
    from .inspection import read_manifest

    row = task.row
    library, cache, out_dir = _WORKER["library"], _WORKER["cache"], _WORKER["out_dir"]
    journal: Journal = _WORKER["journal"]
    target = out_dir / row.output
    try:
        if "pdf" in task.steps:
            selections = selections_for(library, list(row.specs), row.options.lang)
            # Every row is a packet: its cover carries the personal details. A row runs on
            # one core: rows already run side by side.
            options = replace(row.options, jobs=1)
            built = make(library, selections, options, cache, force_packet=True,
                         manifest_extra={DIGEST_FIELD: task.digest})
            write_atomic(target, built.data)
            journal.record(row.output, "pdf", task.steps["pdf"])
            data, manifest = built.data, built.manifest
        else:
            data, manifest = None, None
        if "fhir" in task.steps:
            from . import fhir
            from .assemble import load_strings

            if data is None:
                data, manifest = target.read_bytes(), read_manifest(target)
            lang = manifest["topics"][0]["lang"]
            title = load_strings(library)[lang]["packet_title"]
            write_atomic(target.with_suffix(".fhir.json"), fhir.dumps(fhir.document_reference(
                data, manifest, title=title, patient_ref=row.patient_ref,
                encounter_ref=row.encounter_ref, author_ref=row.author_ref)))
            journal.record(row.output, "fhir", task.steps["fhir"])
        if "print" in task.steps:
            from .deliver import print_files

            print_files([target], row.printer, copies=row.copies, duplex=row.options.duplex)
            journal.record(row.output, "print", task.steps["print"])
        return Outcome(row.line, row.output, "built")
    except OSError as exc:
        return Outcome(row.line, row.output, "failed",
                       f"line {row.line} ({row.output}): {exc.strerror or exc}")
    except HandoutsError as exc:
        return Outcome(row.line, row.output, "failed", f"line {row.line} ({row.output}): {exc}")
    except Exception as exc:  # noqa: BLE001 - one row's surprise never stops the batch
        return Outcome(row.line, row.output, "failed", f"line {row.line} ({row.output}): "
                       f"unexpected error ({type(exc).__name__}); please report it")


def run(library: Library, manifest: Path, out_dir: Path, *, jobs: int, cache: Cache,
        shard_spec: str | None = None,
        report: Callable[[Outcome, int, int], None] = lambda outcome, done, total: None,
        ) -> Summary:
    """Build every good row; `report` hears of each row as it ends."""
    from .deliver import make_folder

    rows, bad = check(library, manifest)
    make_folder(out_dir)
    remove_stale_temporaries(out_dir)
    summary = Summary(list(bad))
    for outcome in bad:
        report(outcome, 0, 0)
    if shard_spec:
        rows = shard(rows, *parse_shard(shard_spec))

    key, journal, fingerprints = load_key(out_dir), Journal(out_dir), {}
    todo = []
    for row in rows:
        try:
            task = plan(row, library, out_dir, key, journal, fingerprints)
        except (HandoutsError, OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            outcome = Outcome(row.line, row.output, "failed",
                              f"line {row.line} ({row.output}): {reason}")
            summary.outcomes.append(outcome)
            report(outcome, 0, 0)
            continue
        if task.steps:
            todo.append(task)
        else:
            summary.outcomes.append(Outcome(row.line, row.output, "skipped"))
    total = len(todo)
    if not todo:
        return summary

    _warm_cache(library, [t.row for t in todo if "pdf" in t.steps], cache, jobs)
    _WORKER.update(library=library, cache=cache, out_dir=out_dir, journal=journal)
    with contextlib.ExitStack() as stack:
        if jobs > 1 and total > 1:
            from . import render  # noqa: F401  (every row renders a cover: workers fork warm)
            from .workers import worker_pool

            pool = stack.enter_context(worker_pool(jobs, maxtasksperchild=200))
            outcomes = pool.imap_unordered(_run_row, todo, chunksize=1)
        else:
            outcomes = map(_run_row, todo)
        for done, outcome in enumerate(outcomes, 1):
            summary.outcomes.append(outcome)
            report(outcome, done, total)
    return summary


def _warm_cache(library: Library, rows: list[Row], cache: Cache, jobs: int) -> None:
    """Render every part the rows need once, on all cores, before the rows run."""
    from .build import prepare
    from .packet import ensure_parts
    from .workers import Renderer

    groups: dict[tuple, list] = {}
    for row in rows:
        if row.options.archival:
            continue  # archival packets are laid out whole
        key = (row.options.layout, row.options.paper, row.options.brand)
        for selection in selections_for(library, list(row.specs), row.options.lang):
            groups.setdefault(key, []).append(selection)
    for (layout, paper, brand), selections in groups.items():
        settings = prepare(library, BuildOptions(layout=layout, paper=paper, brand=brand))
        unique = list({(s.topic.id, s.topic.lang, tuple(s.section_ids)): s
                       for s in selections}.values())
        with Renderer(settings.sandbox, library.roots[0], jobs) as renderer:
            ensure_parts(settings, unique, renderer, cache)
