"""Small CJK fonts in PDFs: CID-keyed CFF subsets without the empty glyphs.

WeasyPrint subsets fonts keeping glyph ids (its content streams use them), so a subset of
Noto Sans CJK keeps an empty glyph for every id below the highest one used: about 90 KB
for a single Chinese name. CID-keyed CFF fonts do not need that: a viewer finds the glyph
for a CID through the font's charset, so the subset can drop every unused glyph while the
CIDs (and so the content streams, widths and ToUnicode maps) stay as they are. Each such
font is written back as a bare CFF program (FontFile3 /CIDFontType0C), as the PDF
specification describes for CIDFontType0 fonts. Knows nothing of topics or layouts.
"""

from __future__ import annotations

import io
import re

import pikepdf
from pikepdf import Name

# Text that may be set in a CJK font (CJK punctuation, kana, Han, Hangul, compatibility forms).
CJK_RE = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\U00020000-\U0003ffff]")
# Below this many glyphs in the embedded subset the empty glyphs cost little.
MIN_GLYPHS = 2000


def _used_cids(cid_font: pikepdf.Dictionary) -> set[int]:
    """The CIDs a descendant font draws: those its /W array gives a width."""
    used = {0}
    widths = list(cid_font.get("/W", []))
    index = 0
    while index < len(widths):
        first = int(widths[index])
        if isinstance(widths[index + 1], pikepdf.Array):
            used.update(range(first, first + len(widths[index + 1])))
            index += 2
        else:
            used.update(range(first, int(widths[index + 1]) + 1))
            index += 3
    return used


def _shrink(data: bytes, cids: set[int]) -> bytes | None:
    """The CFF program of an OpenType CID-keyed font with only `cids`, or None when the
    font is not CID-keyed with CID = glyph id (then it is left as it is)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), lazy=False)
    if "CFF " not in font:
        return None
    top = font["CFF "].cff.topDictIndex[0]
    if not hasattr(top, "ROS"):
        return None
    order = font.getGlyphOrder()
    if len(order) < MIN_GLYPHS:
        return None
    names = []
    for cid in sorted(cids):
        if cid >= len(order):
            return None
        if cid and order[cid] != f"cid{cid:05d}":
            return None  # glyph ids are not CIDs: the content streams would draw others
        names.append(order[cid])
    options = subset.Options(retain_gids=False, notdef_outline=True, glyph_names=True,
                             name_IDs=["*"], layout_features=[], hinting=False,
                             desubroutinize=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(glyphs=names)
    subsetter.subset(font)
    out = io.BytesIO()
    font["CFF "].cff.compile(out, font)
    return out.getvalue()


def shrink_cid_fonts(pdf: bytes) -> bytes:
    """The PDF with its large CID-keyed CFF fonts reduced to the glyphs it draws."""
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        changed = False
        for obj in doc.objects:
            if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Subtype") != Name.CIDFontType0:
                continue
            descriptor = obj.get("/FontDescriptor")
            stream = descriptor.get("/FontFile3") if descriptor is not None else None
            if stream is None or stream.get("/Subtype") != Name.OpenType:
                continue
            cff = _shrink(stream.read_bytes(), _used_cids(obj))
            if cff is None:
                continue
            descriptor.FontFile3 = doc.make_stream(cff, Subtype=Name.CIDFontType0C)
            changed = True
        if not changed:
            return pdf
        out = io.BytesIO()
        doc.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.preserve)
        return out.getvalue()
