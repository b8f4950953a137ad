"""The library: topics, layouts, brand and fonts on disk.

A library is a folder with `handouts/` (topics), `layouts/` (templates, styles, the default
brand) and optionally `fonts/`. A clinic's own library (`--library DIR`) is searched first;
the library bundled with the tool fills in whatever it does not have.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from ..errors import LibraryError, TopicNotFound
from .topic import Topic, load_topic

if TYPE_CHECKING:
    from ..cache import Cache

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # handoutkit/
TOPIC_NAME_RE = re.compile(
    r"^(?P<id>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<lang>[a-z]{2}(?:-[A-Z][a-z]{3})?)\.md$")
DEFAULT_LANG = "en"
ID_RE_TEXT = "lower-case letters, digits and hyphens, like coping-with-stress"
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def bundled_root() -> Path:
    """The bundled library: inside the installed package, or the source checkout."""
    installed = PACKAGE_DIR / "library"
    if (installed / "handouts").is_dir():
        return installed
    return PACKAGE_DIR.parent


@dataclass(frozen=True)
class TopicFile:
    """One topic file of the library: its id, language and path."""

    id: str
    lang: str
    path: Path


class Library:
    """Topics, layouts and brands from a clinic's folder layered over the bundled one."""

    def __init__(self, root: str | os.PathLike | None = None, cache: Cache | None = None):
        """`cache`, when given, keeps parsed topics between runs (see `load_topic`)."""
        self.cache = cache
        bundled = bundled_root()
        roots: list[Path] = []
        if root is not None:
            path = Path(root).expanduser()
            if not path.is_dir():
                raise LibraryError(f"library folder not found: {path}")
            roots.append(path.resolve())
        if bundled not in roots:
            roots.append(bundled)
        self.roots: tuple[Path, ...] = tuple(roots)
        self.bundled = bundled
        self._files = self._scan()
        self._loaded: dict[tuple[str, str], Topic] = {}

    def _scan(self) -> dict[tuple[str, str], TopicFile]:
        files: dict[tuple[str, str], TopicFile] = {}
        # Later roots are the fallbacks: the first root that has a topic wins.
        for root in reversed(self.roots):
            folder = root / "handouts"
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.md")):
                match = TOPIC_NAME_RE.match(path.name)
                if match:
                    key = (match["id"], match["lang"])
                    files[key] = TopicFile(match["id"], match["lang"], path)
        return files

    # -- topics -------------------------------------------------------------------------

    def files(self) -> list[TopicFile]:
        """The topic file in use for each (id, language), sorted."""
        return [self._files[key] for key in sorted(self._files)]

    @property
    def topic_ids(self) -> list[str]:
        """Every topic id, sorted."""
        return sorted({topic_id for topic_id, _ in self._files})

    def languages(self, topic_id: str) -> list[str]:
        """The languages a topic is written in, English first."""
        langs = {lang for tid, lang in self._files if tid == topic_id}
        return sorted(langs, key=lambda lang: (lang != DEFAULT_LANG, lang))

    def has(self, topic_id: str, lang: str | None = None) -> bool:
        """Whether the library holds the topic (in `lang`, when given)."""
        if lang is None:
            return any(tid == topic_id for tid, _ in self._files)
        return (topic_id, lang) in self._files

    def topic(self, topic_id: str, lang: str = DEFAULT_LANG) -> Topic:
        """Load one topic; unknown ids suggest close matches."""
        key = (topic_id, lang)
        if key in self._loaded:
            return self._loaded[key]
        entry = self._files.get(key)
        if entry is None:
            if self.has(topic_id):
                have = ", ".join(self.languages(topic_id))
                raise TopicNotFound(
                    f"topic '{topic_id}' has no '{lang}' version (languages: {have})"
                )
            close = difflib.get_close_matches(topic_id, self.topic_ids, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see 'handouts list'"
            raise TopicNotFound(f"unknown topic '{topic_id}'{hint}")
        topic = load_topic(entry.path, self.cache)
        if not topic.mental_health:
            topic = self._mental_health(topic, entry)
        self._loaded[key] = topic
        return topic

    def _mental_health(self, topic: Topic, entry: TopicFile) -> Topic:
        """The topic, marked mental-health when it is one whatever its header says: a
        clinic's copy of a bundled mental-health topic, a chapter F code, or a topic that
        speaks of suicide or self-harm (safety.py). Its crisis block is then required."""
        from .safety import mental_health_reason

        bundled = None
        if not entry.path.is_relative_to(self.bundled):
            for lang in dict.fromkeys((entry.lang, DEFAULT_LANG)):
                path = self.bundled / "handouts" / f"{entry.id}.{lang}.md"
                if path.is_file():
                    bundled = load_topic(path, self.cache)
                    break
        if mental_health_reason(topic, bundled) is None:
            return topic
        return dataclasses.replace(topic, mental_health=True)

    def topics(self, lang: str | None = None) -> list[Topic]:
        """Every topic (in one language, or all), sorted by id then language."""
        keys = sorted(k for k in self._files if lang is None or k[1] == lang)
        return [self.topic(*key) for key in keys]

    def _file_for(self, topic_id: str, lang: str) -> TopicFile | None:
        """The file a reader of `lang` gets for a topic: that language, else English, else
        the topic's first language; None if the library has no such topic."""
        for candidate in (lang, *self.languages(topic_id)):
            entry = self._files.get((topic_id, candidate))
            if entry is not None:
                return entry
        return None

    def in_language(self, topic_id: str, lang: str) -> Topic | None:
        """A topic as a reader of `lang` gets it (see `_file_for`); None if absent. Related
        topics, code matches and packet links all name topics this way."""
        entry = self._file_for(topic_id, lang)
        return self.topic(entry.id, entry.lang) if entry is not None else None

    def source_digest(self, topic_id: str, lang: str) -> str | None:
        """The SHA-256 of the file `in_language(topic_id, lang)` would read, without parsing
        it (cache keys need it for every related topic)."""
        import hashlib

        entry = self._file_for(topic_id, lang)
        return hashlib.sha256(entry.path.read_bytes()).hexdigest() if entry else None

    # -- layouts, brands, fonts ------------------------------------------------------

    @property
    def layout_dirs(self) -> list[Path]:
        """The `layouts/` folders, the clinic's first."""
        return [root / "layouts" for root in self.roots if (root / "layouts").is_dir()]

    @property
    def layout_names(self) -> list[str]:
        """Every layout a document can use (folders with a layout.html.j2)."""
        names = set()
        for folder in self.layout_dirs:
            names.update(p.parent.name for p in folder.glob("*/layout.html.j2"))
        return sorted(names)

    @property
    def fonts_dir(self) -> Path:
        """The declared fonts' folder, the clinic's when it has one."""
        for root in self.roots:
            if (root / "fonts").is_dir() and any((root / "fonts").glob("*.ttf")):
                return root / "fonts"
        raise LibraryError(f"font folder not found: {self.bundled / 'fonts'}")

    def layout_tables(self, filename: str, what: str = "a table"
                      ) -> Iterator[tuple[Path, str, dict]]:
        """(file, language, its table) from `layouts/FILENAME` of every layer, the bundled
        library first, so a clinic's entries come last and win."""
        import tomllib

        for folder in reversed(self.layout_dirs):
            path = folder / filename
            if not path.is_file():
                continue
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise LibraryError(f"{path}: not valid TOML ({exc})") from None
            for lang, table in data.items():
                if not isinstance(table, dict):
                    raise LibraryError(f"{path}: [{lang}] must be {what}")
                yield path, lang, table

    @property
    def brand_names(self) -> list[str]:
        """Brands kept in the library (layouts/brands/NAME.toml), by NAME."""
        names = set()
        for folder in self.layout_dirs:
            names.update(p.stem for p in (folder / "brands").glob("*.toml"))
        return sorted(names)

    def brand_file(self, brand: str | os.PathLike | None) -> Path:
        """The brand file for `--brand`: None is the library's default brand; a brand of
        the library by name; otherwise a path to a brand file."""
        if brand is None:
            return self.default_brand
        text = str(brand)
        for folder in self.layout_dirs:
            candidate = folder / "brands" / f"{text}.toml"
            if ID_PATTERN.match(text) and candidate.is_file():
                return candidate
        path = Path(text).expanduser()
        if not path.exists() and ID_PATTERN.match(text):
            names = ", ".join(self.brand_names) or "none"
            raise LibraryError(f"unknown brand '{text}': not a brand of the library "
                               f"(brands: {names}) nor a file")
        return path

    @property
    def default_brand(self) -> Path:
        """The brand used without --brand: the first layouts/brand.toml."""
        for folder in self.layout_dirs:
            if (folder / "brand.toml").is_file():
                return folder / "brand.toml"
        raise LibraryError(f"brand file not found: {self.bundled / 'layouts' / 'brand.toml'}")
