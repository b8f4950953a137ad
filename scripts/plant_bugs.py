#!/usr/bin/env python3
"""Plant known bugs, one at a time, and show which tests catch each.

Each bug is a small edit of the source made in a temporary copy of the checkout (the
working tree is never touched); the tests named for it then run against that copy
(PYTHONPATH puts the copy's package first, for the test process and the commands it
starts). A bug that no test catches makes the script exit with 1.

    .venv/bin/python scripts/plant_bugs.py            # every bug
    .venv/bin/python scripts/plant_bugs.py cover-name # one bug, by name
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bug:
    name: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = (
    Bug("cover-name", "the patient's name is no longer escaped on the cover",
        "layouts/_base/page.html.j2", "{{ personal.patient }}", "{{ personal.patient|safe }}",
        ("tests/test_escaping.py", "tests/test_assemble.py")),
    Bug("cover-note", "the note is no longer escaped on the cover",
        "layouts/_base/page.html.j2", "{{ personal.note }}", "{{ personal.note|safe }}",
        ("tests/test_escaping.py",)),
    Bug("batch-direct-write", "batch rows are written straight to the final name",
        "handoutkit/batch/run.py", "write_atomic(target, built.data)",
        "target.write_bytes(built.data)",
        ("tests/test_atomic.py",)),
    Bug("write-atomic-direct", "write_atomic writes straight to the final name",
        "handoutkit/deliver.py",
        "        fd, tmp_name = tempfile.mkstemp(",
        "        path.write_bytes(data); return path\n        fd, tmp_name = tempfile.mkstemp(",
        ("tests/test_atomic.py",)),
    Bug("part-key-date", "the printed date is dropped from a cached part's key",
        "handoutkit/pdf/packet.py",
        "selection.section_ids, related, printed.isoformat(),",
        "selection.section_ids, related,",
        ("tests/test_cache_keys.py",)),
    # Issue 28's classes: a check that looks at part of its input, a key that forgets an
    # input, a check applied to some fields, a key accepted on a near miss, a tag on some
    # elements only.
    Bug("completeness-first-topic", "the completeness check looks at the first topic only",
        "handoutkit/document/completeness.py",
        "    for selection in selections:\n        topic = selection.topic",
        "    for selection in selections[:1]:\n        topic = selection.topic",
        ("tests/test_completeness_units.py",)),
    Bug("crisis-by-class", "a crisis box is accepted by its class, without its words",
        "handoutkit/document/completeness.py",
        "lost = any(text not in chunk for text in _texts(section))", "lost = False",
        ("tests/test_completeness_units.py",)),
    Bug("digest-paper", "the batch row digest leaves out the paper",
        "handoutkit/options.py", 'NOT_SHAPING = ("jobs",)', 'NOT_SHAPING = ("jobs", "paper")',
        ("tests/test_derived_keys.py",)),
    Bug("part-key-bilingual", "a part's key leaves out its second language",
        "handoutkit/pdf/packet.py",
        "_pictures(topic, library), *([bilingual] if bilingual else []),",
        "_pictures(topic, library),",
        ("tests/test_derived_keys.py", "tests/test_cache_keys.py")),
    Bug("etag-ids-versions", "the ETag is made from topic ids and versions only",
        "handoutkit/serve/etag.py", "    blob = json.dumps([parts, versions, print_fp,",
        "    blob = json.dumps([versions, versions, None,",
        ("tests/test_etag_units.py",)),
    Bug("font-check-note", "the declared-font check skips the note",
        "handoutkit/content/fonts.py", "        if value:\n            check_text(fonts, value,",
        "        if value and name != \"note\":\n            check_text(fonts, value,",
        ("tests/test_personal_fields.py::test_command_line",)),
    Bug("rejected-row-patient", "a rejected job-list row's message carries the patient",
        "handoutkit/batch/joblist.py",
        'bad.append(Outcome(line, output, "failed", printable(f"{path}:{line}: {exc}")))',
        'bad.append(Outcome(line, output, "failed", '
        'printable(f"{path}:{line}: {exc} {data.get(\'patient\', \'\')}")))',
        ("tests/test_personal_fields.py::test_job_list",)),
    Bug("failed-row-patient", "a failed batch row's message carries the patient",
        "handoutkit/batch/run.py", 'f"line {row.line} ({row.output}): {reason}",',
        'f"line {row.line} ({row.output}): {reason} {row.options.personal.patient}",',
        ("tests/test_privacy_streams.py",)),
    Bug("key-prefix", "an API key is accepted on a prefix",
        "handoutkit/serve/access.py",
        "            if hmac.compare_digest(wanted, _digest(key)):",
        "            if given and key.startswith(given) or "
        "hmac.compare_digest(wanted, _digest(key)):",
        ("tests/test_auth_negative.py",)),
    Bug("bilingual-title-lang", "the second-language title is tagged with the first language",
        "layouts/_base/page.html.j2", '<p class="second-title" lang="{{ a.second.lang }}"',
        '<p class="second-title" lang="{{ document.lang }}"',
        ("tests/test_bilingual.py",)),
)


def copy_checkout(into: Path) -> Path:
    ignore = shutil.ignore_patterns(".venv", ".git", "mutants", "__pycache__", "*.pyc",
                                    ".pytest_cache", "html")
    target = into / "src"
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def plant(copy: Path, bug: Bug) -> None:
    path = copy / bug.file
    text = path.read_text(encoding="utf-8")
    if text.count(bug.old) != 1:
        raise SystemExit(f"{bug.name}: '{bug.old}' is not found once in {bug.file}; "
                         "update this script to the current source")
    path.write_text(text.replace(bug.old, bug.new), encoding="utf-8")


def run_tests(copy: Path, tests: tuple[str, ...]) -> tuple[list[str], str]:
    env = {**os.environ, "PYTHONPATH": str(copy)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests],
        cwd=copy, env=env, capture_output=True, text=True)
    failed = re.findall(r"^FAILED (\S+)", result.stdout, re.MULTILINE)
    summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    return failed, summary


def main(names: list[str]) -> int:
    chosen = [b for b in BUGS if not names or b.name in names]
    missed = []
    for bug in chosen:
        with tempfile.TemporaryDirectory(prefix="plant-") as folder:
            copy = copy_checkout(Path(folder))
            plant(copy, bug)
            failed, summary = run_tests(copy, bug.tests)
        print(f"== {bug.name}: {bug.what}")
        print(f"   planted in {bug.file}; ran {' '.join(bug.tests)}: {summary}")
        for test in failed:
            print(f"   caught by {test}")
        if not failed:
            print("   NOT CAUGHT")
            missed.append(bug.name)
    print(f"{len(chosen) - len(missed)} of {len(chosen)} planted bugs caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
