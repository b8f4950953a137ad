"""The declared fonts: the only fonts rendering may use, whatever the computer has.

Atkinson Hyperlegible (bundled in `fonts/`, loaded through @font-face) sets Latin text.
Every other script is set in Noto (SIL Open Font License): Noto Emoji is bundled in
`fonts/`; the other Noto families come from Debian's packages (README's set-up command
installs them). A library's own `fonts/` folder may hold any of these files instead.

Rendering sees nothing else: `activate()` points fontconfig (FONTCONFIG_FILE) at a
configuration generated for this process that lists only the declared files, so the same
build gives the same PDF on a machine with no system fonts at all, and a character that no
declared font has is an error (`check_text`) instead of a fallback to a host font or a
missing glyph.
"""

from __future__ import annotations

import functools
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from ..errors import LibraryError, TextError

# Atkinson Hyperlegible, declared to WeasyPrint with @font-face (assemble.py).
LATIN_FAMILY = "Atkinson Hyperlegible"
LATIN_FACES = (
    ("AtkinsonHyperlegible-Regular.ttf", 400, "normal"),
    ("AtkinsonHyperlegible-Italic.ttf", 400, "italic"),
    ("AtkinsonHyperlegible-Bold.ttf", 700, "normal"),
    ("AtkinsonHyperlegible-BoldItalic.ttf", 700, "italic"),
)
SYSTEM_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))


@dataclass(frozen=True)
class Face:
    """One declared font file: its family, and where to get it (None: bundled)."""

    family: str
    file: str
    package: str | None


def _noto(script: str, *styles: str) -> tuple[Face, ...]:
    family = f"Noto Sans {script}".strip()
    stem = family.replace(" ", "")
    return tuple(Face(family, f"{stem}-{style}.ttf", "fonts-noto-core") for style in styles)


SCRIPTS = ("Arabic", "Hebrew", "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Thai", "Lao",
           "Khmer", "Myanmar", "Ethiopic", "Armenian", "Georgian")
DECLARED: tuple[Face, ...] = (
    # Latin with Vietnamese, Greek, Cyrillic (Atkinson covers only basic Latin).
    *_noto("", "Regular", "Bold", "Italic", "BoldItalic"),
    *(face for script in SCRIPTS for face in _noto(script, "Regular", "Bold")),
    # One collection holds Simplified and Traditional Chinese, Japanese and Korean.
    Face("Noto Sans CJK", "NotoSansCJK-Regular.ttc", "fonts-noto-cjk"),
    Face("Noto Sans CJK", "NotoSansCJK-Bold.ttc", "fonts-noto-cjk"),
    *_noto("Symbols", "Regular", "Bold"),
    *_noto("Symbols2", "Regular"),
    Face("Noto Emoji", "NotoEmoji-VariableFont_wght.ttf", None),
)

# The CSS font stack, and the first choices per language (the rest follow as fallbacks).
FALLBACK_FAMILIES = (
    "Noto Sans", *(f"Noto Sans {s}" for s in SCRIPTS),
    "Noto Sans CJK SC", "Noto Sans Symbols", "Noto Sans Symbols 2", "Noto Emoji",
)
LANG_FIRST = {
    "zh-Hans": "Noto Sans CJK SC", "zh": "Noto Sans CJK SC", "zh-Hant": "Noto Sans CJK TC",
    "ja": "Noto Sans CJK JP", "ko": "Noto Sans CJK KR",
    # Atkinson lacks Vietnamese letters and Cyrillic: one face sets the whole word.
    "vi": "Noto Sans", "ru": "Noto Sans", "uk": "Noto Sans", "el": "Noto Sans",
    "ar": "Noto Sans Arabic", "fa": "Noto Sans Arabic", "ur": "Noto Sans Arabic",
    "he": "Noto Sans Hebrew", "hi": "Noto Sans Devanagari", "bn": "Noto Sans Bengali",
    "pa": "Noto Sans Gurmukhi", "gu": "Noto Sans Gujarati", "th": "Noto Sans Thai",
    "lo": "Noto Sans Lao", "km": "Noto Sans Khmer", "my": "Noto Sans Myanmar",
    "am": "Noto Sans Ethiopic", "hy": "Noto Sans Armenian", "ka": "Noto Sans Georgian",
}

def family_stack(lang: str | None = None) -> list[str]:
    """The font families for text in `lang`, first choice first."""
    stack = [LATIN_FAMILY, *FALLBACK_FAMILIES]
    first = LANG_FIRST.get(lang or "") or LANG_FIRST.get((lang or "").split("-")[0])
    if first:
        stack.remove(first) if first in stack else None
        stack.insert(0, first)
    return stack


@dataclass(frozen=True)
class FontSet:
    """The declared font files found on this computer."""

    latin: tuple[Path, ...]
    files: tuple[Path, ...]

    @property
    def all_files(self) -> tuple[Path, ...]:
        return self.latin + self.files

    def identity(self) -> list[str]:
        """What changes a rendered page: each file's path, size and modification time
        (reading 90 MB of CJK fonts for every cache key would cost more than a warm packet)."""
        out = []
        for path in self.all_files:
            stat = path.stat()
            out.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
        return out

    def activate(self) -> None:
        """Make fontconfig (and so WeasyPrint) see only these fonts, from now on in this
        process and the workers it starts."""
        os.environ["FONTCONFIG_FILE"] = str(_config_file(self.files))


def font_dirs(roots: tuple[Path, ...] | list[Path]) -> list[Path]:
    """Where declared fonts are looked for: the libraries' `fonts/`, then Debian's."""
    return [Path(r) / "fonts" for r in roots if (Path(r) / "fonts").is_dir()] + list(SYSTEM_DIRS)


