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

import contextlib
import datetime as dt
import hashlib
import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from pikepdf import Name

from . import __version__
from .assemble import TOPIC_LINK, Personal, assemble
from .brand import Brand
from .cache import Cache, make_key
from .errors import RenderError
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


class Renderer:
    """Renders documents, on up to `jobs` cores when there are several.

    Its worker processes live until it is closed, so what they have loaded (WeasyPrint's
    libraries, the layout's stylesheet and fonts) serves every later document: a packet's
    cover and page numbers render on the workers that rendered its topics.
    """

    def __init__(self, sandbox: Sandbox, base_url: Path, jobs: int):
        self.sandbox, self.base_url, self.jobs = sandbox, base_url, jobs
        self._pool = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def done(self) -> None:
        """No more documents: workers start exiting (and cleaning up) while the caller
        goes on; leaving the `with` block waits for them."""
        if self._pool is not None:
            self._pool.close()

    def render(self, htmls: list[str]) -> list[bytes]:
        if not htmls:
            return []  # nothing to lay out: WeasyPrint is not even imported
        from . import render  # noqa: F401  (imported before forking: workers start warm)

        args = [(html, self.sandbox.roots, self.base_url) for html in htmls]
        if self._pool is None and (self.jobs <= 1 or len(htmls) <= 1):
            return [_render_job(a) for a in args]
        if self._pool is None:
            from .workers import worker_pool

            self._pool = self._stack.enter_context(worker_pool(min(self.jobs, len(htmls))))
        # The longest documents first, so the last one to finish is short.
        order = sorted(range(len(args)), key=lambda i: -len(htmls[i]))
        results: list[bytes | None] = [None] * len(args)
        for index, pdf in zip(order, self._pool.imap(_render_job, [args[i] for i in order])):
            results[index] = pdf
        return results  # type: ignore[return-value]


# -- the packet ---------------------------------------------------------------------------

def build_packet(settings: PacketSettings, selections: list[Selection], sandbox: Sandbox,
                 cache: Cache, jobs: int, manifest: dict | None = None) -> bytes:
    library = settings.library
    print_fp = fingerprint(library, settings.brand, settings.layout, settings.paper)
    base_url = library.roots[0]

    with Renderer(sandbox, base_url, jobs) as renderer:
        keys, pdfs = ensure_parts(settings, selections, renderer, cache, print_fp)
        parts = [_open(pdf) for pdf in pdfs]
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
    cover_pages = 1
    while True:
        plan = _plan(cover_pages, [len(part.pages) for part in parts], settings.duplex)
        page_langs = _page_langs(selections, parts, plan)
        # A cover with personal details is made for each patient and never cached.
        cover_key = None if settings.personal else make_key(
            "cover", print_fp, keys, plan.starts, settings.printed.isoformat(), settings.duplex)
        numbers_key = make_key("numbers", print_fp, page_langs)
        cover = cache.get(cover_key) if cover_key else None
        numbers = cache.get(numbers_key)
        htmls = {}
        if cover is None:
            htmls["cover"] = settings.assemble(selections, mode="cover",
                                               personal=settings.personal,
                                               toc_pages=plan.starts)
        if numbers is None:
            htmls["numbers"] = settings.assemble([], mode="numbers", page_langs=page_langs)
        rendered = dict(zip(htmls, renderer.render(list(htmls.values()))))
        if "cover" in rendered:
            cover = rendered["cover"]
            if cover_key:
                cache.put(cover_key, cover)
        if "numbers" in rendered:
            numbers = rendered["numbers"]
            cache.put(numbers_key, numbers)
        cover_pdf = _open(cover)
        if len(cover_pdf.pages) == cover_pages:
            return cover_pdf, plan, _open(numbers)
        cover_pages = len(cover_pdf.pages)


def _page_langs(selections: list[Selection], parts: list[pikepdf.Pdf], plan: Plan) -> list[str]:
    """The language of each page of the packet, for its "Page N of M" (blank pages take
    the language of the page before)."""
    page_langs = [selections[0].topic.lang] * plan.cover_total
    for selection, part, start in zip(selections, parts, plan.starts):
        page_langs += [page_langs[-1]] * (start - 1 - len(page_langs))
        page_langs += [selection.topic.lang] * len(part.pages)
    return page_langs + [page_langs[-1]] * (plan.total - len(page_langs))


def _open(pdf: bytes) -> pikepdf.Pdf:
    return pikepdf.open(io.BytesIO(pdf))


def ensure_parts(settings: PacketSettings, selections: list[Selection], renderer: Renderer,
                 cache: Cache, print_fp: str | None = None,
                 ) -> tuple[list[str], list[bytes]]:
    """Every selection's part, from the cache or rendered into it."""
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
        rendered = dict(zip(missing, renderer.render(htmls)))
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


