"""Batch: a job list of patients (CSV or JSON Lines, see joblist.py) into personalised
packets.

The whole job list is checked first; bad rows are reported (file and line) and skipped.
The topics every row needs are rendered once, on all cores, into the cache; then rows run
in parallel, each producing only its personal parts (the cover) and merging cached parts.
Outputs are written atomically, so a killed run leaves no partial PDF under a final name,
and a re-run skips rows whose output is already complete and current, and retries the
print and FHIR steps that failed (resume.py: a keyed digest of the row, and a journal).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..build import make
from ..cache import Cache
from ..content.library import Library
from ..deliver import remove_stale_temporaries
from ..errors import HandoutsError, UsageError
from ..options import BuildOptions, shaping_items
from .joblist import Outcome, Row, check
from .resume import Journal, digest, load_key


@dataclass
class Summary:
    """Every row's outcome; `line()` is the closing line of a run."""

    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many rows ended with `status`."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> bool:
        """Whether any row failed (see `exit_code`)."""
        return self.count("failed") > 0

    @property
    def exit_code(self) -> int:
        """0 when no row failed; 3 when a row's packet could not be made right (rendering,
        the safety promise); else 1."""
        codes = [o.exit_code for o in self.outcomes if o.status == "failed"]
        return 0 if not codes else (3 if 3 in codes else 1)

    def line(self) -> str:
        """The closing line of a run: built, skipped and failed rows."""
        return (f"{self.count('built')} built, {self.count('skipped')} skipped (already "
                f"current), {self.count('failed')} failed")


