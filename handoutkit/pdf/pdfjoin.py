"""PDF plumbing for joining documents with qpdf (pikepdf): structure trees, outlines,
overlays stamped as artifacts, and fonts subset once for the whole result.

This module knows nothing of topics, layouts or caches (it imports nothing else of the
project): the packet builder decides what to join, this module only does the joining.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Callable

import pikepdf
from pikepdf import Name

MCID_RE = re.compile(rb"/[A-Za-z0-9]+\s*<<\s*/MCID\s+\d+\s*>>\s*BDC")
HEX_PAIR_RE = re.compile(rb"<([0-9a-fA-F]+)>\s*<([0-9a-fA-F]*)>")

# (face key, font file, its SHA-256, glyph ids) -> the subset font's bytes
Subsetter = Callable[[str, Path, str, list[int]], bytes]


def open_pdf(data: bytes) -> pikepdf.Pdf:
    """A PDF's bytes opened with qpdf."""
    return pikepdf.open(io.BytesIO(data))


def copy_object(out: pikepdf.Pdf, obj):
    """`obj` of another document, copied into `out` (each object once per source)."""
    if isinstance(obj, pikepdf.Object) and obj.is_indirect:
        return out.copy_foreign(obj)
    if isinstance(obj, pikepdf.Array):
        return pikepdf.Array([copy_object(out, item) for item in obj])
    if isinstance(obj, pikepdf.Dictionary):
        return pikepdf.Dictionary({key: copy_object(out, value) for key, value in obj.items()})
    return obj

def join_structure(out: pikepdf.Pdf, sources) -> None:  # noqa: C901 (tree, role map, ids, parents)
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
                    # Each part keeps its own language in the packet's tree (a packet may
                    # mix Chinese, Arabic and English parts).
                    if "/Lang" in source.Root and "/Lang" not in child:
                        child.Lang = pikepdf.String(str(source.Root.Lang))
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

def join_outlines(out: pikepdf.Pdf, sources, lift: bool = False) -> None:
    """Each source's bookmarks, pointing into `out`; `lift` puts the children of each
    source's top bookmarks at the top level (a single handout lists its sections)."""
    with out.open_outline() as outline:
        for source, first in sources:
            pages = {page.obj.objgen: first + index for index, page in enumerate(source.pages)}
            with source.open_outline() as source_outline:
                items = _outline_items(source_outline.root, pages)
            if lift:
                items = [child for item in items for child in item.children] or items
            outline.root.extend(items)


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

def stamp_overlay(out: pikepdf.Pdf, numbers: pikepdf.Pdf) -> None:
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
                target["/HN" + name[1:]] = copy_object(out, value)
        contents = page.get("/Contents")
        if contents is None:
            kept = []
        elif isinstance(contents, pikepdf.Array):
            kept = list(contents)
        else:
            kept = [contents]
        page.Contents = pikepdf.Array([save, *kept, restore, out.make_stream(data)])


# Complexity over 10: programs, widths, objects.
def join_fonts(out: pikepdf.Pdf, font_files: dict[str, tuple[Path, str]],  # noqa: C901
               subset: Subsetter) -> None:
    """Replace each face's per-part subsets with one subset of the glyphs of all parts.

    `font_files` maps a face key (see `face_key`) to its font file and SHA-256; the parts
    must have been subset keeping glyph ids, so that one font serves every part. `subset`
    makes (or finds in a cache) the font holding the glyphs.
    """
    faces: dict[str, dict[tuple, pikepdf.Dictionary]] = {}
    for page in out.pages:
        for font in page_fonts(page).values():
            if font.get("/Subtype") != Name.Type0:
                continue
            faces.setdefault(face_key(str(font.BaseFont)), {})[font.objgen] = font
    for name, fonts in faces.items():
        if len(fonts) < 2 or name not in font_files:
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
        path, digest = font_files[name]
        data = subset(name, path, digest, glyphs)
        keep = next(iter(fonts.values()))
        cid = keep.DescendantFonts[0]
        cid.FontDescriptor.FontFile2 = out.make_stream(data, Length1=len(data))
        w_array = pikepdf.Array()
        for gid in glyphs:
            w_array.extend([gid, pikepdf.Array([widths[gid]])])
        cid.W = w_array
        keep.ToUnicode = out.make_stream(to_unicode_cmap(to_unicode))
        for page in out.pages:
            fonts_dict = page_fonts(page)
            for res_name, font in fonts_dict.items():
                if font.objgen in fonts:
                    fonts_dict[res_name] = keep


def page_fonts(page) -> pikepdf.Dictionary:
    """A page's /Font resources (an empty dictionary when it has none)."""
    resources = page.obj.get("/Resources")
    fonts = resources.get("/Font") if resources is not None else None
    return fonts if fonts is not None else pikepdf.Dictionary()


def face_key(name: str) -> str:
    """'JCZLPB+Atkinson-Hyperlegible-Bold' and 'AtkinsonHyperlegible-Bold' -> one key."""
    key = re.sub(r"[^a-z0-9]", "", name.split("+", 1)[-1].lower())
    return key.removesuffix("regular")


def subset_font(path: Path, glyphs: list[int]) -> bytes:
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


def to_unicode_cmap(mapping: dict[int, bytes]) -> bytes:
    """A ToUnicode CMap mapping glyph ids to the text they stand for."""
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


def take_document_info(out: pikepdf.Pdf, cover: pikepdf.Pdf, producer: str) -> None:
    """`out` takes the document information, language, viewer settings and XMP of `cover`
    (the first document joined, laid out from the same content: its title, subject,
    keywords, dates and PDF/UA declaration hold for the whole), with `producer`; page
    labels number every page from 1."""
    info = out.copy_foreign(cover.trailer.Info)
    info.Producer = pikepdf.String(producer)
    out.trailer.Info = info
    for key in ("/Lang", "/ViewerPreferences", "/Metadata"):
        if key in cover.Root:
            out.Root[key] = copy_object(out, cover.Root[key])
    # Viewers show the number printed on the page: 1 to M, cover included.
    out.Root.PageLabels = pikepdf.Dictionary(Nums=pikepdf.Array([0, pikepdf.Dictionary(S=Name.D)]))
