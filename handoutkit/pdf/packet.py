"""Packets from cached parts.

Each topic is rendered once as a "part" (a tagged PDF without page numbers) and cached;
uncached parts render on all cores. A packet is then put together with qpdf (through
pikepdf), without laying out any topic again:

    cover (personal details, contents) + parts (+ blank pages for duplex)
    -> one structure tree (tags of every part and the cover, renumbered)
    -> "Page N of M" stamped from a cached overlay, as artifacts
    -> placeholder links resolved: topics in the packet jump to their first page
    -> one font per face, subset to the glyphs of the whole packet (parts subset their
       fonts keeping glyph ids, so one font can serve every part)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pikepdf import Name

from .. import __version__
from ..cache import Cache, make_key
from ..content.brand import Brand
from ..content.fonts import find_fonts
from ..content.library import Library
from ..content.select import Selection
from ..document.articles import picture_path
from ..document.assemble import (
    TOPIC_LINK,
    Setting,
    assemble_cover,
    assemble_numbers,
    assemble_part,
)
from ..document.completeness import promise_for
from ..errors import RenderError
from ..options import Personal
from .pagecheck import Promise
from .pdfjoin import (
    face_key,
    join_fonts,
    join_outlines,
    join_structure,
    open_pdf,
    stamp_overlay,
    subset_font,
    take_document_info,
)
from .sandbox import Sandbox
from .workers import Renderer


@dataclass(frozen=True)
class PacketSettings:
    """Everything but the topics that shapes a packet; `cover` False makes a single
    handout from its cached part alone (no cover, no personal details)."""

    setting: Setting
    sandbox: Sandbox
    personal: Personal = Personal()
    cover: bool = True

    @property
    def library(self) -> Library:
        """The library the setting reads."""
        return self.setting.library


def fingerprint(library: Library, brand: Brand, layout: str, paper: str) -> str:
    """Everything outside the topics that changes a rendered page (but the printed date,
    which keys take on their own)."""
    digest = hashlib.sha256()
    files: list[Path] = [brand.path] + ([brand.logo] if brand.logo else [])
    for folder in library.layout_dirs:
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update("\0".join(find_fonts(library.roots).identity()).encode())
    digest.update(f"{layout}\0{paper}\0{__version__}".encode())
    return digest.hexdigest()


def _fingerprint(setting: Setting) -> str:
    return fingerprint(setting.library, setting.brand, setting.layout, setting.paper)


def part_key(selection: Selection, library: Library, print_fingerprint: str,
             printed: dt.date) -> str:
    """A part's bytes depend on its topic file, its pictures, sections, related titles and
    settings."""
    topic = selection.topic
    related = [(r, library.source_digest(r, topic.lang)) for r in topic.related]
    second = selection.second
    bilingual = [second.topic.sha256, second.topic.lang, second.section_ids,
                 _pictures(second.topic, library)] if second else None
    return make_key("part", print_fingerprint, topic.sha256, topic.lang,
                    selection.section_ids, related, printed.isoformat(),
                    _pictures(topic, library), *([bilingual] if bilingual else []),
                    *([selection.wanted_lang] if selection.wanted_lang else []))


def _pictures(topic, library: Library) -> list[tuple[str, str]]:
    """Each picture the topic shows with a digest of its file (a picture edited in the
    library makes the part again); a missing file is left to the sandbox to report."""
    found = []
    for image in topic.images:
        try:
            path = picture_path(topic.path, image.src, library)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except (OSError, ValueError):
            digest = ""
        found.append((image.src, digest))
    return found


# -- the packet ---------------------------------------------------------------------------

def build_packet(settings: PacketSettings, selections: list[Selection], cache: Cache,
                 jobs: int, manifest: dict | None = None) -> bytes:
    """The packet's PDF: parts from the cache (rendered on up to `jobs` cores when
    missing), a cover unless `settings.cover` is off, page numbers, merged by qpdf."""
    library = settings.library
    print_fp = _fingerprint(settings.setting)
    base_url = library.roots[0]

    with Renderer(settings.sandbox, base_url, jobs) as renderer:
        keys, pdfs = ensure_parts(settings, selections, renderer, cache, print_fp)
        parts = [open_pdf(pdf) for pdf in pdfs]
        cover, plan, numbers = _cover_and_numbers(settings, selections, keys, parts, renderer,
                                                  cache, print_fp)
        renderer.done()
        try:
            return _merge(settings, selections, cover, parts, plan, numbers, cache, manifest)
        except pikepdf.PdfError as exc:
            raise RenderError(f"merging the packet failed: {exc}") from exc


def _cover_and_numbers(settings, selections, keys, parts, renderer, cache, print_fp):
    """The cover, the plan of the packet's pages, and the "Page N of M" overlay."""
    # The cover and the page numbers both follow from the plan; when neither is cached they
    # render side by side. The plan assumes a one-page cover until the cover says otherwise.
    cover_pages = 1 if settings.cover else 0
    while True:
        plan = _plan(cover_pages, [len(part.pages) for part in parts], settings.setting.duplex)
        page_langs = _page_langs(selections, parts, plan)
        # A cover with personal details is made for each patient and never cached.
        cover_key = None if settings.personal else make_key(
            "cover", print_fp, keys, plan.starts, settings.setting.printed.isoformat(),
            settings.setting.duplex)
        blanks = _blank_pages(plan, [len(part.pages) for part in parts])
        numbers_key = make_key("numbers", print_fp, page_langs, sorted(blanks))
        cover = cache.get(cover_key) if cover_key and settings.cover else None
        numbers = cache.get(numbers_key)
        htmls, promises = {}, []
        if cover is None and settings.cover:
            htmls["cover"] = assemble_cover(selections, settings.setting, settings.personal,
                                            plan.starts)
            promises.append(Promise("the packet's cover", cover=any(
                s.topic.mental_health for s in selections)))
        if numbers is None:
            htmls["numbers"] = assemble_numbers(settings.setting, page_langs, blanks)
            promises.append(None)
        rendered = dict(zip(htmls, renderer.render(list(htmls.values()), promises)))
        if "cover" in rendered:
            cover = rendered["cover"]
            if cover_key:
                cache.put(cover_key, cover)
        if "numbers" in rendered:
            numbers = rendered["numbers"]
            cache.put(numbers_key, numbers)
        cover_pdf = open_pdf(cover) if settings.cover else None
        if cover_pdf is None or len(cover_pdf.pages) == cover_pages:
            return cover_pdf, plan, open_pdf(numbers)
        cover_pages = len(cover_pdf.pages)


