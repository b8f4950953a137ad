"""The build: run the stages (select, assemble, render) for one output document."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from .cache import Cache
from .content import fonts
from .content.brand import FIELDS as BRAND_FIELDS
from .content.brand import Brand, check_contrast, load_brand
from .content.library import DEFAULT_LANG, Library
from .content.measures import plain_text
from .content.safety import crisis_problems
from .content.select import Selection, pair, parse_spec, select
from .content.wording import load_strings
from .content_ops.scaffold import template_text
from .document.assemble import Setting, assemble, document_title, file_url
from .document.completeness import promise_for
from .document.manifest import build_manifest
from .errors import LibraryError, SpecError
from .options import BuildOptions, Personal, generation_time, printed_date
from .pdf.sandbox import Sandbox, data_uri

if TYPE_CHECKING:
    from .pdf.packet import PacketSettings

ARCHIVAL_VARIANT = "pdf/a-3a"  # PDF/A-3 level A: tagged, with the manifest attached


@dataclass(frozen=True)
class Built:
    """A built document: its bytes, the manifest embedded in it, and its title."""

    data: bytes
    manifest: dict
    title: str


def selections_for(library: Library, specs: list[str], lang: str | None,
                   bilingual: str | None = None, fallback: str | None = None
                   ) -> list[Selection]:
    """Parse and resolve every SPEC before anything is rendered; with `bilingual`, each
    topic is paired with its version in that language (an error if it has none); with
    `fallback`, a topic not yet written in the reader's language is taken in that one."""
    selections = [select(library, parse_spec(spec), lang, fallback) for spec in specs]
    if bilingual:
        selections = [pair(library, s, bilingual) for s in selections]
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


# Topics whose text this process has checked, by library (its fonts), file and content: a
# batch or the service checks a topic once, not once per patient. The oldest go first.
_CHECKED_TOPICS: dict[tuple, None] = {}
CHECKED_LIMIT = 4096


def check_printable(library: Library, selections: list[Selection], brand: Brand,
                    personal: Personal, cache: Cache | None = None) -> None:
    """Everything that will be printed is printable as written, before anything renders:
    personal details (no control or bidi override characters), the brand and the topics
    only use characters the declared fonts have. A TextError names the field or file."""
    font_set = fonts.find_fonts(library.roots)
    fonts.check_personal(font_set, personal.items())
    for name in BRAND_FIELDS:
        value = getattr(brand, name, None)
        if isinstance(value, str):
            fonts.check_text(font_set, value, f"{brand.path}: '{name}'")
    for code, fields in brand.languages:
        for name, value in fields:
            fonts.check_text(font_set, value, f"{brand.path}: [lang.{code}] '{name}'")
    from .document.notice import notice_texts

    for code, text in notice_texts(library, brand):
        fonts.check_text(font_set, text, f"language-assistance.toml: [{code}] 'line'")
    topics = [t for s in selections for t in (s.topic, s.second.topic if s.second else None) if t]
    for topic in topics:
        checked = (tuple(library.roots), topic.path, topic.sha256, topic.mental_health)
        if checked not in _CHECKED_TOPICS:
            text = topic.path.read_text(encoding="utf-8")
            where = f"topic {topic.id} ({topic.lang}, {topic.path.name})"
            fonts.check_text(font_set, text, where)
            # The crisis rules of `lint`, and no template text, on every topic a build prints.
            problems = crisis_problems(topic, text) + [
                (line, f"template text left in: '{sentence}' (write your own)")
                for line, sentence in template_text(text)]
            if problems:
                line, message = problems[0]
                at = f"{topic.path}:{line}" if line else str(topic.path)
                raise LibraryError(f"{at}: {message}; nothing was written")
            if len(_CHECKED_TOPICS) >= CHECKED_LIMIT:
                _CHECKED_TOPICS.pop(next(iter(_CHECKED_TOPICS)))
            _CHECKED_TOPICS[checked] = None
    crisis_text = "".join(plain_text(s) for t in topics if t.mental_health
                          for s in t.sections if s.required and s.has_emergency)
    fonts.check_outlines(font_set, library.roots, "0123456789" + crisis_text, cache)


