"""Packets from cached parts.

Each topic is rendered once as a "part" (a tagged PDF without page numbers) and cached;
uncached parts render on all cores. A packet is then put together with pypdf, without
laying out any topic again:

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
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    NullObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from . import __version__
from .assemble import TOPIC_LINK, Personal, assemble, load_strings
from .brand import Brand
from .cache import Cache, make_key
from .library import Library
from .sandbox import Sandbox
from .select import Selection

MCID_RE = re.compile(rb"/[A-Za-z0-9]+\s*<<\s*/MCID\s+\d+\s*>>\s*BDC")
HEX_PAIR_RE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")


@dataclass(frozen=True)
class PacketSettings:
    library: Library
    brand: Brand
    layout: str
    paper: str
    duplex: bool
    personal: Personal
    printed: dt.date

    def assemble(self, selections, **kwargs) -> str:
        return assemble(selections, library=self.library, brand=self.brand,
                        layout=self.layout, paper=self.paper, printed=self.printed,
                        duplex=self.duplex, **kwargs)


def fingerprint(library: Library, brand: Brand, layout: str, paper: str) -> str:
    """Everything outside the topics that changes a rendered page."""
    digest = hashlib.sha256()
    files: list[Path] = [brand.path] + ([brand.logo] if brand.logo else [])
    for folder in library.layout_dirs:
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    files += sorted(library.fonts_dir.glob("*"))
    for path in files:
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(f"{layout}\0{paper}\0{__version__}".encode())
    return digest.hexdigest()


def part_key(selection: Selection, library: Library, print_fingerprint: str,
             printed: dt.date) -> str:
    """A part's bytes depend on its topic file, sections, related titles and settings."""
    topic = selection.topic
    related = [(r, library.source_digest(r, topic.lang)) for r in topic.related]
    return make_key("part", print_fingerprint, topic.sha256, topic.lang,
                    selection.section_ids, related, printed.isoformat())


# -- rendering on all cores ---------------------------------------------------------------

def _render_job(args):
    html, roots, base_url = args
    from .render import render_pdf

    return render_pdf(html, sandbox=Sandbox(roots), base_url=base_url)


def render_all(htmls: list[str], sandbox: Sandbox, base_url: Path, jobs: int) -> list[bytes]:
    """Render documents, in parallel when there are several and several jobs."""
    from . import render  # noqa: F401  (imported before forking: workers start warm)

    args = [(html, sandbox.roots, base_url) for html in htmls]
    if jobs <= 1 or len(htmls) <= 1:
        return [_render_job(a) for a in args]
    import multiprocessing

    # The longest documents first, so the last one to finish is short.
    order = sorted(range(len(args)), key=lambda i: -len(htmls[i]))
    results: list[bytes | None] = [None] * len(args)
    with multiprocessing.get_context("fork").Pool(min(jobs, len(args))) as pool:
        for index, pdf in zip(order, pool.imap(_render_job, [args[i] for i in order])):
            results[index] = pdf
    return results  # type: ignore[return-value]


# -- the packet ---------------------------------------------------------------------------

def build_packet(settings: PacketSettings, selections: list[Selection], sandbox: Sandbox,
                 cache: Cache, jobs: int, manifest: dict | None = None) -> bytes:
    library = settings.library
    print_fp = fingerprint(library, settings.brand, settings.layout, settings.paper)
    base_url = library.roots[0]

    keys, parts = ensure_parts(settings, selections, sandbox, cache, jobs, print_fp)
    readers = [_reader(key, pdf) for key, pdf in zip(keys, parts)]

    cover_pages = 1
    while True:
        plan = _plan(cover_pages, [len(r.pages) for r in readers], settings.duplex)
        cover = _cover(settings, selections, keys, plan, sandbox, cache, print_fp)
        cover_reader = PdfReader(io.BytesIO(cover))
        if len(cover_reader.pages) == cover_pages:
            break
        cover_pages = len(cover_reader.pages)

    lang = selections[0].topic.lang
    page_langs = [lang] * plan.cover_total
    for selection, reader, start in zip(selections, readers, plan.starts):
        page_langs += [page_langs[-1]] * (start - 1 - len(page_langs))
        page_langs += [selection.topic.lang] * len(reader.pages)
    page_langs += [page_langs[-1]] * (plan.total - len(page_langs))
    numbers_key = make_key("numbers", print_fp, page_langs)
    numbers = cache.get(numbers_key)
    if numbers is None:
        from .render import render_pdf

        numbers = render_pdf(settings.assemble([], mode="numbers", page_langs=page_langs),
                             sandbox=sandbox, base_url=base_url)
        cache.put(numbers_key, numbers)

    return _merge(settings, selections, cover_reader, readers, plan,
                  _reader(numbers_key, numbers), cache, manifest)


