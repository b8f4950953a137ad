"""MkDocs hook (mkdocs.yml `hooks:`): the command reference, docs/commands.md, made at build
time from the real `--help` of every command and subcommand of `handouts`, so that it is
never copied by hand and never out of date.

The page holds the marker line below; the hook puts in its place, for each command, a
heading with its full name, its help's first line and the whole `--help` text, as
`handouts COMMAND --help` prints it.
"""

from __future__ import annotations

import html

import click

MARKER = "<!-- commands: generated from --help -->"
WIDTH = 88  # the width --help is wrapped to on the page


def _context(command: click.Command, name: str, parent: click.Context | None) -> click.Context:
    # The command's own context settings (`-h` as well as `--help`), as `main()` makes them.
    settings = {**command.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    return click.Context(command, info_name=name, parent=parent, **settings)


def walk(command: click.Command, ctx: click.Context):
    """(context, command) for `command` and every command beneath it, in --help's order."""
    yield ctx, command
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None:
                yield from walk(sub, _context(sub, name, ctx))


def summary(command: click.Command) -> str:
    """The first paragraph of the command's help, on one line."""
    text = (command.help or command.short_help or "").strip().removeprefix("\b")
    return " ".join(text.split("\n\n")[0].split())


def reference(main: click.Command, prog_name: str = "handouts") -> str:
    out = []
    for ctx, command in walk(main, _context(main, prog_name, None)):
        level = min(2 + ctx.command_path.count(" "), 6)
        out += [f"{'#' * level} {ctx.command_path}", "",
                f"<p>{html.escape(summary(command))}</p>", "",
                "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page, config, files, **kwargs) -> str:
    if MARKER not in markdown:
        return markdown
    from handoutkit.cli import main

    return markdown.replace(MARKER, reference(main))
