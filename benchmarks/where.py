"""Where a cold render's time goes: each case built once with an empty cache, on one core
(--jobs 1, so every step runs in this process and is counted), split into

    layout    WeasyPrint laying documents out (the first layout of each document)
    refit     the further layouts the refit tried (crisis block or tool in other places,
              or the even-page layout for duplex), with their count
    columns   of all layout time, the part inside WeasyPrint's column layout
    draw      WeasyPrint drawing the laid-out pages into a PDF
    other     the rest: import, reading topics, assembling HTML, checks, merging, writing

Cases: a single handout, the 13-topic packet, a large-print 3-topic packet, a 3-row batch.
Run: .venv/bin/python benchmarks/where.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = {
    "single (psychotherapy)": ["build", "psychotherapy"],
    "packet (13 topics)": ["build", "coping-with-stress", "depression-adults",
                           "eating-disorders", "generalized-anxiety", "insomnia",
                           "my-safety-plan", "ocd", "panic-disorder", "psychotherapy",
                           "ptsd", "social-anxiety", "substance-use", "suicide-prevention"],
    "large print, 3 topics": ["build", "generalized-anxiety", "insomnia",
                              "suicide-prevention", "--layout", "large-print"],
    "batch, 3 rows": ["batch"],  # the first 3 rows of examples/jobs.csv
}


def instrument(stats: Counter) -> None:
    """Count and time WeasyPrint's layouts (first and refit), column layouts and drawing."""
    from handoutkit.pdf import render
    from handoutkit.pdf.weasyload import import_weasyprint

    import_weasyprint()
    from weasyprint.document import Document
    from weasyprint.layout import block

    def timed(key: str, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                stats[key] += time.perf_counter() - start
        return wrapper

    columns = block.columns_layout
    depth = [0]

    def columns_layout(*args, **kwargs):
        depth[0] += 1
        start = time.perf_counter()
        try:
            return columns(*args, **kwargs)
        finally:
            depth[0] -= 1
            if not depth[0]:
                stats["columns"] += time.perf_counter() - start

    block.columns_layout = columns_layout
    Document.write_pdf = timed("draw", Document.write_pdf)
    layout_with = render._layout_with

    def counting_layout_with(*args, **kwargs):
        layout = layout_with(*args, **kwargs)
        tries = [0]

        def counted(source: str):
            key = "layout" if not tries[0] else "refit"
            tries[0] += 1
            stats[key + " n"] += 1
            return timed(key, layout)(source)
        return counted

    render._layout_with = counting_layout_with


def main() -> None:
    from click.testing import CliRunner

    from handoutkit.cli import main as cli

    stats: Counter = Counter()
    instrument(stats)
    work = Path(tempfile.mkdtemp(prefix="handouts-where-"))
    print(f"cold, one core (--jobs 1), {os.cpu_count()} cores on this machine")
    print(f"  {'case':<24}{'total':>8}{'layout':>14}{'refit':>16}{'columns':>10}"
          f"{'draw':>8}{'other':>8}")
    for number, (name, args) in enumerate(CASES.items()):
        stats.clear()
        env = {"HANDOUTS_CACHE_DIR": str(work / f"cache-{number}"),
               "SOURCE_DATE_EPOCH": "1795651200"}
        if args[0] == "batch":
            rows = (ROOT / "examples" / "jobs.csv").read_text(encoding="utf-8").splitlines()
            (work / "jobs.csv").write_text("\n".join(rows[:4]) + "\n", encoding="utf-8")
            for brand in (ROOT / "examples").glob("*.toml"):  # brands the rows name
                shutil.copy(brand, work / brand.name)
            args = ["batch", str(work / "jobs.csv")]
        out = (["--out-dir", str(work / f"out-{number}")] if args[0] == "batch"
               else ["-o", str(work / f"out-{number}.pdf")])
        start = time.perf_counter()
        result = CliRunner().invoke(cli, [*args, *out, "--jobs", "1"], env=env)
        total = time.perf_counter() - start
        if result.exit_code != 0:
            print(f"  {name}: failed: {result.output.strip()[-300:]}")
            continue
        other = total - stats["layout"] - stats["refit"] - stats["draw"]
        print(f"  {name:<24}{total:7.2f}s{stats['layout']:7.2f}s ({stats['layout n']:>3})"
              f"{stats['refit']:7.2f}s ({stats['refit n']:>3})  {stats['columns']:7.2f}s"
              f"{stats['draw']:7.2f}s{other:7.2f}s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