# Parsed parts, kept for the next packet in this process: a batch merges the same parts
# into many packets, and parsing is most of pypdf's work. Bounded, so memory stays flat.
_READERS: OrderedDict[str, PdfReader] = OrderedDict()
READERS_KEPT = 48


def _reader(key: str, pdf: bytes) -> PdfReader:
    reader = _READERS.get(key)
    if reader is None:
        reader = _READERS[key] = PdfReader(io.BytesIO(pdf))
        while len(_READERS) > READERS_KEPT:
            _READERS.popitem(last=False)
    else:
        _READERS.move_to_end(key)
    return reader


def ensure_parts(settings: PacketSettings, selections: list[Selection], sandbox: Sandbox,
                 cache: Cache, jobs: int, print_fp: str | None = None,
                 ) -> tuple[list[str], list[bytes]]:
    """Every selection's part, from the cache or rendered (on `jobs` cores) into it."""
    library = settings.library
    print_fp = print_fp or fingerprint(library, settings.brand, settings.layout, settings.paper)
    keys = [part_key(s, library, print_fp, settings.printed) for s in selections]
    parts: list[bytes | None] = [cache.get(k) for k in keys]
    missing: dict[str, int] = {}
    for index, pdf in enumerate(parts):
        if pdf is None:
            missing.setdefault(keys[index], index)  # the same part is rendered once
    if missing:
        htmls = [settings.assemble([selections[i]], mode="part") for i in missing.values()]
        rendered = dict(zip(missing, render_all(htmls, sandbox, library.roots[0], jobs)))
        for key, pdf in rendered.items():
            cache.put(key, pdf)
        parts = [pdf if pdf is not None else rendered[key] for key, pdf in zip(keys, parts)]
    return keys, parts  # type: ignore[return-value]


@dataclass(frozen=True)
class Plan:
    cover_total: int  # cover pages, with the blank back page in duplex
    starts: list[int]  # first page of each part, counting from 1
    total: int


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
    return Plan(cover_total, starts, page)


def _cover(settings, selections, keys, plan, sandbox, cache, print_fp) -> bytes:
    # A cover with personal details is made for each patient and never cached.
    key = None
    if not settings.personal:
        key = make_key("cover", print_fp, keys, plan.starts, settings.printed.isoformat(),
                       settings.duplex)
        cached = cache.get(key)
        if cached is not None:
            return cached
    from .render import render_pdf

    html = settings.assemble(selections, mode="cover", personal=settings.personal,
                             toc_pages=plan.starts)
    pdf = render_pdf(html, sandbox=sandbox, base_url=settings.library.roots[0])
    if key:
        cache.put(key, pdf)
    return pdf


def _merge(settings, selections, cover, parts, plan, numbers, cache, manifest) -> bytes:
    writer = PdfWriter()
    width = cover.pages[0].mediabox.width
    height = cover.pages[0].mediabox.height
    sources = []  # (reader, index of its first page in the writer)

    sources.append((cover, 0))
    writer.append(cover, import_outline=False)
    while len(writer.pages) < plan.cover_total:
        writer.add_blank_page(width, height)
    for reader, start in zip(parts, plan.starts):
        while len(writer.pages) < start - 1:
            writer.add_blank_page(width, height)
        sources.append((reader, len(writer.pages)))
        writer.append(reader)
    while len(writer.pages) < plan.total:
        writer.add_blank_page(width, height)

    _join_structure(writer, sources)
    _stamp_numbers(writer, numbers)
    first_pages = {}
    for selection, start in zip(selections, plan.starts):
        first_pages.setdefault(selection.topic.id, start - 1)
    _resolve_links(writer, first_pages, settings.library, selections[0].topic.lang)
    _join_fonts(writer, settings.library, cache)
    _document_info(writer, settings, selections, cover)
    if manifest is not None:
        from .manifest import NAME, dumps

        writer.add_attachment(NAME, dumps(manifest))
    out = io.BytesIO()
    writer.write(out)
    return compact(out.getvalue())


