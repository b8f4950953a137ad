"""Assembly: selected topics + brand + layout -> one HTML document (Jinja2, escaped)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from .. import __version__
from ..content import fonts
from ..content.brand import Brand
from ..content.library import Library
from ..content.select import Selection
from ..content.wording import (
    direction,
    format_date,
    load_strings,
)
from ..errors import LibraryError
from ..options import DEFAULT_LAYOUT, DEFAULT_PAPER, PAPERS, Personal, printed_date
from .articles import AssetUrl, anchor_for, article_context, not_available, second_anchor
from .bidi import isolate_numbers
from .linebreak import keep_words

FONT_FAMILY = fonts.LATIN_FAMILY

def font_stack(lang: str | None) -> str:
    """The CSS font-family list for text in `lang` (None: any language)."""
    return ", ".join(css_string(family) for family in fonts.family_stack(lang))


LATIN_SECOND = ("vi",)  # languages whose letters the Latin face lacks in part


def header_font_stack(lang: str | None) -> str:
    """The font-family list of the running header (a clinic's name, phone and web address,
    mostly Latin letters): the Latin face first, then the page's own faces. The other
    faces' Latin letters are wider and would wrap the header in large print. Vietnamese keeps
    its own face first (the Latin face lacks some of its letters)."""
    stack = fonts.family_stack(lang)
    if (lang or "").split("-")[0] not in LATIN_SECOND:
        stack = [fonts.LATIN_FAMILY] + [f for f in stack if f != fonts.LATIN_FAMILY]
    return ", ".join(css_string(family) for family in stack)


def file_url(path: Path) -> str:
    """The file: URL WeasyPrint loads a library file from."""
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


def svg_data(svg: str) -> str:
    """A drawing (SVG markup) as a data: URI, for pictures the layouts' CSS draws."""
    import base64

    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


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
    env.filters["svg_data"] = svg_data
    return env


TOPIC_LINK = "handouts-topic:"  # placeholder links in parts and covers, resolved when merging


@dataclass(frozen=True)
class Setting:
    """Everything but the topics and the patient that shapes a page."""

    library: Library
    brand: Brand
    layout: str = DEFAULT_LAYOUT
    paper: str = DEFAULT_PAPER
    duplex: bool = False
    printed: dt.date = field(default_factory=printed_date)
    asset_url: AssetUrl = file_url  # data_uri for self-contained HTML


def document_title(selections: list[Selection], strings: dict) -> str:
    """The one rule for a document's title: a topic's own, or the packet's for several."""
    return selections[0].topic.title if len(selections) == 1 else strings["packet_title"]


def assemble(selections: list[Selection], setting: Setting, *, personal: Personal = Personal(),
             cover: bool = False, pad_to_even: bool = False) -> str:
    """The selected topics as one document, laid out whole by WeasyPrint (single
    handouts, archival PDFs and self-contained HTML).

    Several topics, or `cover`, make a packet: a cover with the personal details and the
    contents, each topic on a new page (a right-hand page with `duplex`). `pad_to_even`
    adds a blank last page.
    """
    packet = len(selections) > 1 or cover
    links = {tid: "#" + anchor for tid, anchor in _first_anchors(selections).items()}
    return _render(setting, selections, personal=personal, packet=packet,
                   articles=_articles(setting, selections, links if packet else None),
                   toc=_toc(selections, lambda s: "#" + anchor_for(s)) if packet else [],
                   pad_to_even=pad_to_even)


def assemble_part(selection: Selection, setting: Setting) -> str:
    """One topic as it appears in a packet: no page numbers, its related topics linked
    through placeholder links that merging resolves."""
    links = {related: TOPIC_LINK + related for related in setting.library.topic_ids}
    return _render(setting, [selection], packet=True, numbers=False,
                   articles=_articles(setting, [selection], links))


def assemble_cover(selections: list[Selection], setting: Setting, personal: Personal,
                   toc_pages: list[int]) -> str:
    """A packet's cover alone: personal details and the contents, whose entries carry
    `toc_pages` as page numbers."""
    toc = _toc(selections, lambda s: TOPIC_LINK + s.topic.id, toc_pages)
    return _render(setting, selections, personal=personal, packet=True, numbers=False,
                   toc=toc)


def assemble_numbers(setting: Setting, page_langs: list[str],
                     blank_pages: frozenset[int] = frozenset()) -> str:
    """One page per entry of `page_langs` carrying only "Page N of M" in that language,
    stamped over a merged packet's pages; the pages (indices) in `blank_pages` also say
    "This page is intentionally blank"."""
    pages = [{"lang": lang, "blank": index in blank_pages}
             for index, lang in enumerate(page_langs)]
    return _render(setting, [], packet=False, running=False, number_pages=pages,
                   page_langs=page_langs)


def _first_anchors(selections: list[Selection]) -> dict[str, str]:
    """Topic id -> the anchor of its first copy in the document (where links jump)."""
    anchors: dict[str, str] = {}
    for selection in selections:
        anchors.setdefault(selection.topic.id, anchor_for(selection))
    return anchors


def _articles(setting: Setting, selections: list[Selection], links) -> list[dict]:
    all_strings = load_strings(setting.library)
    return [article_context(s, setting.library, all_strings[s.topic.lang], setting.printed,
                            setting.asset_url, links, setting.brand) for s in selections]


