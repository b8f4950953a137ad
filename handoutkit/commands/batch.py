"""`handouts batch` (a packet per row of a job list) and `handouts print` (CUPS)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from handoutkit.errors import HandoutsError, printable
from handoutkit.options import JOB_COLUMNS

from .common import get_library


def _columns_help() -> str:
    lines = [f"  {', '.join(JOB_COLUMNS[i:i + 6])}" for i in range(0, len(JOB_COLUMNS), 6)]
    return "\n".join(lines)


@click.command(help=f"""Build a personalised packet for each row of JOB_LIST, a CSV or JSON
Lines file with one row per patient.

Bad rows are reported with their line and skipped; rows whose packet is already
complete and current are skipped without rendering, so a stopped run can be re-run.
The exit code is 1 if any row failed, 3 if a row's packet broke the safety promise
or could not be rendered (docs/exit-codes.md).

\b
Columns ('output' and 'topics' are required):
{_columns_help()}

\b
Example:
  handouts batch examples/jobs.csv --out-dir packets/
""")
@click.argument("job_list", metavar="JOB_LIST", type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the packets (named by the job list's 'output' column).")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Rows built at once (default: the number of cores).")
@click.option("--shard", "shard_spec", metavar="I/N",
              help="Build only shard I of N (stable; N shards together build every row).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache.")
@click.pass_context
def batch(ctx, job_list, out_dir, jobs, shard_spec, no_cache) -> None:
    import os

    from handoutkit.batch.run import run
    from handoutkit.cache import Cache
    from handoutkit.pdf.scratch import on_signals

    on_signals()
    report = _Progress(sys.stderr)
    cache = Cache(enabled=not no_cache)
    summary = run(get_library(ctx, cache), Path(job_list), Path(out_dir),
                  jobs=jobs or os.cpu_count() or 1, cache=cache,
                  shard_spec=shard_spec, report=report)
    report.close()
    click.echo(summary.line(), err=True)
    ctx.exit(summary.exit_code)


class _Progress:
    """A progress bar on a terminal; one line per row otherwise (logs, CI)."""

    def __init__(self, stream):
        self.stream = stream
        self.interactive = stream.isatty()
        self.bar = None

    def __call__(self, outcome, done: int, total: int) -> None:
        if outcome.status == "failed":
            if self.bar is not None:
                self.stream.write("\n")
            click.echo(f"failed: {printable(outcome.message)}", err=True)
        elif self.interactive:
            if self.bar is None:
                self.bar = click.progressbar(length=total, label="Building", file=self.stream)
                self.bar.__enter__()
            self.bar.update(1)
        elif total:
            click.echo(f"[{done}/{total}] {outcome.status} {outcome.output}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command("print")
@click.argument("pdfs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True),
                metavar="PDF...")
@click.option("--printer", required=True, metavar="NAME", help="CUPS printer (lp -d).")
@click.option("--copies", type=click.IntRange(min=1), default=1, show_default=True,
              help="Copies of each file.")
@click.option("--duplex", is_flag=True, help="Print on both sides (long edge).")
@click.pass_context
def print_command(ctx, pdfs, printer, copies, duplex) -> None:
    """Send PDFs to a printer through CUPS (lp).

    Every file is tried; the exit code is that of the first error (4: not printed).
    """
    from handoutkit.deliver import print_files

    exit_code = 0
    for pdf in pdfs:
        try:
            print_files([Path(pdf)], printer, copies=copies, duplex=duplex)
            click.echo(f"sent {pdf} to {printer}", err=True)
        except HandoutsError as exc:
            exit_code = exit_code or exc.exit_code
            click.echo(f"Error: {printable(exc)}", err=True)
    ctx.exit(exit_code)
