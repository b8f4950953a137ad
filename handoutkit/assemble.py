"""Assembly: selected topics + brand + layout -> one HTML document (Jinja2, escaped)."""

from __future__ import annotations

import datetime as dt
import functools
import tomllib
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import jinja2

from . import __version__
from .brand import Brand
from .errors import LibraryError, SandboxError
from .library import Library
from .options import DEFAULT_LAYOUT, DEFAULT_PAPER, PAPERS, Personal, printed_date
from .sandbox import Sandbox
from .select import Selection

FONT_FACES = (
    ("AtkinsonHyperlegible-Regular.ttf", 400, "normal"),
    ("AtkinsonHyperlegible-Italic.ttf", 400, "italic"),
    ("AtkinsonHyperlegible-Bold.ttf", 700, "normal"),
    ("AtkinsonHyperlegible-BoldItalic.ttf", 700, "italic"),
)
FONT_FAMILY = "Atkinson Hyperlegible"

AssetUrl = Callable[[Path], str]


def file_url(path: Path) -> str:
    return path.resolve().as_uri()


def css_string(value: str) -> str:
    """Quote text as a CSS string literal."""
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\A ")
        .replace("<", "\\3C ")  # never close the <style> element
    )
    return f'"{escaped}"'


def make_environment(library: Library) -> jinja2.Environment:
    """The one Jinja2 environment: clinic layouts first, bundled ones after.

    Made once per set of layout folders, so templates are compiled once per process (a
    batch assembles a cover per patient); Jinja still reloads a template edited on disk.
    """
    return _environment(tuple(str(d) for d in library.layout_dirs))


@functools.lru_cache(maxsize=8)
def _environment(layout_dirs: tuple[str, ...]) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(layout_dirs)),
        # CSS templates are not HTML; everything else is escaped.
        autoescape=lambda name: name is None or not name.endswith(".css.j2"),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["css_string"] = css_string
    return env


def load_strings(library: Library) -> dict[str, dict]:
    """The layouts' fixed wording per language (layouts/strings.toml), clinic's first."""
    merged: dict[str, dict] = {}
    for folder in reversed(library.layout_dirs):
        path = folder / "strings.toml"
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise LibraryError(f"{path}: not valid TOML ({exc})") from None
            for lang, table in data.items():
                merged.setdefault(lang, {}).update(table)
    return merged


def format_date(date: dt.date, strings: dict) -> str:
    month = strings["months"][date.month - 1]
    return strings["date_format"].format(day=date.day, month=month, year=date.year)


def _image_resolver(selection: Selection, library: Library, asset_url: AssetUrl):
    topic = selection.topic

    def resolve(src: str) -> str:
        if urlsplit(src).scheme or src.startswith("//"):
            raise SandboxError(
                f"{topic.path}: refused to load {src}: pictures must be files in the library"
            )
        path = (topic.path.parent / src).resolve()
        if not Sandbox(library.roots).allows(path):
            raise SandboxError(f"{topic.path}: refused to load {src}: it is outside the library")
        if not path.is_file():
            raise LibraryError(f"{topic.path}: picture not found: {src}")
        return asset_url(path)

    return resolve


def anchor_for(selection: Selection) -> str:
    """The HTML id of a topic's article; section ids are prefixed with it, so that topics
    sharing a section id never clash in one document."""
    return f"{selection.topic.id}-{selection.topic.lang}"


def article_context(
    selection: Selection,
    library: Library,
    strings: dict,
    printed: dt.date,
    asset_url: AssetUrl,
    links: dict[str, str] | None = None,
) -> dict:
    """Everything the layout needs to print one topic.

    `links` maps topic ids to the href their "More on this topic" entry links to (topics
    in the same packet); other related topics link to their url, if they have one.
    """
    topic = selection.topic
    resolve = _image_resolver(selection, library, asset_url)
    prefix = anchor_for(selection)
    related = []
    for related_id in topic.related:
        other = library.in_language(related_id, topic.lang)
        if other is None:
            continue
        href = links[related_id] if links and related_id in links else other.url
        related.append({"id": related_id, "title": other.title, "href": href})
    return {
        "topic": topic,
        "anchor": prefix,
        "level": strings["levels"][topic.level],
        "intro_html": topic.intro.html(resolve) if topic.intro else "",
        "sections": [
            {
                "id": section.id,
                "anchor": f"{prefix}--{section.id}",
                "title": section.title,
                "required": section.required,
                "html": section.html(resolve),
            }
            for section in selection.sections
        ],
        "partial": not selection.is_whole,
        "related": related,
        "updated": format_date(topic.updated, strings),
        "printed": format_date(printed, strings),
        "s": strings,
    }


MODES = ("document", "part", "cover", "numbers")
TOPIC_LINK = "handouts-topic:"  # placeholder links in parts and covers, resolved when merging