def _blank_pages(plan: "Plan", part_pages: list[int]) -> frozenset[int]:
    """The indices of the blank pages duplex printing adds (after the cover, before a
    topic that must start on a right-hand page, at the end)."""
    used = set(range(plan.cover_pages))
    for start, count in zip(plan.starts, part_pages):
        used.update(range(start - 1, start - 1 + count))
    return frozenset(set(range(plan.total)) - used)


def _page_langs(selections: list[Selection], parts: list[pikepdf.Pdf], plan: Plan) -> list[str]:
    """The language of each page of the packet, for its "Page N of M" (blank pages take
    the language of the page before)."""
    page_langs = [selections[0].topic.lang] * plan.cover_total
    for selection, part, start in zip(selections, parts, plan.starts):
        blank_lang = page_langs[-1] if page_langs else selection.topic.lang
        page_langs += [blank_lang] * (start - 1 - len(page_langs))
        page_langs += [selection.topic.lang] * len(part.pages)
    return page_langs + [page_langs[-1]] * (plan.total - len(page_langs))


def ensure_parts(settings: PacketSettings, selections: list[Selection], renderer: Renderer,
                 cache: Cache, print_fp: str | None = None,
                 ) -> tuple[list[str], list[bytes]]:
    """Every selection's part, from the cache or rendered into it."""
    library = settings.library
    print_fp = print_fp or _fingerprint(settings.setting)
    keys = [part_key(s, library, print_fp, settings.setting.printed) for s in selections]
    parts: list[bytes | None] = [cache.get(k) for k in keys]
    missing: dict[str, int] = {}
    for index, pdf in enumerate(parts):
        if pdf is None:
            missing.setdefault(keys[index], index)  # the same part is rendered once
    if missing:
        htmls = [assemble_part(selections[i], settings.setting) for i in missing.values()]
        # Each part is checked as laid out when it is made; a cached part was checked then.
        promises = [promise_for([selections[i]], settings.setting.brand)
                    for i in missing.values()]
        # Each part goes into the cache as soon as it is made: when a later part fails or
        # the render is stopped (the service's --timeout), a retry starts from there.
        keys_missing = list(missing)
        rendered = {}
        for index, pdf in renderer.each(htmls, promises):
            rendered[keys_missing[index]] = pdf
            cache.put(keys_missing[index], pdf)
        parts = [pdf if pdf is not None else rendered[key] for key, pdf in zip(keys, parts)]
    return keys, parts  # type: ignore[return-value]


@dataclass(frozen=True)
class Plan:
    """Where each part of a packet starts, after the cover and duplex blank pages."""

    cover_total: int  # cover pages, with the blank back page in duplex
    starts: list[int]  # first page of each part, counting from 1
    total: int
    cover_pages: int = 0  # the cover's own pages (without its blank back page)


def _plan(cover_pages: int, part_pages: list[int], duplex: bool) -> Plan:
    page = cover_pages + (cover_pages % 2 if duplex else 0)
    cover_total = page
    starts = []
    for count in part_pages:
        if duplex and page % 2 == 1:
            page += 1  # a blank left-hand page: the part starts on the right
        starts.append(page + 1)
        page += count
    if duplex and page % 2:
        page += 1
    return Plan(cover_total, starts, page, cover_pages)


