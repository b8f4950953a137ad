"""The `handouts` command line: parse options, call the engine, turn errors into one line.

The top-level cli.py of a source checkout only imports and starts `main`.
"""

from __future__ import annotations

import json
import sys

import click

from handoutkit import __version__
from handoutkit.build import BuildOptions
from handoutkit.errors import HandoutsError
from handoutkit.library import Library
from handoutkit.lint import Limits

LIBRARY_HELP = "A clinic's own library folder, searched before the bundled one."


class HandoutsGroup(click.Group):
    """Turns engine errors into `Error: …` and their exit code, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except HandoutsError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=HandoutsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--library", "library_dir", envvar="HANDOUTS_LIBRARY", metavar="DIR",
              type=click.Path(file_okay=False), help=LIBRARY_HELP)
@click.version_option(__version__, prog_name="handouts")
@click.pass_context
def main(ctx: click.Context, library_dir: str | None) -> None:
    """Turn plain-language patient-education topics into branded, print-ready PDFs."""
    ctx.obj = {"library_dir": library_dir}


def get_library(ctx: click.Context, cache=None) -> Library:
    """The library of --library; `cache` (commands that render) keeps parsed topics."""
    obj = ctx.find_root().obj
    if "library" not in obj:
        obj["library"] = Library(obj["library_dir"], cache=cache)
    return obj["library"]


@main.command("list")
@click.option("--lang", metavar="L", help="Only topics that have this language (e.g. es).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def list_topics(ctx: click.Context, lang: str | None, as_json: bool) -> None:
    """List the topics in the library."""
    library = get_library(ctx)
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
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        click.echo(f"{r['id']:<{width}}  {r['version']:<5} {r['updated']}  "
                   f"{','.join(r['languages']):<6} {r['title']}")


@main.command()
@click.argument("topic")
@click.option("--lang", default="en", show_default=True, metavar="L", help="Language version.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
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


@main.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...")
@click.option("-o", "--output", metavar="FILE",
              help="Output file (several SPECs make one packet); '-' writes to standard output.")
@click.option("--out-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write one PDF per SPEC into DIR, named after the topic.")
@click.option("--lang", metavar="L", help="Language for SPECs without @LANG (default en).")
@click.option("--layout", metavar="NAME", help=f"Layout name (default {BuildOptions.layout}).")
@click.option("--paper", type=click.Choice(["letter", "a4"]),
              help=f"Paper size (default {BuildOptions.paper}).")
@click.option("--brand", type=click.Path(dir_okay=False), metavar="FILE",
              help="Brand file (TOML); default: the library's layouts/brand.toml.")
@click.option("--patient", metavar="NAME", help="Patient name, printed on the first page (a packet's cover).")
@click.option("--visit-date", metavar="DATE", help="Visit date, printed on the first page.")
@click.option("--clinician", metavar="NAME", help="Clinician, printed on the first page.")
@click.option("--note", metavar="TEXT", help="A short note, printed on the first page.")
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf",
              show_default=True, help="PDF, or one self-contained HTML file.")
@click.option("--duplex", is_flag=True,
              help="For two-sided printing: the cover and each topic start on a right-hand page.")
@click.option("--archival", is_flag=True,
              help="PDF/A-3a for archiving in a health record (tagged, manifest attached).")
@click.option("--fhir", "fhir_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write a FHIR R4 DocumentReference for the PDF (needs --patient-ref).")
@click.option("--fhir-url", metavar="URL",
              help="In the DocumentReference, point to the PDF at URL instead of embedding it.")
@click.option("--patient-ref", metavar="REF", help="FHIR subject, e.g. Patient/123.")
@click.option("--encounter-ref", metavar="REF", help="FHIR encounter, e.g. Encounter/456.")
@click.option("--author-ref", metavar="REF", help="FHIR author, e.g. Practitioner/789.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Render uncached topics of a packet on N cores (default: all).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache.")
@click.pass_context
def build(ctx, specs, output, out_dir, lang, layout, paper, brand, patient, visit_date,
          clinician, note, fmt, duplex, archival, fhir_file, fhir_url, patient_ref,
          encounter_ref, author_ref, jobs, no_cache) -> None:
    """Build a handout from SPEC = TOPIC[@LANG][:SECTION,SECTION...].

    \b
    Examples:
      handouts build psychotherapy -o psychotherapy.pdf
      handouts build psychotherapy insomnia@es --patient "Ana Díaz" -o packet.pdf
      handouts build psychotherapy insomnia --out-dir handouts/
      handouts build psychotherapy:what-is,types --patient "Ana Díaz" -o ana.pdf
      handouts build psychotherapy --layout large-print --paper a4 -o big.pdf
    """
    from pathlib import Path

    from handoutkit.options import Personal
    from handoutkit.build import make, selections_for
    from handoutkit.cache import Cache
    from handoutkit.deliver import write_atomic, write_output

    if (output is None) == (out_dir is None):
        raise click.UsageError("give either -o FILE or --out-dir DIR")
    if fhir_file and not patient_ref:
        raise click.UsageError("--fhir needs --patient-ref (the FHIR subject, e.g. Patient/123)")
    if fhir_file and (out_dir or fmt != "pdf"):
        raise click.UsageError("--fhir describes one PDF: use it with -o FILE")
    given = {"layout": layout, "paper": paper, "brand": Path(brand) if brand else None}
    options = BuildOptions(
        lang=lang, personal=Personal(patient, visit_date, clinician, note), format=fmt,
        duplex=duplex, archival=archival, jobs=jobs,
        **{name: value for name, value in given.items() if value is not None},
    )
    cache = Cache(enabled=not no_cache)
    library = get_library(ctx, cache)
    if output is not None:
        built = make(library, selections_for(library, list(specs), lang), options, cache)
        fhir_data = None
        if fhir_file:
            from handoutkit import fhir

            fhir_data = fhir.dumps(fhir.document_reference(
                built.data, built.manifest, title=built.title, patient_ref=patient_ref,
                encounter_ref=encounter_ref, author_ref=author_ref, url=fhir_url))
        write_output(output, built.data)
        if output != "-":
            click.echo(f"Wrote {output}", err=True)
        if fhir_data is not None:
            write_atomic(fhir_file, fhir_data)
            click.echo(f"Wrote {fhir_file}", err=True)
        return
    from handoutkit.build import build_each

    for path in build_each(library, list(specs), options, Path(out_dir), cache):
        click.echo(f"Wrote {path}", err=True)


@main.command()
@click.argument("topics", nargs=-1, metavar="[TOPIC...]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for CI.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--brand", type=click.Path(dir_okay=False), metavar="FILE",
              help="Brand file whose colour to check; default: the library's.")
@click.option("--max-grade", type=float,
              help=f"Highest Flesch-Kincaid grade for an English topic ({Limits.max_grade}).")
@click.option("--max-section-grade", type=float,
              help=f"Highest Flesch-Kincaid grade for any English section "
                   f"({Limits.max_section_grade}).")
@click.option("--min-ease-es", type=float,
              help=f"Lowest Fernandez-Huerta score for a Spanish topic ({Limits.min_ease_es}).")
@click.option("--min-section-ease-es", type=float,
              help=f"Lowest Fernandez-Huerta score for any Spanish section "
                   f"({Limits.min_section_ease_es}).")
@click.pass_context
def lint(ctx, topics, as_json, strict, brand, max_grade, max_section_grade, min_ease_es,
         min_section_ease_es) -> None:
    """Check topics: metadata, related ids, crisis block, reading level, alt text,
    brand contrast, translations, review dates.

    Errors make the exit code 1; warnings do too with --strict.
    """
    from handoutkit.brand import load_brand
    from handoutkit.lint import Linter

    library = get_library(ctx)
    given = {"max_grade": max_grade, "max_section_grade": max_section_grade,
             "min_ease_es": min_ease_es, "min_section_ease_es": min_section_ease_es}
    limits = Limits(**{name: value for name, value in given.items() if value is not None})
    linter = Linter(library, load_brand(brand or library.default_brand), limits)
    findings = linter.run(list(topics))
    failed = bool(linter.errors or (strict and linter.warnings))
    if as_json:
        click.echo(json.dumps({
            "errors": len(linter.errors), "warnings": len(linter.warnings),
            "findings": [f.as_dict() for f in findings],
            "readability": [
                {"topic": r.topic.id, "lang": r.topic.lang, "measure": r.measure,
                 "score": r.score,
                 "sections": {s.id: score for s, score in r.sections}}
                for r in linter.readability
            ],
        }, indent=2, ensure_ascii=False))
    else:
        for finding in findings:
            click.echo(str(finding))
        checked = len(linter.readability)
        click.echo(f"{checked} topic files checked: {len(linter.errors)} errors, "
                   f"{len(linter.warnings)} warnings", err=True)
    ctx.exit(1 if failed else 0)


@main.command()
@click.argument("codes", nargs=-1, required=True, metavar="CODE...")
@click.option("--lang", default="en", show_default=True, metavar="L",
              help="Language of the titles shown.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def find(ctx, codes, lang, as_json) -> None:
    """Find topics for ICD-10-CM codes (F41.1, f411, F32.9 ...), closest first."""
    from handoutkit.codes import find as find_topics

    results = find_topics(get_library(ctx), list(codes), lang)
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
            click.echo(f"{code}: {m.topic_id}  ({m.title}; {m.kind} match on {m.code})")


@main.command()
@click.argument("topic")
@click.option("--lang", default="en", show_default=True, metavar="L", help="Language.")
@click.pass_context
def new(ctx, topic, lang) -> None:
    """Write a new topic file from a commented template into the library."""
    from handoutkit.scaffold import new_topic

    path = new_topic(get_library(ctx), topic, lang)
    library_dir = ctx.find_root().obj["library_dir"]
    prefix = f"handouts --library {library_dir}" if library_dir else "handouts"
    click.echo(f"Wrote {path}: edit it, then run '{prefix} lint {topic}'")


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
def init(folder) -> None:
    """Create a clinic's own library: a brand to edit, a layout, a topics folder."""
    from handoutkit.library import bundled_root
    from handoutkit.scaffold import init_library

    for path in init_library(folder, bundled_root()):
        click.echo(f"created {path}")
    click.echo(f"Next: edit {folder}/layouts/brand.toml, then "
               f"'handouts --library {folder} new my-topic'")