def compact(pdf: bytes) -> bytes:
    """Pack objects into compressed object streams and drop unreachable ones.

    pypdf writes each of the thousands of structure elements of a tagged packet as a plain
    object; qpdf (through pikepdf) packs them as WeasyPrint does, a quarter of the size.
    """
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        out = io.BytesIO()
        document.save(out, object_stream_mode=pikepdf.ObjectStreamMode.generate,
                      compress_streams=True, deterministic_id=True)
    return out.getvalue()


def _join_structure(writer: PdfWriter, sources) -> None:
    """One structure tree for the packet: each source's elements under one Document."""
    root_dict = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    root = writer._add_object(root_dict)
    document = DictionaryObject({
        NameObject("/Type"): NameObject("/StructElem"),
        NameObject("/S"): NameObject("/Document"),
        NameObject("/P"): root,
        NameObject("/K"): ArrayObject(),
    })
    document_ref = writer._add_object(document)
    nums = ArrayObject()
    role_map = DictionaryObject()
    offset = 0
    for reader, first in sources:
        src_root = reader.trailer["/Root"].get("/StructTreeRoot")
        if src_root is None:
            continue
        src_root = src_root.get_object()
        if "/RoleMap" in src_root:
            role_map.update(src_root["/RoleMap"].get_object())
        kids = src_root["/K"]
        kids = kids if isinstance(kids, list) else [kids]
        for kid in kids:
            kid = kid.get_object()
            # WeasyPrint wraps everything in one Document element: take its children.
            children = kid.get("/K", []) if kid.get("/S") == "/Document" else [kid]
            children = children if isinstance(children, list) else [children]
            for child in children:
                cloned = child.clone(writer) if hasattr(child, "clone") else child
                if hasattr(cloned, "get_object") and isinstance(cloned.get_object(), DictionaryObject):
                    cloned.get_object()[NameObject("/P")] = document_ref
                document["/K"].append(cloned)
        src_nums = src_root["/ParentTree"].get_object().get("/Nums", [])
        biggest = -1
        for index in range(0, len(src_nums), 2):
            key = int(src_nums[index])
            biggest = max(biggest, key)
            nums.append(NumberObject(key + offset))
            nums.append(src_nums[index + 1].clone(writer))
        for page_index in range(len(reader.pages)):
            src_page = reader.pages[page_index]
            page = writer.pages[first + page_index]
            if "/StructParents" in src_page:
                page[NameObject("/StructParents")] = NumberObject(
                    int(src_page["/StructParents"]) + offset)
            for annot in page.get("/Annots", []):
                annot = annot.get_object()
                if "/StructParent" in annot:
                    annot[NameObject("/StructParent")] = NumberObject(
                        int(annot["/StructParent"]) + offset)
        offset += biggest + 1
    root_dict[NameObject("/K")] = ArrayObject([document_ref])
    root_dict[NameObject("/ParentTree")] = writer._add_object(
        DictionaryObject({NameObject("/Nums"): nums}))
    root_dict[NameObject("/ParentTreeNextKey")] = NumberObject(offset)
    if role_map:
        root_dict[NameObject("/RoleMap")] = role_map
    writer._root_object[NameObject("/StructTreeRoot")] = root
    writer._root_object[NameObject("/MarkInfo")] = DictionaryObject(
        {NameObject("/Marked"): BooleanObject(True)})


