"""`handouts build`: one handout, a packet, or one file per SPEC."""

from __future__ import annotations

from pathlib import Path

import click

from handoutkit.errors import OutputError

from .common import (
    complete_lang,
    complete_spec,
    engine_options,
    fhir_options,
    get_library,
    look_options,
    personal_options,
)


@click.command()
@click.argument("specs", nargs=-1, required=True, metavar="SPEC...", shell_complete=complete_spec)
@click.option("-o", "--output", metavar="FILE",
              help="Output file (several SPECs make one packet); '-' writes to standard output.")
@click.option("--out-dir", type=click.Path(file_okay=False), metavar="DIR",
              help="Write one PDF per SPEC into DIR, named after the topic.")
@look_options
@click.option("--bilingual", metavar="LANG2", shell_complete=complete_lang,
              help="Print each section again in LANG2 after the reader's language (e.g. en, "
                   "for family and the care team); every topic must have a LANG2 version.")
@click.option("--fallback", metavar="LANG", shell_complete=complete_lang,
              help="A topic not yet written in the reader's language prints in LANG "
                   "(usually en), marked 'not yet available in <language>' on the cover, "
                   "under its title and in the manifest. Without it, such a topic is an error.")
@personal_options
@click.option("--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf",
              show_default=True, help="PDF, or one self-contained HTML file.")
@click.option("--duplex", is_flag=True,
              help="For two-sided printing: the cover and each topic start on a right-hand page.")
@click.option("--archival", is_flag=True,
              help="PDF/A-3a for archiving in a health record (tagged, manifest attached).")
@fhir_options
@engine_options
@click.pass_context
def build(ctx, specs, output, out_dir, fmt, fhir_file, **given) -> None:
    """Build a handout from SPEC = TOPIC[@LANG][:SECTION,SECTION...].

    \b
    Examples:
      handouts build psychotherapy -o psychotherapy.pdf
      handouts build psychotherapy depression-adults@es --patient "Ana Díaz" -o packet.pdf
      handouts build psychotherapy insomnia --out-dir handouts/
      handouts build psychotherapy:what-is,types --patient "Ana Díaz" -o ana.pdf
      handouts build psychotherapy --layout large-print --paper a4 -o big.pdf
      handouts build suicide-prevention@vi --bilingual en -o vi-en.pdf
    """
    from handoutkit.build import make, selections_for
    from handoutkit.cache import Cache
    from handoutkit.deliver import write_fhir, write_output
    from handoutkit.options import FhirRefs
    from handoutkit.pdf.scratch import on_signals

    on_signals()
    _check_outputs(output, out_dir, fmt, fhir_file, given["patient_ref"])
    cache = Cache(enabled=not given["no_cache"])
    library = get_library(ctx, cache)
    options = _build_options(library, fmt, dict(given, specs=specs))
    if out_dir is not None:
        from handoutkit.build import build_each

        for path in build_each(library, list(specs), options, Path(out_dir), cache):
            click.echo(f"Wrote {path}", err=True)
        return
    built = make(library, selections_for(library, list(specs), options.lang,
                                         options.bilingual, options.fallback), options, cache)
    write_output(output, built.data)
    if output != "-":
        click.echo(f"Wrote {output}", err=True)
    if fhir_file:
        refs = FhirRefs(given["patient_ref"], given["encounter_ref"], given["author_ref"],
                        given["fhir_url"])
        try:
            write_fhir(fhir_file, built.data, built.manifest, built.title, refs)
        except OutputError as exc:
            where = "standard output" if output == "-" else output
            raise OutputError(f"the PDF was written to {where}, but the FHIR file was not: "
                              f"{exc}") from None
        click.echo(f"Wrote {fhir_file}", err=True)


def _check_outputs(output, out_dir, fmt, fhir_file, patient_ref) -> None:
    """Refuse unusable output options before anything is built or written."""
    from handoutkit.deliver import check_writable, same_file

    if (output is None) == (out_dir is None):
        raise click.UsageError("give either -o FILE or --out-dir DIR")
    if fhir_file and not patient_ref:
        raise click.UsageError("--fhir needs --patient-ref (the FHIR subject, e.g. Patient/123)")
    if fhir_file and (out_dir or fmt != "pdf"):
        raise click.UsageError("--fhir describes one PDF: use it with -o FILE")
    if output is not None and output != "-":
        check_writable(output)
    if fhir_file:
        if output != "-" and same_file(fhir_file, output):
            raise click.UsageError(f"--fhir {fhir_file} is the PDF's own file: give it "
                                   "another name, like visit.fhir.json")
        check_writable(fhir_file)


def _build_options(library, fmt: str, given: dict):
    """BuildOptions from the command's options, read by the one parser of a build request
    (handoutkit.request); defaults for what was not given."""
    from handoutkit.request import BuildRequest

    fields = {name: given[name] for name in ("lang", "bilingual", "fallback", "layout", "paper",
                                              "brand", "duplex", "archival", "patient",
                                              "visit_date", "clinician", "note")}
    request = BuildRequest.from_mapping(dict(fields, specs=list(given["specs"]), format=fmt),
                                        text=True, brand_files=True)
    return request.options(library.brand_file(request.brand) if request.brand else None,
                           jobs=given["jobs"])