def _merge(settings, selections, cover, parts, plan, numbers, cache, manifest) -> bytes:
    """The packet's pages in order (blank pages for duplex), then one structure tree,
    outline, page numbers, links, fonts and document information for all of them."""
    out = pikepdf.new()
    first = cover if cover is not None else parts[0]
    box = first.pages[0].mediabox
    size = (float(box[2]) - float(box[0]), float(box[3]) - float(box[1]))
    sources = []  # (document, index of its first page in the packet)
    if cover is not None:
        sources.append((cover, 0))
        out.pages.extend(cover.pages)
    for part, start in zip(parts, plan.starts):
        while len(out.pages) < start - 1:
            out.add_blank_page(page_size=size)
        sources.append((part, len(out.pages)))
        if "/AcroForm" in part.Root:
            # Fillable write-in fields: qpdf carries the form with the pages.
            out.add_pages_from(part, outlines="ignore")
        else:
            out.pages.extend(part.pages)
    while len(out.pages) < plan.total:
        out.add_blank_page(page_size=size)

    join_structure(out, sources)
    if cover is not None:
        join_outlines(out, sources[1:])
    else:
        join_outlines(out, sources, lift=len(parts) == 1)
    stamp_overlay(out, numbers)
    targets: dict[str, tuple[int, str]] = {}
    for selection, start in zip(selections, plan.starts):
        targets.setdefault(selection.topic.id, (start - 1, selection.topic.title))
    _resolve_links(out, targets, settings.library, _page_langs(selections, parts, plan),
                   plan.cover_total)
    _join_fonts(out, settings.library, cache)
    take_document_info(out, first, f"handouts {__version__} (WeasyPrint, qpdf)")
    if manifest is not None:
        from ..document.manifest import NAME, dumps

        out.attachments[NAME] = pikepdf.AttachedFileSpec(
            out, dumps(manifest), filename=NAME, mime_type="application/json")
    result = io.BytesIO()
    # Object streams pack the thousands of small structure elements as WeasyPrint does.
    out.save(result, object_stream_mode=pikepdf.ObjectStreamMode.generate,
             compress_streams=True, deterministic_id=True, min_version=first.pdf_version)
    return result.getvalue()


def _resolve_links(out: pikepdf.Pdf, targets: dict[str, tuple[int, str]], library: Library,
                   page_langs: list[str], cover_pages: int) -> None:
    """Placeholder links: to the topic's first page in the packet (`targets`: topic id ->
    page index and title), or to its url, or to nothing.

    Each link is described (PDF/UA: what a screen reader says for it) by the title it
    shows: the contents name the topics as selected, a topic's "More on this topic" names
    them in the topic's language.
    """
    for number, (page, lang) in enumerate(zip(out.pages, page_langs)):
        for annot in page.obj.get("/Annots", []):
            action = annot.get("/A")
            uri = str(action.get("/URI", "")) if action is not None else ""
            if not uri.startswith(TOPIC_LINK):
                continue
            topic_id = uri[len(TOPIC_LINK):]
            topic = library.in_language(topic_id, lang)
            if number < cover_pages and topic_id in targets:
                title = targets[topic_id][1]
            else:
                title = topic.title if topic else topic_id
            annot.Contents = pikepdf.String(title)
            if topic_id in targets:
                del annot["/A"]
                annot.Dest = pikepdf.Array([out.pages[targets[topic_id][0]].obj, Name.XYZ,
                                            None, None, None])
            elif topic is not None and topic.url:
                annot.A = pikepdf.Dictionary(S=Name.URI, URI=pikepdf.String(topic.url))
            else:
                del annot["/A"]
                annot.F = 2  # hidden: nothing to go to


def _join_fonts(out: pikepdf.Pdf, library: Library, cache: Cache) -> None:
    """One subset per face for the whole packet, kept in the cache by its glyphs."""

    def subset(name: str, path: Path, digest: str, glyphs: list[int]) -> bytes:
        key = make_key("font", name, digest, glyphs)
        data = cache.get(key)
        if data is None:
            data = subset_font(path, glyphs)
            cache.put(key, data)
        return data

    join_fonts(out, _font_files(library, cache), subset)


def _font_files(library: Library, cache: Cache) -> dict[str, tuple[Path, str]]:
    """PostScript name ('Atkinson-Hyperlegible-Bold') -> font file and its SHA-256. Names
    are read once per set of font files (fontTools takes longer to import than a warm
    packet takes to merge)."""
    digests = {p: hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(library.fonts_dir.glob("*.ttf"))}
    key = make_key("faces", [(str(p), digest) for p, digest in digests.items()])
    cached = cache.get(key)
    if cached is not None:
        names = {name: Path(path) for name, path in json.loads(cached).items()}
    else:
        from fontTools.ttLib import TTFont

        names = {}
        for path in digests:
            with TTFont(path, lazy=True) as font:
                names[face_key(font["name"].getDebugName(6))] = path
        cache.put(key, json.dumps({name: str(path) for name, path in names.items()}).encode())
    return {name: (path, digests[path]) for name, path in names.items()}
