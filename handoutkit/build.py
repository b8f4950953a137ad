"""The build: run the stages (select, assemble, render) for one output document."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .assemble import Personal, assemble, file_url, printed_date
from .cache import Cache
from .brand import load_brand
from .errors import OutputError, SpecError
from .library import DEFAULT_LANG, Library
from .sandbox import Sandbox, data_uri
from .select import Selection, parse_spec, select

FORMATS = ("pdf", "html")


@dataclass(frozen=True)
class BuildOptions:
    """What changes the output. `None` means "not given": the defaults apply."""

    lang: str | None = None
    layout: str = "standard"
    paper: str = "letter"
    brand: Path | None = None
    personal: Personal = field(default_factory=Personal)
    format: str = "pdf"
    duplex: bool = False
    jobs: int | None = None  # None: every core


def selections_for(library: Library, specs: list[str], lang: str | None) -> list[Selection]:
    """Parse and resolve every SPEC before anything is rendered."""
    selections = [select(library, parse_spec(spec), lang) for spec in specs]
    seen = set()
    for spec, selection in zip(specs, selections):
        key = (selection.topic.id, selection.topic.lang)
        if key in seen:
            raise SpecError(f"'{spec}': topic '{key[0]}' ({key[1]}) is given twice")
        seen.add(key)
    return selections


def output_name(selection: Selection) -> str:
    """The file name for one SPEC with --out-dir: from the topic, never from a patient."""
    topic = selection.topic
    suffix = "" if topic.lang == DEFAULT_LANG else f".{topic.lang}"
    return f"{topic.id}{suffix}.pdf"


def build(library: Library, specs: list[str], options: BuildOptions,
          cache: Cache | None = None) -> bytes:
    """One document (PDF or self-contained HTML) holding the given SPECs."""
    return build_selections(library, selections_for(library, specs, options.lang), options,
                            cache)


def build_selections(library: Library, selections: list[Selection], options: BuildOptions,
                     cache: Cache | None = None) -> bytes:
    brand = load_brand(options.brand or library.default_brand)
    sandbox = Sandbox([*library.roots, brand.path.parent])
    inline = options.format == "html"
    if len(selections) > 1 and not inline:
        from .packet import PacketSettings, build_packet

        settings = PacketSettings(library, brand, options.layout, options.paper,
                                  options.duplex, options.personal, printed_date())
        return build_packet(settings, selections, sandbox, cache or Cache(enabled=False),
                            options.jobs or os.cpu_count() or 1)

    def html(pad_to_even: bool = False) -> str:
        return assemble(
            selections,
            library=library,
            brand=brand,
            layout=options.layout,
            paper=options.paper,
            personal=options.personal,
            asset_url=data_uri if inline else file_url,
            duplex=options.duplex,
            pad_to_even=pad_to_even,
        )

    if inline:
        return html().encode("utf-8")
    from .render import page_count, render_pdf  # WeasyPrint loads only for a PDF

    pdf = render_pdf(html(), sandbox=sandbox, base_url=library.roots[0])
    if options.duplex and page_count(pdf) % 2:
        # "Page N of M" changes with the blank last page, so the document is laid out again.
        pdf = render_pdf(html(pad_to_even=True), sandbox=sandbox, base_url=library.roots[0])
    return pdf


def build_each(library: Library, specs: list[str], options: BuildOptions,
               out_dir: Path, cache: Cache | None = None) -> Iterator[Path]:
    """One document per SPEC in `out_dir`; every SPEC is checked before the first is built."""
    from .deliver import write_atomic

    selections = selections_for(library, specs, options.lang)
    if not out_dir.is_dir():
        raise OutputError(f"output folder not found: {out_dir}")
    extension = ".html" if options.format == "html" else ".pdf"
    for selection in selections:
        path = out_dir / output_name(selection).replace(".pdf", extension)
        yield write_atomic(path, build_selections(library, [selection], options, cache))