def assemble(
    selections: list[Selection],
    *,
    library: Library,
    brand: Brand,
    layout: str = DEFAULT_LAYOUT,
    paper: str = DEFAULT_PAPER,
    personal: Personal = Personal(),
    asset_url: AssetUrl = file_url,
    printed: dt.date | None = None,
    duplex: bool = False,
    pad_to_even: bool = False,
    mode: str = "document",
    toc_pages: list[int] | None = None,
    page_langs: list[str] | None = None,
) -> str:
    """Render the layout to one HTML document.

    mode "document": the selected topics in one document; several make a packet with a
    cover (personal details, table of contents), each topic on a new page (a right-hand
    page with `duplex`); `pad_to_even` adds a blank last page.
    The packet builder (packet.py) renders pieces to merge instead:
    mode "part": one topic as it appears in a packet, without page numbers, its related
    topics linked through placeholder links; "cover": the cover alone, with `toc_pages`
    as the contents' page numbers; "numbers": one page per entry of `page_langs` carrying
    only "Page N of M", stamped over the merged pages.
    """
    if mode not in MODES:
        raise ValueError(mode)
    if layout not in library.layout_names:
        raise LibraryError(
            f"unknown layout '{layout}'; layouts: {', '.join(library.layout_names)}"
        )
    if paper not in PAPERS:
        raise LibraryError(f"unknown paper '{paper}'; use one of: {', '.join(PAPERS)}")
    printed = printed or printed_date()
    all_strings = load_strings(library)
    langs = [s.topic.lang for s in selections] + list(page_langs or [])
    for topic_lang in langs:
        if topic_lang not in all_strings:
            raise LibraryError(
                f"the layouts have no wording for language '{topic_lang}' (strings.toml)"
            )
    lang = langs[0]
    strings = all_strings[lang]

    fonts_dir = library.fonts_dir
    fonts = []
    for filename, weight, style in FONT_FACES:
        path = fonts_dir / filename
        if not path.is_file():
            raise LibraryError(f"font not found: {path}")
        fonts.append({"url": asset_url(path), "weight": weight, "style": style})

    packet = len(selections) > 1 or mode in ("part", "cover")
    in_packet: dict[str, str] = {}
    for selection in selections:
        # The first copy of a topic in the packet is the one links jump to.
        in_packet.setdefault(selection.topic.id, anchor_for(selection))
    articles = []
    if mode in ("document", "part"):
        links = None
        if mode == "part":
            links = {related: TOPIC_LINK + related for related in library.topic_ids}
        elif packet:
            links = {tid: "#" + anchor for tid, anchor in in_packet.items()}
        for selection in selections:
            articles.append(article_context(
                selection, library, all_strings[selection.topic.lang], printed, asset_url, links))

    toc = []
    if mode == "cover" or (mode == "document" and packet):
        for index, selection in enumerate(selections):
            anchor = anchor_for(selection)
            toc.append({
                "title": selection.topic.title,
                "id": selection.topic.id,
                "version": selection.topic.version,
                "href": TOPIC_LINK + selection.topic.id if mode == "cover" else "#" + anchor,
                "page": toc_pages[index] if toc_pages else None,
            })

    first = selections[0].topic if selections else None
    title = first.title if len(selections) == 1 and mode != "cover" else strings["packet_title"]
    keywords = []
    for selection in selections:
        keywords += [selection.topic.id, *selection.topic.codes]
    document = {
        "lang": lang,
        "title": title,
        "description": first.summary if len(selections) == 1 and mode != "cover" else "; ".join(
            s.topic.title for s in selections
        ),
        "keywords": ", ".join(dict.fromkeys(keywords)),
        "generator": f"handouts {__version__}",
        "created": f"{printed.isoformat()}T00:00:00Z",
    }
    env = make_environment(library)
    try:
        template = env.get_template(f"{layout}/layout.html.j2")
        html = template.render(
            document=document,
            articles=articles,
            brand=brand,
            logo_url=asset_url(brand.logo) if brand.logo else None,
            fonts=fonts,
            font_family=FONT_FAMILY,
            paper=PAPERS[paper],
            personal=personal,
            s=strings,
            printed=format_date(printed, strings),
            packet=packet,
            duplex=duplex,
            pad_to_even=pad_to_even,
            show_cover=bool(toc),
            toc=toc,
            running=mode != "numbers",
            numbers=mode in ("document", "numbers"),
            number_pages=list(page_langs or []) if mode == "numbers" else [],
            number_strings={k: {"page": v["page"], "of": v["of"]} for k, v in all_strings.items()},
        )
        if articles:
            from .completeness import check_html

            check_html(html, selections, anchor_for)
        return html
    except jinja2.TemplateNotFound as exc:
        raise LibraryError(f"layout '{layout}': template not found: {exc.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name
        raise LibraryError(f"{where}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise LibraryError(f"layout '{layout}': {exc.message}") from None