def _stamp_numbers(writer: PdfWriter, numbers: PdfReader) -> None:
    """Put "Page N of M" on every page, marked as an artifact (not part of the text).

    The overlay's content is appended as a content stream of its own (the page's content is
    wrapped in q/Q first), its resources added under prefixed names: no content is parsed.
    """
    save = writer._add_object(_stream(b"q\n"))
    restore = writer._add_object(_stream(b"\nQ\n"))
    cloned: dict[int, object] = {}
    for page, overlay in zip(writer.pages, numbers.pages):
        data = MCID_RE.sub(b"/Artifact BMC", overlay.get_contents().get_data())
        overlay_resources = overlay["/Resources"].get_object()
        resources = page.get("/Resources")
        if resources is None:
            resources = page[NameObject("/Resources")] = DictionaryObject()
        resources = resources.get_object()
        for category in ("/Font", "/ExtGState"):
            entries = overlay_resources.get(category)
            if entries is None:
                continue
            if category not in resources:
                resources[NameObject(category)] = DictionaryObject()
            target = resources[category].get_object()
            entries = entries.get_object()
            for name in entries:
                ref = entries.raw_get(name)
                new_name = "/HN" + name[1:]
                data = re.sub(rb"/" + re.escape(name[1:].encode()) + rb"(?=[\s/\[<(])",
                              b"/HN" + name[1:].encode(), data)
                key = getattr(ref, "idnum", id(ref))
                if key not in cloned:
                    cloned[key] = ref.clone(writer)
                target[NameObject(new_name)] = cloned[key]
        stamp = writer._add_object(_stream(data).flate_encode())
        contents = page.get("/Contents")
        if contents is None:
            parts = []
        elif isinstance(contents.get_object(), ArrayObject):
            parts = list(page.raw_get("/Contents").get_object())
        else:
            parts = [page.raw_get("/Contents")]
        page[NameObject("/Contents")] = ArrayObject([save, *parts, restore, stamp])


def _stream(data: bytes) -> DecodedStreamObject:
    stream = DecodedStreamObject()
    stream.set_data(data)
    return stream


def _resolve_links(writer: PdfWriter, first_pages: dict[str, int], library: Library,
                   lang: str) -> None:
    """Placeholder links: to the topic's first page in the packet, or its url, or none."""
    for page in writer.pages:
        for annot in page.get("/Annots", []):
            annot = annot.get_object()
            action = annot.get("/A")
            uri = action.get_object().get("/URI") if action is not None else None
            if not isinstance(uri, str) or not uri.startswith(TOPIC_LINK):
                continue
            topic_id = uri[len(TOPIC_LINK):]
            if topic_id in first_pages:
                target = writer.pages[first_pages[topic_id]].indirect_reference
                del annot["/A"]
                annot[NameObject("/Dest")] = ArrayObject(
                    [target, NameObject("/XYZ"), NullObject(), NullObject(), NullObject()])
                continue
            url = None
            if library.has(topic_id):
                url = library.topic(topic_id, lang if library.has(topic_id, lang)
                                    else library.languages(topic_id)[0]).url
            if url:
                annot[NameObject("/A")] = DictionaryObject({
                    NameObject("/S"): NameObject("/URI"), NameObject("/URI"): TextStringObject(url)})
            else:
                del annot["/A"]
                annot[NameObject("/F")] = NumberObject(2)  # hidden: nothing to go to


def _join_fonts(writer: PdfWriter, library: Library, cache: Cache) -> None:
    """Replace each face's per-part subsets with one subset of the glyphs of all parts."""
    faces: dict[str, list[DictionaryObject]] = {}
    for page in writer.pages:
        for ref in _page_fonts(page).values():
            font = ref.get_object()
            if font.get("/Subtype") != "/Type0":
                continue
            name = _face_key(str(font["/BaseFont"]))
            if all(font is not seen for seen in faces.setdefault(name, [])):
                faces[name].append(font)
    files = _font_files(library)
    for name, fonts in faces.items():
        if len(fonts) < 2 or name not in files:
            continue
        widths: dict[int, object] = {}
        to_unicode: dict[int, bytes] = {}
        for font in fonts:
            cid = font["/DescendantFonts"][0].get_object()
            w = cid.get("/W", [])
            index = 0
            while index < len(w):
                first, values = int(w[index]), w[index + 1]
                for offset, value in enumerate(values):
                    widths[first + offset] = value
                index += 2
            cmap = font["/ToUnicode"].get_object().get_data()
            for gid, text in HEX_PAIR_RE.findall(cmap.split(b"beginbfchar", 1)[-1]):
                to_unicode[int(gid, 16)] = text
        glyphs = sorted(widths)
        key = make_key("font", name, hashlib.sha256(files[name].read_bytes()).hexdigest(), glyphs)
        data = cache.get(key)
        if data is None:
            data = _subset(files[name], glyphs)
            cache.put(key, data)
        keep = fonts[0]
        cid = keep["/DescendantFonts"][0].get_object()
        descriptor = cid["/FontDescriptor"].get_object()
        font_file = StreamObject()
        font_file._data = data
        font_file[NameObject("/Length1")] = NumberObject(len(data))
        font_file = font_file.flate_encode()
        font_file[NameObject("/Length1")] = NumberObject(len(data))
        descriptor[NameObject("/FontFile2")] = writer._add_object(font_file)
        w_array = ArrayObject()
        for gid in glyphs:
            w_array += [NumberObject(gid), ArrayObject([widths[gid]])]
        cid[NameObject("/W")] = w_array
        keep[NameObject("/ToUnicode")] = writer._add_object(_to_unicode(to_unicode))
        for page in writer.pages:
            fonts_dict = _page_fonts(page)
            for res_name, ref in list(fonts_dict.items()):
                if any(ref.get_object() is other for other in fonts):
                    fonts_dict[NameObject(res_name)] = keep.indirect_reference


