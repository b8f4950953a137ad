"""Commands for a clinic's content work: import, translate export|import, review, diff."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import click

from handoutkit.errors import UsageError

from .common import complete_topic, get_library, json_option


def _set_library(ctx: click.Context, param, value: str | None) -> None:
    if value is not None:
        ctx.find_root().obj["library_dir"] = value


def library_option(func):
    """--library DIR after the command too (`handouts import FILE --library DIR`)."""
    return click.option("--library", type=click.Path(file_okay=False), metavar="DIR",
                        expose_value=False, is_eager=True, callback=_set_library,
                        help="The clinic's library (as the global --library).")(func)


def _topic_lang(spec: str, lang: str | None) -> tuple[str, str]:
    """TOPIC or TOPIC@LANG (a --lang option as the default language)."""
    topic, _, at = spec.partition("@")
    return topic, at or lang or "en"


def _day(value: str | None, name: str) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"{name} '{value}' is not a date (write YYYY-MM-DD)") from None


# -- import --------------------------------------------------------------------------------

@click.command("import")
@library_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--id", "topic_id", required=True, metavar="ID",
              help="The new topic's id (lower-case letters, digits, hyphens).")
@click.option("--lang", default="en", show_default=True, metavar="L",
              help="The handout's language.")
@click.option("--accept-changes", is_flag=True,
              help="Take a Word file's tracked changes as accepted and leave its comments "
                   "out (otherwise such a file is refused).")
@json_option("Print the report as JSON.")
@click.pass_context
def import_command(ctx, file, topic_id, lang, accept_changes, as_json) -> None:
    """Bring a clinic's own handout (Word .docx, .html or .md) into the library as a topic,
    with its pictures, and report what was found and what could not be carried over."""
    from handoutkit.content_ops.importer import import_file

    report = import_file(get_library(ctx), Path(file), topic_id, lang, accept_changes)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    topic = report.topic
    click.echo(f"Wrote {report.path}" + (f" and {len(report.pictures)} pictures in "
                                         f"{report.path.parent / 'images'}"
                                         if report.pictures else ""))
    click.echo(f"Sections ({report.measure or 'no reading-level formula for ' + topic.lang}):")
    width = max(len(s.id) for s in report.sections)
    for section in report.sections:
        level = f"{section.reading_level:>5}" if section.reading_level is not None else "    -"
        click.echo(f"  {section.id:<{width}}  {level}  {section.title}")
    for title, rows in (("Flagged words", report.words),
                        ("Not carried over", report.lost), ("Notes", report.notes)):
        if rows:
            click.echo(f"{title}:")
            for row in rows:
                click.echo(f"  - {row}")
    library_dir = ctx.find_root().obj["library_dir"]
    prefix = f"handouts --library {library_dir}" if library_dir else "handouts"
    click.echo(f"Next: edit the topic, then '{prefix} lint {topic.id}'; it stays "
               f"'Pending clinical review' until '{prefix} review {topic.id} --by ...'.")


# -- translate -----------------------------------------------------------------------------

@click.group()
def translate() -> None:
    """Exchange topics with translators as XLIFF 2.1 files."""


@translate.command("export")
@library_option
@click.argument("topic", shell_complete=complete_topic, metavar="TOPIC[@LANG]")
@click.option("--to", "target", required=True, metavar="L", help="The language to translate into.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              metavar="FILE.xlf", help="The XLIFF file to write.")
@click.option("--changed-since", metavar="VERSION",
              help="Only the units whose text changed since this version of the topic.")
def translate_export(topic, target, output, changed_since) -> None:
    """Write TOPIC's texts as an XLIFF 2.1 file for a translator: one unit per heading,
    paragraph, list item, table cell, picture description and caption, numbers, web
    addresses and markup protected, the crisis block filled in with the approved wording."""
    from handoutkit.content_ops.xliff import export
    from handoutkit.deliver import write_output

    ctx = click.get_current_context()
    topic_id, lang = _topic_lang(topic, None)
    data, count = export(get_library(ctx), topic_id, lang, target, changed_since)
    write_output(output, data)
    click.echo(f"Wrote {output}: {count} units of {topic_id} ({lang} -> {target})", err=True)


@translate.command("import")
@library_option
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True,
              help="Import even when the topic changed since the export; the translation is "
                   "then marked stale.")
def translate_import(file, force) -> None:
    """Write TOPIC.LANG.md from a translated XLIFF file (review pending)."""
    from handoutkit.content_ops.xliff_import import import_file

    result = import_file(get_library(click.get_current_context()), Path(file), force)
    click.echo(f"Wrote {result.path}" + (" (marked stale: its source changed since the "
                                         "export)" if result.stale else ""))
    if result.untranslated:
        click.echo(f"Warning: {len(result.untranslated)} units had no translation and keep "
                   f"the source text (first: {result.untranslated[0]})", err=True)


# -- review --------------------------------------------------------------------------------

@click.command()
@library_option
@click.argument("topic", required=False, shell_complete=complete_topic,
                metavar="[TOPIC[@LANG]]")
@click.option("--by", metavar="NAME", help='Who reviewed it: "Name, credentials".')
@click.option("--date", "day", metavar="YYYY-MM-DD", help="The day of the review (today).")
@click.option("--due", "due_in", is_flag=False, flag_value="", default=None,
              metavar="[DURATION]",
              help="With --by: when the next review is due, from the review's day: 2y "
                   "(default), 18m, 90d. Alone: list the topics and translations due for "
                   "review, oldest first.")
@click.option("--within", metavar="DURATION",
              help="With --due alone: also those due within this time (90d, 6m).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text",
              show_default=True, help="With --due alone: the list's format.")
@click.pass_context
def review(ctx, topic, by, day, due_in, within, fmt) -> None:
    """Record a clinical review of TOPIC (who, when, and a digest of the content reviewed),
    or, with --due alone, list what is due for review (CSV or JSON for a spreadsheet)."""
    from handoutkit.content_ops import review as reviews

    library = get_library(ctx)
    if due_in == "" and by is None:
        rows = reviews.due_list(library, dt.date.today(), within)
        if topic is not None:  # one topic (in one language, with @LANG)
            topic_id, _, lang = topic.partition("@")
            if not library.has(topic_id, lang or None):
                library.topic(topic_id, lang or "en")  # its message: unknown, or not in LANG
            rows = [r for r in rows if r.topic == topic_id and (not lang or r.lang == lang)]
        _print_due(rows, fmt)
        return
    if within is not None or fmt != "text":
        raise UsageError("--within and --format go with --due alone (the list of reviews due)")
    if topic is None or by is None:
        raise UsageError("give TOPIC and --by \"Name, credentials\" (or --due alone to list "
                         "the reviews due)")
    if due_in == "":
        raise UsageError("--due with --by needs a duration, like 2y or 18m")
    topic_id, lang = _topic_lang(topic, None)
    reviewed, path, digest, next_due = reviews.record(
        library, topic_id, lang, by, _day(day, "--date"), due_in)
    click.echo(f"Recorded the review of {topic_id} ({lang}) version {reviewed.version} in "
               f"{path}: by {' '.join(by.split())}, {_day(day, '--date')}, next review due "
               f"{next_due}, content {digest[:19]}...")


def _print_due(rows, fmt: str) -> None:
    fields = ["topic", "lang", "title", "version", "state", "reviewed_by", "reviewed_on",
              "review_due", "message"]
    if fmt == "json":
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_dict())
        click.echo(out.getvalue(), nl=False)
    elif not rows:
        click.echo("No reviews due.")
    else:
        for row in rows:
            click.echo(f"{row.review_due or '(none)':<10}  {row.topic}@{row.lang}  "
                       f"{row.state}: {row.message}")


# -- diff ----------------------------------------------------------------------------------

@click.command()
@library_option
@click.argument("topic", shell_complete=complete_topic, metavar="TOPIC[@LANG]")
@click.argument("versions", nargs=-1, metavar="[OLD NEW]")
@click.option("--since-review", is_flag=True,
              help="Compare the version last reviewed with the current one.")
@click.option("--pdf", "pdf_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the changes as a PDF for the review committee.")
@click.pass_context
def diff(ctx, topic, versions, since_review, pdf_file) -> None:
    """Show what changed in TOPIC, section by section: since its review, or between two
    versions (version numbers kept in the library's history, 'current', or files)."""
    from handoutkit.content_ops import diff as diffs

    library = get_library(ctx)
    topic_id, lang = _topic_lang(topic, None)
    if since_review == bool(versions) or (versions and len(versions) != 2):
        raise UsageError("give either --since-review or two versions: OLD NEW")
    if since_review:
        old, new = diffs.since_review(library, topic_id, lang)
    else:
        old = diffs.resolve(library, topic_id, lang, versions[0])
        new = diffs.resolve(library, topic_id, lang, versions[1])
    result = diffs.compare(topic_id, lang, old, new, library.topic(topic_id, lang).path)
    if pdf_file:
        from handoutkit.deliver import write_output

        write_output(pdf_file, diffs.as_pdf(result, library, dt.date.today()))
        click.echo(f"Wrote {pdf_file}", err=True)
    click.echo(diffs.as_text(result), nl=False)


# -- list --stale ---------------------------------------------------------------------------

def print_stale(library, lang: str | None, as_json: bool) -> None:
    """`handouts list --stale`."""
    from dataclasses import asdict

    from handoutkit.content_ops.stale import stale_translations

    rows = stale_translations(library, lang)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2, ensure_ascii=False))
    elif not rows:
        click.echo("No stale translations.")
    for row in rows if not as_json else ():
        click.echo(f"{row.topic}@{row.lang}  ({row.source_lang} {row.translated_from} -> "
                   f"{row.source_version})  {row.why}")