def shard(rows: list[Row], index: int, count: int) -> list[Row]:
    """Shard `index` (1-based) of `count`: chosen by the output name, so the shards of the
    same job list never overlap and together hold every row, whatever the row order."""
    return [row for row in rows
            if int(hashlib.sha256(row.output.encode()).hexdigest(), 16) % count == index - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """`--shard I/N` as (I, N); a UsageError says what is wrong."""
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
    from ..content.brand import load_brand
    from ..pdf.packet import fingerprint

    options = row.options
    selections = row.selections
    brand_path = options.brand or library.default_brand
    look = (brand_path, options.layout, options.paper)
    if look not in fingerprints:
        brand = load_brand(brand_path)
        fingerprints[look] = fingerprint(library, brand, options.layout, options.paper)
    topics = [(s.topic.id, s.topic.lang, s.topic.sha256, s.section_ids,
               [(r, library.source_digest(r, s.topic.lang)) for r in s.topic.related],
               *([s.second.topic.sha256, s.second.topic.lang] if s.second else []))
              for s in selections]
    # Every option that shapes the packet, derived from the options themselves.
    return digest(key, "row", row.output, topics, fingerprints[look], shaping_items(options))


def is_current(path: Path, wanted: str) -> bool:
    """An output is complete and current when it is a whole PDF whose embedded manifest
    carries the digest of this very row (never judged by modification times)."""
    from ..pdf.inspection import read_manifest

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
    """The steps `row` still needs (build, FHIR file, print), each with the digest the
    journal records once it is done; none when its outputs are complete and current."""
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


_WORKER: dict = {}  # what forked row workers inherit: library, cache, out_dir, journal, tasks


def _run_task(index: int) -> Outcome:
    """Run the steps task `index` still needs; any error becomes the row's Outcome."""
    task: Task = _WORKER["tasks"][index]
    row = task.row
    try:
        _run_steps(task)
        return Outcome(row.line, row.output, "built")
    except OSError as exc:
        reason, code = exc.strerror or exc, 1
    except HandoutsError as exc:
        reason, code = exc, exc.exit_code
    except Exception as exc:  # noqa: BLE001 - one row's surprise never stops the batch
        reason, code = f"unexpected error ({type(exc).__name__}); please report it", 1
    return Outcome(row.line, row.output, "failed", f"line {row.line} ({row.output}): {reason}",
                   code)


def _run_steps(task: Task) -> None:
    """Build, file (FHIR) and print a row, recording each step in the journal once done."""
    from ..content.wording import load_strings
    from ..deliver import print_files, write_atomic, write_fhir
    from ..document.assemble import document_title
    from ..options import FhirRefs
    from ..pdf.inspection import read_manifest

    row, library, journal = task.row, _WORKER["library"], _WORKER["journal"]
    target = _WORKER["out_dir"] / row.output
    if "pdf" in task.steps:
        # Every row is a packet: its cover carries the personal details. A row runs on
        # one core: rows already run side by side.
        built = make(library, list(row.selections), replace(row.options, jobs=1),
                     _WORKER["cache"], force_packet=True,
                     manifest_extra={DIGEST_FIELD: task.digest})
        write_atomic(target, built.data)
        journal.record(row.output, "pdf", task.steps["pdf"])
    if "fhir" in task.steps:
        if "pdf" in task.steps:
            data, manifest, title = built.data, built.manifest, built.title
        else:
            data, manifest = target.read_bytes(), read_manifest(target)
            strings = load_strings(library)[row.selections[0].topic.lang]
            title = document_title(list(row.selections), strings)
        write_fhir(target.with_suffix(".fhir.json"), data, manifest, title,
                   FhirRefs(row.patient_ref, row.encounter_ref, row.author_ref))
        journal.record(row.output, "fhir", task.steps["fhir"])
    if "print" in task.steps:
        print_files([target], row.printer, copies=row.copies, duplex=row.options.duplex)
        journal.record(row.output, "print", task.steps["print"])


def run(library: Library, job_list: Path, out_dir: Path, *, jobs: int, cache: Cache,
        shard_spec: str | None = None,
        report: Callable[[Outcome, int, int], None] = lambda outcome, done, total: None,
        ) -> Summary:
    """Build a packet for every good row of `job_list` into `out_dir` (`shard_spec`:
    only that shard's rows); `report` hears of each row as it ends."""
    from ..deliver import make_folder

    rows, bad = check(library, job_list)
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
    # Workers are forked: they inherit the tasks, and are sent only their numbers.
    _WORKER.update(library=library, cache=cache, out_dir=out_dir, journal=journal, tasks=todo)
    with contextlib.ExitStack() as stack:
        if jobs > 1 and total > 1:
            from ..pdf import render  # noqa: F401  (every row renders a cover: workers fork warm)
            from ..pdf.workers import worker_pool

            pool = stack.enter_context(worker_pool(jobs, maxtasksperchild=200))
            outcomes = pool.imap_unordered(_run_task, range(total), chunksize=1)
        else:
            outcomes = map(_run_task, range(total))
        for done, outcome in enumerate(outcomes, 1):
            summary.outcomes.append(outcome)
            report(outcome, done, total)
    return summary


def _warm_cache(library: Library, rows: list[Row], cache: Cache, jobs: int) -> None:
    """Render every part the rows need once, on all cores, before the rows run (a group
    with a part that fails is left to its rows)."""
    from ..build import prepare
    from ..pdf.packet import ensure_parts
    from ..pdf.workers import Renderer

    groups: dict[tuple, list] = {}
    for row in rows:
        if row.options.archival:
            continue  # archival packets are laid out whole
        key = (row.options.layout, row.options.paper, row.options.brand)
        groups.setdefault(key, []).extend(row.selections)
    for (layout, paper, brand), selections in groups.items():
        settings = prepare(library, BuildOptions(layout=layout, paper=paper, brand=brand))
        unique = list({(s.topic.id, s.topic.lang, tuple(s.section_ids),
                        s.second.topic.lang if s.second else None): s
                       for s in selections}.values())
        try:
            with Renderer(settings.sandbox, library.roots[0], jobs) as renderer:
                ensure_parts(settings, unique, renderer, cache)
        except HandoutsError:
            # A part that cannot be made right (a layout that hides the crisis block) fails
            # the rows that need it, each with its own message; the other rows go on.
            continue
