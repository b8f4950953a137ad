"""Commands for reading and writing the library: list, show, find, lint, new, init."""

from __future__ import annotations

import json

import click

from handoutkit.lint.rules import Limits

from .common import complete_topic, get_library, json_option, lang_option


@click.command("list")
@lang_option("Only topics that have this language (e.g. es).")
@json_option()
@click.option("--stale", is_flag=True,
              help="Only translations made from an older version of their source (or "
                   "imported with 'translate import --force').")
@click.pass_context
def list_topics(ctx: click.Context, lang: str | None, as_json: bool, stale: bool) -> None:
    """List the topics in the library."""
    library = get_library(ctx)
    if stale:
        from .content import print_stale

        print_stale(library, lang, as_json)
        return
    rows = []
    for topic_id in library.topic_ids:
        langs = library.languages(topic_id)
        if lang and lang not in langs:
            continue
        topic = library.topic(topic_id, lang or langs[0])
        rows.append({"id": topic.id, "title": topic.title, "languages": langs,
                     "version": topic.version, "updated": topic.updated.isoformat()})
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No topics found." if not lang else f"No topics in '{lang}'.")
        return
    header = {"id": "ID", "version": "VERSION", "updated": "UPDATED",
              "languages": ["LANGUAGES"], "title": "TITLE"}
    width = max(len(r["id"]) for r in [header, *rows])
    lang_width = max(len(",".join(r["languages"])) for r in [header, *rows])
    for r in [header, *rows]:
        click.echo(f"{r['id']:<{width}}  {r['version']:<7}  {r['updated']:<10}  "
                   f"{','.join(r['languages']):<{lang_width}}  {r['title']}")


@click.command()
@click.argument("topic", shell_complete=complete_topic)
@click.option("--lang", default="en", show_default=True, metavar="L", help="Language version.")
@json_option()
@click.pass_context
def show(ctx: click.Context, topic: str, lang: str, as_json: bool) -> None:
    """Show a topic's details and its sections (ids to use in a SPEC)."""
    t = get_library(ctx).topic(topic, lang)
    sections = [{"id": s.id, "title": s.title, "required": s.required} for s in t.sections]
    if as_json:
        click.echo(json.dumps({
            "id": t.id, "lang": t.lang, "title": t.title, "level": t.level,
            "version": t.version, "updated": t.updated.isoformat(), "summary": t.summary,
            "related": list(t.related), "codes": list(t.codes), "sections": sections,
        }, indent=2, ensure_ascii=False))
        return
    click.echo(f"{t.title} ({t.id}, {t.lang}) version {t.version}, updated {t.updated}")
    click.echo(t.summary)
    click.echo("")
    width = max(len(s["id"]) for s in sections)
    for s in sections:
        flag = "  [required]" if s["required"] else ""
        click.echo(f"  {s['id']:<{width}}  {s['title']}{flag}")


@click.command()
@click.argument("terms", nargs=-1, required=True, metavar="CODE...|WORDS...")
@click.option("--lang", default="en", show_default=True, metavar="L",
              help="Language of the titles shown.")
@json_option()
@click.pass_context
def find(ctx, terms, lang, as_json) -> None:
    """Find topics for ICD-10-CM codes (F41.1, f411, F32.9 ...), closest first; or for
    words patients use ("sleep", "hearing voices", "can't eat"), best first, in every
    language a topic has.

    \b
    Examples:
      handouts find F41.1 F32.9
      handouts find panic attack
      handouts find "can't sleep" --json
    """
    from handoutkit.content.codes import is_code

    library = get_library(ctx)
    if all(is_code(term) for term in terms):
        _find_codes(library, list(terms), lang, as_json)
    else:
        _find_words(library, " ".join(terms), lang, as_json)


def _find_codes(library, codes: list[str], lang: str, as_json: bool) -> None:
    from handoutkit.content.codes import find as find_topics

    results = find_topics(library, codes, lang)
    if as_json:
        click.echo(json.dumps({code: [m.as_dict() for m in matches]
                               for code, matches in results.items()}, indent=2,
                              ensure_ascii=False))
        return
    for code, matches in results.items():
        if not matches:
            click.echo(f"{code}: no topic matches this code")
            continue
        for m in matches:
            fallback = f"; in {m.lang}: no {lang} version yet" if m.lang != lang else ""
            click.echo(f"{code}: {m.topic_id}  ({m.title}; {m.kind} match on {m.code}{fallback})")


