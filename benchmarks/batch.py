"""Batch benchmark: personalised packets for many patients, in one run against the naive
way on the same machine.

    batch  handouts batch manifest.csv --out-dir DIR, from an empty cache (whole process)
    naive  each row's packet HTML (handouts build --format html) rendered with the
           weasyprint command, two at a time (the HTML is made before timing starts)

Default: 100 patients with 4 library topics each. Prints both times, their ratio and the
peak memory of the batch's whole process tree.
Run: .venv/bin/python benchmarks/batch.py [--rows 1000]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOPICS = ["psychotherapy", "coping-with-stress", "depression-adults", "generalized-anxiety",
          "panic-disorder", "social-anxiety", "ptsd", "ocd", "insomnia", "substance-use",
          "eating-disorders", "suicide-prevention"]


def handouts() -> list[str]:
    script = BIN / "handouts"
    return [str(script)] if script.exists() else [sys.executable, str(ROOT / "cli.py")]


def rows(count: int) -> list[dict]:
    return [{"output": f"patient-{i:04d}.pdf",
             "topics": " ".join(TOPICS[(i + k * 5) % len(TOPICS)] for k in range(4)),
             "patient": f"Test Patient {i:04d}", "visit_date": "2026-11-26",
             "clinician": "Dr. Example"} for i in range(count)]


def tree_pss_mib(root: int) -> float:
    """Memory of a process and all its descendants (Linux /proc). Proportional set size:
    pages the forked workers share with their parent count once, not once per process."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2:].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack += children.get(pid, [])
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError):
            continue
    return total / 2**20


def run_sampled(command: list[str], env: dict) -> tuple[float, float]:
    """(seconds, peak MiB of the whole process tree, sampled every 0.1 s)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, tree_pss_mib(process.pid))
        time.sleep(0.1)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return time.perf_counter() - start, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--skip-naive", action="store_true", help="Only time the batch.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="handouts-batch-bench-"))
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1795651200",
           "HANDOUTS_CACHE_DIR": str(work / "cache")}
    manifest = work / "manifest.csv"
    data = rows(args.rows)
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(data[0]))
        writer.writeheader()
        writer.writerows(data)
    out = work / "out"
    out.mkdir()

    batch_time, batch_peak = run_sampled(
        handouts() + ["batch", str(manifest), "--out-dir", str(out)], env)
    print(f"{args.rows} patients x 4 topics, {os.cpu_count()} cores")
    print(f"  batch (cold cache)  {batch_time:7.2f} s   peak memory {batch_peak:.0f} MiB "
          "(all its processes)")

    if not args.skip_naive:
        html_dir = work / "html"
        html_dir.mkdir()
        for row in data:  # not timed: the naive way needs each packet's HTML first
            subprocess.run(handouts() + ["build", *row["topics"].split(), "--patient",
                                         row["patient"], "--format", "html", "-o",
                                         str(html_dir / row["output"].replace(".pdf", ".html"))],
                           check=True, env=env, stderr=subprocess.DEVNULL)
        naive_out = work / "naive"
        naive_out.mkdir()

        def render(path: Path) -> None:
            subprocess.run([str(BIN / "weasyprint"), str(path),
                            str(naive_out / path.with_suffix(".pdf").name)], check=True,
                           stderr=subprocess.DEVNULL)

        start = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(render, sorted(html_dir.glob("*.html"))))
        naive_time = time.perf_counter() - start
        print(f"  naive (weasyprint x2) {naive_time:5.2f} s")
        print(f"  batch / naive       {batch_time / naive_time:7.2f}   (target <= 0.10)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
