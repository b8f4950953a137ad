"""The `handouts` command line: parse options, call the engine, turn errors into one line.

The commands live in `handoutkit.commands`, one module per group of verbs; this module
makes the group and its global options. The top-level cli.py of a source checkout only
imports and starts `main`.
"""

from __future__ import annotations

import logging
import os
import sys

import click

from handoutkit import __version__
from handoutkit.commands import batch, build, content, records, serve, topics
from handoutkit.commands.common import LIBRARY_HELP, get_library  # noqa: F401 (re-export)
from handoutkit.errors import INTERNAL_ERROR, HandoutsError, printable


class _Warnings(logging.Handler):
    """The engine's warnings (it never prints), as `Warning: …` lines on standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"Warning: {record.getMessage()}", err=True)


_engine_log = logging.getLogger("handoutkit")
_engine_log.addHandler(_Warnings(logging.WARNING))
_engine_log.propagate = False


class HandoutsGroup(click.Group):
    """Turns engine errors into `Error: …` and their exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HandoutsError as exc:
            click.echo(f"Error: {printable(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.Abort,
                KeyboardInterrupt, SystemExit):
            raise
        except BrokenPipeError:
            # The reader of standard output stopped early (`handouts list | head`): as any
            # command line tool, stop quietly; the rest of the output is not wanted.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(0)
        except RecursionError:
            click.echo("Error: the input is nested too deeply to read", err=True)
            ctx.exit(INTERNAL_ERROR)
        except Exception as exc:  # noqa: BLE001 - a bug must still end in one line
            if os.environ.get("HANDOUTS_DEBUG"):
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}; this is a bug in handouts, "
                       "please report it (HANDOUTS_DEBUG=1 shows the details)", err=True)
            ctx.exit(INTERNAL_ERROR)


@click.group(cls=HandoutsGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Shell completion (bash): eval \"$(_HANDOUTS_COMPLETE=bash_source "
                    "handouts)\"; zsh and fish: see README.")
@click.option("--library", "library_dir", envvar="HANDOUTS_LIBRARY", metavar="DIR",
              type=click.Path(file_okay=False), help=LIBRARY_HELP)
@click.version_option(__version__, prog_name="handouts")
@click.pass_context
def main(ctx: click.Context, library_dir: str | None) -> None:
    """Turn plain-language patient-education topics into branded, print-ready PDFs."""
    ctx.obj = {"library_dir": library_dir}


for command in (topics.list_topics, topics.show, build.build, topics.lint, topics.find,
                topics.new, topics.init, batch.batch, batch.print_command, records.inspect,
                records.cache, serve.serve, content.import_command, content.translate,
                content.review, content.diff):
    main.add_command(command)


if __name__ == "__main__":
    sys.exit(main())