def _find_words(library, query: str, lang: str, as_json: bool) -> None:
    from handoutkit.content.search import search

    hits = search(library, query, lang)
    if as_json:
        click.echo(json.dumps({"query": query, "topics": [h.as_dict() for h in hits]},
                              indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo(f"no topic matches '{query}'")
        return
    for hit in hits:
        other = f"; in {hit.lang}: no {lang} version yet" if hit.lang != lang else ""
        click.echo(f"{hit.topic_id}  ({hit.title}; matched in {', '.join(hit.fields)}{other})")


def _limit_options(func):
    for name, flag, help_text in reversed([
        ("max_grade", "--max-grade", "Highest Flesch-Kincaid grade for an English topic"),
        ("max_section_grade", "--max-section-grade",
         "Highest Flesch-Kincaid grade for any English section"),
        ("max_smog", "--max-smog", "Highest SMOG grade for an English topic"),
        ("min_ease_es", "--min-ease-es", "Lowest Fernandez-Huerta score for a Spanish topic"),
        ("min_section_ease_es", "--min-section-ease-es",
         "Lowest Fernandez-Huerta score for any Spanish section"),
    ]):
        func = click.option(flag, name, type=float,
                            help=f"{help_text} ({getattr(Limits, name)}).")(func)
    return func


@click.command()
@click.argument("topics", nargs=-1, metavar="[TOPIC...]", shell_complete=complete_topic)
@json_option("Print JSON for CI.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--release", is_flag=True,
              help="Checks for print: a topic not reviewed yet (reviewed_by 'Pending...') or "
                   "past review_due, without a captioned picture or a tool, jargon and "
                   "acronyms not spelled out are errors, not warnings.")
@click.option("--brand", metavar="NAME|FILE",
              help="Brand (of the library, or a file) whose colour to check; default: the "
                   "library's.")
@_limit_options
@click.pass_context
def lint(ctx, topics, as_json, strict, release, brand, **limit_values) -> None:
    """Check topics: metadata, related ids, crisis block, reading level, alt text,
    brand contrast, translations, review dates, template text left in, a captioned
    picture and a tool in every topic, plain words (layouts/plain-words.toml: jargon,
    acronyms spelled out at first use, at most two per topic).

    Errors make the exit code 1; warnings do too with --strict. With --release a topic
    not reviewed yet or past its review date, without a picture or a tool, jargon and
    acronyms are errors.
    """
    from handoutkit.content.brand import load_brand
    from handoutkit.lint.rules import Linter

    library = get_library(ctx)
    limits = Limits(**{name: value for name, value in limit_values.items() if value is not None})
    linter = Linter(library, load_brand(library.brand_file(brand)), limits, release=release)
    findings = linter.run(list(topics))
    failed = bool(linter.errors or (strict and linter.warnings))
    if as_json:
        click.echo(json.dumps({
            "errors": len(linter.errors), "warnings": len(linter.warnings),
            "findings": [f.as_dict() for f in findings],
            "readability": [
                {"topic": r.topic.id, "lang": r.topic.lang, "measure": r.measure,
                 "score": r.score, "smog": r.smog,
                 "sections": {s.id: score for s, score in r.sections}}
                for r in linter.readability
            ],
        }, indent=2, ensure_ascii=False))
    else:
        for finding in findings:
            click.echo(str(finding))
        checked = linter.checked
        click.echo(f"{checked} topic files checked: {len(linter.errors)} errors, "
                   f"{len(linter.warnings)} warnings", err=True)
    ctx.exit(1 if failed else 0)


@click.command()
@click.argument("topic")
@click.option("--lang", default="en", show_default=True, metavar="L", help="Language.")
@click.pass_context
def new(ctx, topic, lang) -> None:
    """Write a new topic file from a commented template into the library."""
    from handoutkit.content_ops.scaffold import new_topic

    path = new_topic(get_library(ctx), topic, lang)
    library_dir = ctx.find_root().obj["library_dir"]
    prefix = f"handouts --library {library_dir}" if library_dir else "handouts"
    click.echo(f"Wrote {path}: replace the template's text, then run '{prefix} lint {topic}'")


@click.command()
@click.argument("folder", type=click.Path(file_okay=False))
def init(folder) -> None:
    """Create a clinic's own library: a brand to edit, a layout, a topics folder."""
    from handoutkit.content.library import bundled_root
    from handoutkit.content_ops.scaffold import init_library

    for path in init_library(folder, bundled_root()):
        click.echo(f"created {path}")
    click.echo(f"Next: edit {folder}/layouts/brand.toml, then "
               f"'handouts --library {folder} new my-topic'")