def _toc(selections: list[Selection], href, pages: list[int] | None = None) -> list[dict]:
    return [{"title": s.topic.title, "id": s.topic.id, "version": s.topic.version,
             "lang": s.topic.lang, "dir": direction(s.topic.lang),
             "href": href(s), "page": pages[index] if pages else None,
             "not_available": not_available(s)}
            for index, s in enumerate(selections)]


def _fonts(setting: Setting) -> list[dict]:
    """Atkinson Hyperlegible's faces for @font-face (the other declared fonts come
    through fontconfig: see fonts.py)."""
    font_set = fonts.find_fonts(setting.library.roots)
    return [{"url": setting.asset_url(path), "weight": weight, "style": style}
            for path, (_, weight, style) in zip(font_set.latin, fonts.LATIN_FACES)]


def _checked_strings(setting: Setting, langs: list[str]) -> dict[str, dict]:
    """The layouts' wording, after checking the layout, paper and every language."""
    library = setting.library
    if setting.layout not in library.layout_names:
        raise LibraryError(
            f"unknown layout '{setting.layout}'; layouts: {', '.join(library.layout_names)}")
    if setting.paper not in PAPERS:
        raise LibraryError(f"unknown paper '{setting.paper}'; use one of: {', '.join(PAPERS)}")
    all_strings = load_strings(library)
    for lang in langs:
        if lang not in all_strings:
            raise LibraryError(f"the layouts have no wording for language '{lang}' (strings.toml)")
    return all_strings


def _document(selections: list[Selection], strings: dict, lang: str, printed: dt.date) -> dict:
    """What the document says about itself: title, description, keywords, dates."""
    keywords = []
    for selection in selections:
        keywords += [selection.topic.id, *selection.topic.codes]
    one = len(selections) == 1
    return {
        "lang": lang,
        "dir": direction(lang),
        "title": document_title(selections, strings) if selections else strings["packet_title"],
        "description": selections[0].topic.summary if one else "; ".join(
            s.topic.title for s in selections),
        "keywords": ", ".join(dict.fromkeys(keywords)),
        "generator": f"handouts {__version__}",
        "created": f"{printed.isoformat()}T00:00:00Z",
    }


def _personal_dates(personal: Personal, strings: dict, lang: str) -> Personal:
    """The personal details as printed: a visit date typed as YYYY-MM-DD is written the
    way the page's language writes dates; anything else prints as typed."""
    value = (personal.visit_date or "").strip()
    try:
        date = dt.date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        date = None
    if date is None:
        return personal
    return dataclasses.replace(personal, visit_date=format_date(date, strings, lang))


def _render(setting: Setting, selections: list[Selection], *, packet: bool,
            personal: Personal = Personal(), articles: list[dict] = (), toc: list[dict] = (),
            numbers: bool = True, running: bool = True, pad_to_even: bool = False,
            number_pages: list[str] = (), page_langs: list[str] = ()) -> str:
    langs = [s.topic.lang for s in selections] + list(page_langs)
    all_strings = _checked_strings(setting, langs)
    strings = all_strings[langs[0]]
    from .notice import notice as language_notice

    notice = language_notice(setting.library, setting.brand) if toc else None
    text_langs = set(langs + [s.second.topic.lang for s in selections if s.second]
                     + [line["lang"] for line in (notice["lines"] if notice else [])])
    context = dict(
        document=_document(selections, strings, langs[0], setting.printed),
        articles=list(articles), brand=setting.brand.for_lang(langs[0]) if langs else setting.brand,
        logo_url=setting.asset_url(setting.brand.logo) if setting.brand.logo else None,
        fonts=_fonts(setting), font_family=FONT_FAMILY, paper=PAPERS[setting.paper],
        font_stack=font_stack(None), header_font_stack=header_font_stack(
            langs[0] if langs else None),
        lang_font_stacks=[(code, font_stack(code)) for code in sorted(text_langs)
                          if fonts.family_stack(code) != fonts.family_stack(None)],
        personal=_personal_dates(personal, strings, langs[0] if langs else "en"),
        s=strings, printed=format_date(setting.printed, strings, langs[0]),
        packet=packet, duplex=setting.duplex, pad_to_even=pad_to_even, show_cover=bool(toc),
        toc=list(toc), notice=notice, running=running, numbers=numbers,
        number_pages=list(number_pages),
        number_strings={k: {"page": v["page"], "of": v["of"], "page_of": v.get("page_of"),
                            "dir": direction(k), "blank_page": v["blank_page"]}
                        for k, v in all_strings.items()},
    )
    layout = setting.layout
    try:
        template = make_environment(setting.library).get_template(f"{layout}/layout.html.j2")
        html = keep_words(template.render(**context))
        if articles:
            from .completeness import check_html

            check_html(html, selections, anchor_for)
            seconds = {id(s.second): second_anchor(s) for s in selections if s.second}
            check_html(html, [s.second for s in selections if s.second],
                       lambda second: seconds[id(second)])
        return isolate_numbers(html)
    except jinja2.TemplateNotFound as exc:
        raise LibraryError(f"layout '{layout}': template not found: {exc.name}") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name
        raise LibraryError(f"{where}:{exc.lineno}: template error: {exc.message}") from None
    except jinja2.UndefinedError as exc:
        raise LibraryError(f"layout '{layout}': {exc.message}") from None