@main.command()
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the packets (named by the manifest's 'output' column).")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Rows built at once (default: the number of cores).")
@click.option("--shard", "shard_spec", metavar="I/N",
              help="Build only shard I of N (stable; N shards together build every row).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache.")
@click.pass_context
def batch(ctx, manifest, out_dir, jobs, shard_spec, no_cache) -> None:
    """Build a personalised packet for each row of a CSV or JSON Lines MANIFEST.

    Bad rows are reported with their line and skipped; rows whose packet is already
    complete and current are skipped without rendering, so a stopped run can be re-run.
    The exit code is 1 if any row failed.
    """
    import os
    from pathlib import Path

    from handoutkit.batch import run
    from handoutkit.cache import Cache

    stderr = sys.stderr
    bar = None
    interactive = stderr.isatty()

    def report(outcome, done, total):
        nonlocal bar
        if outcome.status == "failed":
            if bar is not None:
                stderr.write("\n")
            click.echo(f"failed: {outcome.message}", err=True)
        elif interactive:
            if bar is None:
                bar = click.progressbar(length=total, label="Building", file=stderr)
                bar.__enter__()
            bar.update(1)
        elif total:
            click.echo(f"[{done}/{total}] {outcome.status} {outcome.output}", err=True)

    cache = Cache(enabled=not no_cache)
    summary = run(get_library(ctx, cache), Path(manifest), Path(out_dir),
                  jobs=jobs or os.cpu_count() or 1, cache=cache,
                  shard_spec=shard_spec, report=report)
    if bar is not None:
        bar.__exit__(None, None, None)
    click.echo(summary.line(), err=True)
    ctx.exit(1 if summary.failed else 0)


@main.command("print")
@click.argument("pdfs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True),
                metavar="PDF...")
@click.option("--printer", required=True, metavar="NAME", help="CUPS printer (lp -d).")
@click.option("--copies", type=click.IntRange(min=1), default=1, show_default=True,
              help="Copies of each file.")
@click.option("--duplex", is_flag=True, help="Print on both sides (long edge).")
def print_command(pdfs, printer, copies, duplex) -> None:
    """Send PDFs to a printer through CUPS (lp)."""
    from pathlib import Path

    from handoutkit.deliver import print_files

    failed = 0
    for pdf in pdfs:
        try:
            print_files([Path(pdf)], printer, copies=copies, duplex=duplex)
            click.echo(f"sent {pdf} to {printer}", err=True)
        except HandoutsError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
    if failed:
        raise click.exceptions.Exit(4)


@main.command()
@click.argument("pdf", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
def inspect(pdf, as_json) -> None:
    """Show which topics, versions and sections a PDF made by handouts holds."""
    from handoutkit.inspection import read_manifest

    manifest = read_manifest(pdf)
    if as_json:
        click.echo(json.dumps(manifest, indent=2, ensure_ascii=False))
        return
    click.echo(f"{pdf}: made by {manifest.get('generator')} on {manifest.get('generated')}")
    click.echo(f"layout {manifest.get('layout')}, paper {manifest.get('paper')}, "
               f"brand {manifest.get('brand')}"
               + (", archival (PDF/A-3)" if manifest.get("archival") else ""))
    for t in manifest["topics"]:
        click.echo(f"  {t['id']} ({t['lang']}) version {t['version']}, updated {t['updated']}: "
                   f"{t['title']}")
        click.echo(f"    sections: {', '.join(t['sections'])}")


@main.group()
def cache() -> None:
    """The cache of rendered topics (HANDOUTS_CACHE_DIR overrides its folder)."""


@cache.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def cache_info(as_json) -> None:
    """Show where the cache is, how many entries and bytes it holds."""
    from handoutkit.cache import Cache

    info = Cache().info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(f"{info['folder']}: {info['entries']} entries, {info['bytes']:,} bytes")


@cache.command("clear")
def cache_clear() -> None:
    """Remove every cached entry."""
    from handoutkit.cache import Cache

    click.echo(f"Removed {Cache().clear()} entries")


if __name__ == "__main__":
    sys.exit(main())
