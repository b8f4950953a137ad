#!/usr/bin/env python3
"""Summarise the last `mutmut run` (mutants/*.meta) per module, as Markdown.

    .venv/bin/python scripts/mutation_summary.py            # the table
    .venv/bin/python scripts/mutation_summary.py --survivors  # and every survivor's name

Killed counts mutants that made a test fail (or time out); "no tests" are mutants in
functions none of the selected tests run; the score is killed / (all but skipped).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests",
          34: "skipped", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
          255: "timeout", None: "not checked"}


def main(show_survivors: bool) -> None:
    rows, survivors, total = [], [], Counter()
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        data = json.loads(meta.read_text())
        counts = Counter(STATUS.get(code, "suspicious")
                         for code in data["exit_code_by_key"].values())
        module = str(meta.relative_to(ROOT / "mutants"))[:-len(".meta")]
        rows.append((module, counts))
        total += counts
        survivors += [(module, key) for key, code in data["exit_code_by_key"].items()
                      if STATUS.get(code) in ("survived", "no tests")]
    print("| module | mutants | killed | survived | no tests | timeout | score |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for module, counts in rows + [("**all**", total)]:
        tested = sum(counts.values()) - counts["skipped"] - counts["not checked"]
        killed = counts["killed"] + counts["timeout"]
        score = f"{100 * killed / tested:.1f}%" if tested else "-"
        print(f"| {module} | {sum(counts.values())} | {counts['killed']} | "
              f"{counts['survived']} | {counts['no tests']} | {counts['timeout']} | {score} |")
    if show_survivors:
        print()
        for _module, key in survivors:
            print(f"- `{key}`")


if __name__ == "__main__":
    main("--survivors" in sys.argv[1:])