def build(library: Library, specs: list[str], options: BuildOptions,
          cache: Cache | None = None) -> bytes:
    """One document (PDF or self-contained HTML) holding the given SPECs."""
    return make(library, selections_for(library, specs, options.lang, options.bilingual,
                                        options.fallback), options, cache).data


def prepare(library: Library, options: BuildOptions, cover: bool = True) -> PacketSettings:
    """The brand, sandbox and page setting of a build, set up once for every front door
    (build, batch, serve)."""
    from .pdf.packet import PacketSettings

    brand = load_brand(options.brand or library.default_brand)
    check_contrast(brand)
    setting = Setting(library, brand, options.layout, options.paper, options.duplex,
                      printed_date(), data_uri if options.format == "html" else file_url)
    return PacketSettings(setting, Sandbox([*library.roots, brand.path.parent]),
                          options.personal, cover)


def make(library: Library, selections: list[Selection], options: BuildOptions,
         cache: Cache | None = None, force_packet: bool = False,
         manifest_extra: dict | None = None) -> Built:
    """Run the stages for one document.

    A PDF carries a manifest (which topics, versions and sections; no patient details).
    PDFs are merged from cached parts: a topic is laid out once and serves every later
    handout and packet; personal details go on a cover of their own, made for each
    patient. Archival output (PDF/A-3a) and HTML are laid out as one document.
    `force_packet` gives even one topic a cover (batch rows). `manifest_extra` adds
    fields to the embedded manifest (a batch row's keyed digest; never patient details).
    """
    cover = len(selections) > 1 or force_packet or bool(options.personal)
    settings = prepare(library, options, cover)
    if not cover and settings.setting.brand.language_assistance:
        # The language-assistance notice prints after a cover: a brand that asks for it
        # gets it on every handout, a single one too.
        cover = True
        settings = dataclasses.replace(settings, cover=True)
    check_printable(library, selections, settings.setting.brand, options.personal, cache)
    manifest = build_manifest(selections, layout=options.layout, brand=settings.setting.brand.name,
                              paper=options.paper, archival=options.archival,
                              generated=generation_time())
    manifest.update(manifest_extra or {})
    lang = selections[0].topic.lang
    strings = load_strings(library).get(lang)
    if strings is None:
        raise LibraryError(f"the layouts have no wording for language '{lang}' (strings.toml)")
    title = document_title(selections, strings)
    promise = promise_for(selections, settings.setting.brand, cover=cover)
    if options.format == "html":
        html = assemble(selections, settings.setting, personal=options.personal, cover=cover)
        from .pdf.render import render_pdf

        # The page a patient prints from the browser: laid out and checked, not written.
        render_pdf(html, sandbox=settings.sandbox, base_url=library.roots[0], lang=lang,
                   promise=promise, write=False)
        return Built(html.encode("utf-8"), manifest, title)
    if not options.archival:
        from .pdf.packet import build_packet

        data = build_packet(settings, selections, cache or Cache(enabled=False),
                            options.jobs or os.cpu_count() or 1, manifest)
        return Built(data, manifest, title)
    from .pdf.render import render_pdf  # WeasyPrint loads only for a PDF

    def html(pad_to_even: bool = False) -> str:
        return assemble(selections, settings.setting, personal=options.personal, cover=cover,
                        pad_to_even=pad_to_even)

    pdf = render_pdf(html(), sandbox=settings.sandbox, base_url=library.roots[0], lang=lang,
                     variant=ARCHIVAL_VARIANT, manifest=manifest,
                     even_html=(lambda: html(pad_to_even=True)) if options.duplex else None,
                     promise=promise)
    return Built(pdf, manifest, title)


def build_each(library: Library, specs: list[str], options: BuildOptions,
               out_dir: Path, cache: Cache | None = None) -> Iterator[Path]:
    """One document per SPEC in `out_dir`; every SPEC is checked before the first is built."""
    from .deliver import write_atomic

    selections = selections_for(library, specs, options.lang, options.bilingual,
                                options.fallback)
    from .deliver import make_folder

    make_folder(out_dir)
    extension = ".html" if options.format == "html" else ".pdf"
    for selection in selections:
        path = out_dir / output_name(selection).replace(".pdf", extension)
        yield write_atomic(path, make(library, [selection], options, cache).data)