def _page_fonts(page) -> DictionaryObject:
    resources = page.get("/Resources")
    fonts = resources.get_object().get("/Font") if resources is not None else None
    return fonts.get_object() if fonts is not None else DictionaryObject()


def _font_files(library: Library) -> dict[str, Path]:
    """PostScript name ('Atkinson-Hyperlegible-Bold') -> font file."""
    from fontTools.ttLib import TTFont

    names = {}
    for path in sorted(library.fonts_dir.glob("*.ttf")):
        with TTFont(path, lazy=True) as font:
            names[_face_key(font["name"].getDebugName(6))] = path
    return names


def _face_key(name: str) -> str:
    """'JCZLPB+Atkinson-Hyperlegible-Bold' and 'AtkinsonHyperlegible-Bold' -> one key."""
    key = re.sub(r"[^a-z0-9]", "", name.split("+", 1)[-1].lower())
    return key.removesuffix("regular")


def _subset(path: Path, glyphs: list[int]) -> bytes:
    """The font with only `glyphs`, keeping glyph ids (content streams use them)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.retain_gids = True
    options.notdef_outline = True
    options.hinting = False
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "DSIG"]
    font = TTFont(path)
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=[0, *glyphs])
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _to_unicode(mapping: dict[int, bytes]) -> StreamObject:
    lines = [b"/CIDInit /ProcSet findresource begin", b"12 dict begin", b"begincmap",
             b"/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             b"/CMapName /Adobe-Identity-UCS def", b"/CMapType 2 def",
             b"1 begincodespacerange", b"<0000> <ffff>", b"endcodespacerange"]
    items = sorted(mapping.items())
    for start in range(0, len(items), 100):
        chunk = items[start:start + 100]
        lines.append(f"{len(chunk)} beginbfchar".encode())
        lines += [b"<%04x> <%s>" % (gid, text) for gid, text in chunk]
        lines.append(b"endbfchar")
    lines += [b"endcmap", b"CMapName currentdict /CMap defineresource pop", b"end", b"end"]
    stream = DecodedStreamObject()
    stream.set_data(b"\n".join(lines))
    return stream.flate_encode()


def _document_info(writer, settings: PacketSettings, selections, cover: PdfReader) -> None:
    strings = load_strings(settings.library)[selections[0].topic.lang]
    keywords = []
    for selection in selections:
        keywords += [selection.topic.id, *selection.topic.codes]
    created = f"D:{settings.printed.strftime('%Y%m%d')}000000Z"
    writer.add_metadata({
        "/Title": strings["packet_title"],
        "/Subject": "; ".join(s.topic.title for s in selections),
        "/Keywords": ", ".join(dict.fromkeys(keywords)),
        "/Author": settings.brand.name,
        "/Creator": f"handouts {__version__}",
        "/Producer": f"handouts {__version__} (WeasyPrint, pypdf)",
        "/CreationDate": created,
        "/ModDate": created,
    })
    root = writer._root_object
    cover_root = cover.trailer["/Root"]
    root[NameObject("/Lang")] = TextStringObject(selections[0].topic.lang)
    root[NameObject("/ViewerPreferences")] = DictionaryObject(
        {NameObject("/DisplayDocTitle"): BooleanObject(True)})
    if "/Metadata" in cover_root:
        # The cover's XMP: the packet title and the PDF/UA declaration.
        root[NameObject("/Metadata")] = cover_root.raw_get("/Metadata").clone(writer)