def _merge(settings, selections, cover, parts, plan, numbers, cache, manifest) -> bytes:
    out = pikepdf.new()
    box = cover.pages[0].mediabox
    size = (float(box[2]) - float(box[0]), float(box[3]) - float(box[1]))
    sources = []  # (document, index of its first page in the packet)

    sources.append((cover, 0))
    out.pages.extend(cover.pages)
    while len(out.pages) < plan.cover_total:
        out.add_blank_page(page_size=size)
    for part, start in zip(parts, plan.starts):
        while len(out.pages) < start - 1:
            out.add_blank_page(page_size=size)
        sources.append((part, len(out.pages)))
        out.pages.extend(part.pages)
    while len(out.pages) < plan.total:
        out.add_blank_page(page_size=size)

    _join_structure(out, sources)
    _join_outlines(out, sources[1:])
    _stamp_numbers(out, numbers)
    targets: dict[str, tuple[int, str]] = {}
    for selection, start in zip(selections, plan.starts):
        targets.setdefault(selection.topic.id, (start - 1, selection.topic.title))
    _resolve_links(out, targets, settings.library, _page_langs(selections, parts, plan),
                   plan.cover_total)
    _join_fonts(out, settings.library, cache)
    _document_info(out, cover)
    if manifest is not None:
        from .manifest import NAME, dumps

        out.attachments[NAME] = pikepdf.AttachedFileSpec(
            out, dumps(manifest), filename=NAME, mime_type="application/json")
    result = io.BytesIO()
    # Object streams pack the thousands of small structure elements as WeasyPrint does.
    out.save(result, object_stream_mode=pikepdf.ObjectStreamMode.generate,
             compress_streams=True, deterministic_id=True, min_version=cover.pdf_version)
    return result.getvalue()


def _copy(out: pikepdf.Pdf, obj):
    """`obj` of another document, copied into `out` (each object once per source)."""
    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        return out.copy_foreign(obj)
    if isinstance(obj, pikepdf.Array):
        return pikepdf.Array([_copy(out, item) for item in obj])
    if isinstance(obj, pikepdf.Dictionary):
        return pikepdf.Dictionary({key: _copy(out, value) for key, value in obj.items()})
    return obj


def _join_structure(out: pikepdf.Pdf, sources) -> None:
    """One structure tree for the packet: each source's elements under one Document.

    Pages were copied first, so the structure elements' /Pg and /Obj references land on
    the packet's copies of the same pages and annotations.
    """
    document = out.make_indirect(pikepdf.Dictionary(
        Type=Name.StructElem, S=Name.Document, K=pikepdf.Array()))
    nums = pikepdf.Array()
    role_map = pikepdf.Dictionary()
    offset = 0
    for source, first in sources:
        if "/StructTreeRoot" not in source.Root:
            continue
        # Copied whole by qpdf; only the elements and parent tree entries are kept.
        src_root = out.copy_foreign(source.Root.StructTreeRoot)
        if "/RoleMap" in src_root:
            for key, value in src_root.RoleMap.items():
                role_map[key] = value
        kids = src_root.K if isinstance(src_root.K, pikepdf.Array) else [src_root.K]
        for kid in kids:
            # WeasyPrint wraps everything in one Document element: take its children.
            children = kid.get("/K", []) if kid.get("/S") == Name.Document else [kid]
            children = children if isinstance(children, pikepdf.Array) else [children]
            for child in children:
                if isinstance(child, pikepdf.Dictionary):
                    child.P = document
                document.K.append(child)
        src_nums = src_root.ParentTree.get("/Nums", [])
        biggest = -1
        for index in range(0, len(src_nums), 2):
            key = int(src_nums[index])
            biggest = max(biggest, key)
            nums.extend([key + offset, src_nums[index + 1]])
        for index, src_page in enumerate(source.pages):
            page = out.pages[first + index].obj
            if "/StructParents" in src_page.obj:
                page.StructParents = int(src_page.obj.StructParents) + offset
            for annot in page.get("/Annots", []):
                if "/StructParent" in annot:
                    annot.StructParent = int(annot.StructParent) + offset
        offset += biggest + 1
    root = out.make_indirect(pikepdf.Dictionary(
        Type=Name.StructTreeRoot, K=pikepdf.Array([document]),
        ParentTree=out.make_indirect(pikepdf.Dictionary(Nums=nums)),
        ParentTreeNextKey=offset))
    if len(role_map):
        root.RoleMap = role_map
    document.P = root
    out.Root.StructTreeRoot = root
    out.Root.MarkInfo = pikepdf.Dictionary(Marked=True)


def _join_outlines(out: pikepdf.Pdf, sources) -> None:
    """Each part's bookmarks (its topic, the sections beneath), pointing into the packet."""
    with out.open_outline() as outline:
        for source, first in sources:
            pages = {page.obj.objgen: first + index for index, page in enumerate(source.pages)}
            with source.open_outline() as source_outline:
                outline.root.extend(_outline_items(source_outline.root, pages))


def _outline_items(items, pages: dict) -> list:
    copied = []
    for item in items:
        destination = item.destination
        if isinstance(destination, pikepdf.Array) and len(destination) >= 4 \
                and destination[0].objgen in pages:
            left, top = destination[2], destination[3]
            new = pikepdf.OutlineItem(
                item.title, pages[destination[0].objgen], "XYZ",
                left=float(left) if left is not None else None,
                top=float(top) if top is not None else None)
        else:
            new = pikepdf.OutlineItem(item.title)
        new.children.extend(_outline_items(item.children, pages))
        copied.append(new)
    return copied


