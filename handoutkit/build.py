"""The build: run the stages (select, assemble, render) for one output document."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .assemble import Personal, assemble, file_url
from .brand import load_brand
from .library import Library
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


def selections_for(library: Library, specs: list[str], lang: str | None) -> list[Selection]:
    """Parse and resolve every SPEC before anything is rendered."""
    return [select(library, parse_spec(spec), lang) for spec in specs]


def build(library: Library, specs: list[str], options: BuildOptions) -> bytes:
    """One document (PDF or self-contained HTML) holding the given SPECs."""
    selections = selections_for(library, specs, options.lang)
    brand = load_brand(options.brand or library.default_brand)
    sandbox = Sandbox([*library.roots, brand.path.parent])
    inline = options.format == "html"
    html = assemble(
        selections,
        library=library,
        brand=brand,
        layout=options.layout,
        paper=options.paper,
        personal=options.personal,
        asset_url=data_uri if inline else file_url,
    )
    if inline:
        return html.encode("utf-8")
    from .render import render_pdf  # WeasyPrint loads only when a PDF is made

    return render_pdf(html, sandbox=sandbox, base_url=library.roots[0])