def find_fonts(roots: tuple[Path, ...] | list[Path]) -> FontSet:
    """The declared fonts, or a LibraryError naming the first missing one and how to get it."""
    return _find(tuple(font_dirs(roots)))


@functools.lru_cache(maxsize=8)
def _find(dirs: tuple[Path, ...]) -> FontSet:
    def locate(name: str, package: str | None, family: str) -> Path:
        for folder in dirs:
            if (folder / name).is_file():
                return (folder / name).resolve()
        where = ", ".join(str(d) for d in dirs)
        if package is None:
            how = ("it is bundled with handouts: reinstall handouts, or copy it into your "
                   "library's fonts/ folder")
        else:
            how = (f"install it with 'apt-get install {package}' (README, set-up), "
                   f"or copy {name} into your library's fonts/ folder")
        raise LibraryError(f"font '{family}' ({name}) not found in {where}: {how}")

    latin = tuple(locate(name, None, LATIN_FAMILY) for name, _, _ in LATIN_FACES)
    files = tuple(locate(face.file, face.package, face.family) for face in DECLARED)
    return FontSet(latin, files)


@functools.lru_cache(maxsize=4)
def _config_file(files: tuple[Path, ...]) -> Path:
    """A fontconfig configuration listing only `files`: a folder of links to them, no
    system folders, no user folders, no included configuration. It lives in the process's
    own temporary folder (scratch.py), removed when the process ends."""
    from ..pdf import scratch

    folder = Path(tempfile.mkdtemp(prefix="fonts-", dir=scratch.claim()))
    links = folder / "fonts"
    links.mkdir()
    for index, path in enumerate(files):
        (links / f"{index:02d}-{path.name}").symlink_to(path)
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig><dir>{escape(str(links))}</dir></fontconfig>\n", encoding="utf-8")
    return config


# -- coverage ------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _coverage(files: tuple[Path, ...]) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    covered: set[int] = set()
    for path in files:
        # The faces of a collection (Noto Sans CJK SC, TC, JP, KR) share one character set.
        with TTFont(path, fontNumber=0, lazy=True) as font:
            covered.update(font.getBestCmap() or {})
    return frozenset(covered)


@functools.lru_cache(maxsize=4)
def _latin_coverage(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        return frozenset(font.getBestCmap() or {})


def _ignorable(char: str) -> bool:
    """Characters no font needs to draw: line breaks, format characters (joiners,
    direction marks) and variation selectors; HarfBuzz and Pango handle them."""
    code = ord(char)
    return (char in "\n\r\t" or unicodedata.category(char) == "Cf"
            or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF)


def missing_char(fonts: FontSet, text: str) -> str | None:
    """The first character of `text` that no declared font can draw, or None."""
    latin = _latin_coverage(fonts.latin[0])
    rest = None
    for char in text:
        code = ord(char)
        if code in latin or char == " ":
            continue
        if _ignorable(char):
            continue
        if rest is None:
            rest = _coverage(fonts.all_files)
        if code not in rest:
            return char
    return None


def describe(char: str) -> str:
    """'U+E000 (a private-use character)' or 'U+1F9FF NAZAR AMULET'."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


def check_text(fonts: FontSet, text: str, where: str) -> None:
    """Raise a one-line TextError when `where` has a character no declared font has."""
    char = missing_char(fonts, text)
    if char is not None:
        raise TextError(
            f"{where}: character {describe(char)} is in no declared font; "
            "remove it, or add a font that has it (README: fonts)")


def check_personal(fonts: FontSet, fields: dict[str, str | None]) -> None:
    """Personal details use only characters the declared fonts have, or a TextError names
    the field (control and bidi override characters are refused earlier: checks.py)."""
    for name, value in fields.items():
        if value:
            check_text(fonts, value, f"the {name.replace('_', ' ')}")


# -- outlines --------------------------------------------------------------------------------

def check_outlines(fonts: FontSet, roots, chars: str, cache=None) -> None:
    """Refuse a font of a library's `fonts/` folder whose glyph for a digit or for a
    character of a crisis block has no outline (it would print blank), naming the font and
    the characters. Checked once per set of font files and characters (kept in `cache`)."""
    from ..cache import make_key

    folders = [Path(r) / "fonts" for r in roots]
    files = tuple(p for p in fonts.all_files if any(p.is_relative_to(f.resolve()) or
                                                    p.is_relative_to(f) for f in folders))
    wanted = "".join(sorted({c for c in chars if not c.isspace() and not _ignorable(c)}))
    if not files or not wanted:
        return
    key = make_key("outlines", [f"{p}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files],
                   wanted)
    if cache is not None and cache.get(key) is not None:
        return
    for path in files:
        blank = _blank_glyphs(path, wanted)
        if blank:
            shown = ", ".join(f"'{c}'" for c in blank[:10])
            raise LibraryError(
                f"font {path}: the glyphs for {shown} have no outline and would print blank "
                "(digits and crisis-block text must print); replace the font file")
    if cache is not None:
        cache.put(key, b"ok")


@functools.lru_cache(maxsize=64)
def _blank_glyphs(path: Path, chars: str) -> list[str]:
    """The characters of `chars` the font maps to a glyph with no outline."""
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=0, lazy=True) as font:
        cmap = font.getBestCmap() or {}
        glyphs = font.getGlyphSet()
        blank = []
        for char in chars:
            name = cmap.get(ord(char))
            if name is None:
                continue
            pen = BoundsPen(glyphs)
            glyphs[name].draw(pen)
            if pen.bounds is None:
                blank.append(char)
        return blank