def _stamp_numbers(out: pikepdf.Pdf, numbers: pikepdf.Pdf) -> None:
    """Put "Page N of M" on every page, marked as an artifact (not part of the text).

    The overlay's content is appended as a content stream of its own (the page's content is
    wrapped in q/Q first), its resources added under prefixed names: no content is parsed.
    """
    save = out.make_stream(b"q\n")
    restore = out.make_stream(b"\nQ\n")
    for page, overlay in zip(out.pages, numbers.pages):
        data = MCID_RE.sub(b"/Artifact BMC", overlay.obj.Contents.read_bytes())
        overlay_resources = overlay.obj.Resources
        page = page.obj
        if "/Resources" not in page:
            page.Resources = pikepdf.Dictionary()
        resources = page.Resources
        for category in ("/Font", "/ExtGState"):
            entries = overlay_resources.get(category)
            if entries is None:
                continue
            if category not in resources:
                resources[category] = pikepdf.Dictionary()
            target = resources[category]
            for name, value in entries.items():
                data = re.sub(rb"/" + re.escape(name[1:].encode()) + rb"(?=[\s/\[<(])",
                              b"/HN" + name[1:].encode(), data)
                target["/HN" + name[1:]] = _copy(out, value)
        contents = page.get("/Contents")
        if contents is None:
            kept = []
        elif isinstance(contents, pikepdf.Array):
            kept = list(contents)
        else:
            kept = [contents]
        page.Contents = pikepdf.Array([save, *kept, restore, out.make_stream(data)])


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
    """Replace each face's per-part subsets with one subset of the glyphs of all parts."""
    faces: dict[str, dict[tuple, pikepdf.Dictionary]] = {}
    for page in out.pages:
        for font in _page_fonts(page).values():
            if font.get("/Subtype") != Name.Type0:
                continue
            faces.setdefault(_face_key(str(font.BaseFont)), {})[font.objgen] = font
    files = _font_files(library, cache)
    for name, fonts in faces.items():
        if len(fonts) < 2 or name not in files:
            continue
        widths: dict[int, object] = {}
        to_unicode: dict[int, bytes] = {}
        for font in fonts.values():
            w = font.DescendantFonts[0].get("/W", [])
            index = 0
            while index < len(w):
                first, values = int(w[index]), w[index + 1]
                for offset, value in enumerate(values):
                    widths[first + offset] = value
                index += 2
            cmap = font.ToUnicode.read_bytes()
            for gid, text in HEX_PAIR_RE.findall(cmap.split(b"beginbfchar", 1)[-1]):
                to_unicode[int(gid, 16)] = text
        glyphs = sorted(widths)
        path, digest = files[name]
        key = make_key("font", name, digest, glyphs)
        data = cache.get(key)
        if data is None:
            data = _subset(path, glyphs)
            cache.put(key, data)
        keep = next(iter(fonts.values()))
        cid = keep.DescendantFonts[0]
        cid.FontDescriptor.FontFile2 = out.make_stream(data, Length1=len(data))
        w_array = pikepdf.Array()
        for gid in glyphs:
            w_array.extend([gid, pikepdf.Array([widths[gid]])])
        cid.W = w_array
        keep.ToUnicode = out.make_stream(_to_unicode(to_unicode))
        for page in out.pages:
            fonts_dict = _page_fonts(page)
            for res_name, font in fonts_dict.items():
                if font.objgen in fonts:
                    fonts_dict[res_name] = keep


def _page_fonts(page) -> pikepdf.Dictionary:
    resources = page.obj.get("/Resources")
    fonts = resources.get("/Font") if resources is not None else None
    return fonts if fonts is not None else pikepdf.Dictionary()


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
                names[_face_key(font["name"].getDebugName(6))] = path
        cache.put(key, json.dumps({name: str(path) for name, path in names.items()}).encode())
    return {name: (path, digests[path]) for name, path in names.items()}


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
    # Lazy, with bounding boxes and timestamp kept as they are: 5x faster, same bytes each run.
    font = TTFont(path, lazy=True, recalcBBoxes=False, recalcTimestamp=False)
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=[0, *glyphs])
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _to_unicode(mapping: dict[int, bytes]) -> bytes:
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
    return b"\n".join(lines)


def _document_info(out: pikepdf.Pdf, cover: pikepdf.Pdf) -> None:
    """The cover's document information, language, viewer settings and XMP: it was laid
    out from the same topics, so it already says the packet's title, the topics (subject,
    keywords), the clinic, the date and the PDF/UA declaration."""
    info = out.copy_foreign(cover.trailer.Info)
    info.Producer = pikepdf.String(f"handouts {__version__} (WeasyPrint, qpdf)")
    out.trailer.Info = info
    for key in ("/Lang", "/ViewerPreferences", "/Metadata"):
        if key in cover.Root:
            out.Root[key] = _copy(out, cover.Root[key])
    # Viewers show the number printed on the page: 1 to M, cover included.
    out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=Name.D)]))
