"""Assembly: selected topics + brand + layout -> one HTML document (Jinja2, escaped)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

import jinja2

from .. import __version__
from ..content import fonts
from ..content.blocks import crisis_lines
from ..content.brand import Brand
from ..content.library import Library
from ..content.select import Selection
from ..content.wording import (
    direction,
    format_date,
    language_name,
    load_strings,
)
from ..errors import LibraryError, SandboxError
from ..options import DEFAULT_LAYOUT, DEFAULT_PAPER, PAPERS, Personal, printed_date
from ..pdf.sandbox import Sandbox
from .bidi import isolate_numbers
from .linebreak import keep_words

FONT_FAMILY = fonts.LATIN_FAMILY

AssetUrl = Callable[[Path], str]


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


def _image_resolver(selection: Selection, library: Library, asset_url: AssetUrl):
    topic = selection.topic

    def resolve(src: str) -> str:
        if urlsplit(src).scheme or src.startswith("//"):
            raise SandboxError(
                f"{topic.path}: refused to load {src}: pictures must be files in the library"
            )
        path = picture_path(topic.path, src, library)
        if not Sandbox(library.roots).allows(path):
            raise SandboxError(f"{topic.path}: refused to load {src}: it is outside the library")
        if not path.is_file():
            raise LibraryError(f"{topic.path}: picture not found: {src}")
        return asset_url(path)

    return resolve


def picture_path(topic_path: Path, src: str, library: Library) -> Path:
    """Where a topic's picture is: beside the topic, or else in the `handouts/` folder of
    the library's other layers (a clinic's copy of a topic keeps the bundled pictures)."""
    path = (topic_path.parent / src).resolve()
    if path.is_file():
        return path
    for root in library.roots:
        candidate = (root / "handouts" / src).resolve()
        if candidate.is_file() and Sandbox(library.roots).allows(candidate):
            return candidate
    return path


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
    brand: Brand | None = None,
) -> dict:
    """Everything the layout needs to print one topic.

    `links` maps topic ids to the href their "More on this topic" entry links to (topics
    in the same packet); other related topics link to their url, if they have one.
    """
    topic = selection.topic
    resolve = _image_resolver(selection, library, asset_url)
    local = crisis_lines(brand.for_lang(topic.lang) if brand is not None else None, strings)
    prefix = anchor_for(selection)
    second = _second_language(selection, library, asset_url, brand)
    related = []
    for related_id in topic.related:
        other = library.in_language(related_id, topic.lang)
        if other is None:
            continue
        href = links[related_id] if links and related_id in links else other.url
        # A related topic not yet in the reader's language: its English title, marked.
        marker = "" if other.lang == topic.lang else strings["in_language"].format(
            language=language_name(other.lang, topic.lang))
        related.append({"id": related_id, "title": other.title, "href": href,
                        "lang": other.lang, "marker": marker})
    sections = [
        {
            "id": section.id,
            "anchor": f"{prefix}--{section.id}",
            "title": section.title,
            "required": section.required,
            "html": section.html(resolve, strings, local, f"{prefix}--{section.id}"),
            "second": second["sections"].get(section.id) if second else None,
        }
        for section in selection.sections
    ]
    printed_brand = brand.for_lang(topic.lang) if brand is not None else None
    return {
        "topic": topic,
        "anchor": prefix,
        "level": strings["levels"][topic.level],
        "intro_html": topic.intro.html(resolve, strings, local) if topic.intro else "",
        "sections": sections,
        "groups": section_groups(sections),
        "second": second,
        "partial": not selection.is_whole,
        "not_available": not_available(selection),
        "related": related,
        "updated": format_date(topic.updated, strings, topic.lang),
        "printed": format_date(printed, strings, topic.lang),
        "s": strings,
        "dir": direction(topic.lang),
        "brand": printed_brand,
        "review": review_status(topic, strings, printed_brand),
        "online": online_version(topic, printed_brand),
    }


def second_anchor(selection: Selection) -> str:
    """The prefix of the ids of a --bilingual topic's second-language sections."""
    return f"{anchor_for(selection)}--{selection.second.topic.lang}"


def _second_language(selection: Selection, library: Library, asset_url: AssetUrl,
                     brand: Brand | None = None):
    """A --bilingual topic's second language: its label (the language's own name), title,
    direction, introduction and each section by id (its boxes titled, its clinic numbers
    and field names in that language); None for a topic printed once."""
    second = selection.second
    if second is None:
        return None
    topic = second.topic
    resolve = _image_resolver(second, library, asset_url)
    prefix = second_anchor(selection)
    strings = load_strings(library).get(topic.lang, {})
    local = crisis_lines(brand.for_lang(topic.lang) if brand is not None else None, strings)
    name = language_name(topic.lang, topic.lang)
    return {
        "lang": topic.lang, "dir": direction(topic.lang), "title": topic.title,
        "label": name[:1].upper() + name[1:],
        "intro_html": topic.intro.html(resolve, strings, local) if topic.intro else "",
        "sections": {s.id: {"id": s.id, "anchor": f"{prefix}--{s.id}", "title": s.title,
                            "required": s.required,
                            "html": s.html(resolve, strings, local, f"{prefix}--{s.id}")}
                     for s in second.sections},
    }


def section_groups(sections: list[dict]) -> list[dict]:
    """Runs of sections as the layout flows them: a section with a table or write-in lines
    (a tool to write in) or a required one (the crisis block) is `wide`, across the page;
    runs of the others may be set in columns. A group holding the crisis block alone is
    marked `crisis` (the renderer may move it to where it leaves no page short, refit.py);
    one holding a tool table is marked `tool` (its first rows never split, so the renderer
    may move it past a neighbouring section where keeping it whole would leave a page
    short)."""
    groups: list[dict] = []
    for section in sections:
        wide = (section["required"] or "<table" in section["html"]
                or "callout-write-in" in section["html"])
        if groups and not wide and not groups[-1]["wide"]:
            groups[-1]["sections"].append(section)
        else:
            crisis = section["required"] and "callout-emergency" in section["html"]
            groups.append({"wide": wide, "sections": [section], "crisis": crisis,
                           "tool": not crisis and "<table" in section["html"]})
    return groups


def is_pending(reviewed_by: str | None) -> bool:
    """A topic not yet reviewed: no reviewer, or `reviewed_by` saying it is pending
    ("Pending local clinical review", "Pendiente de revisión")."""
    return not reviewed_by or reviewed_by.lower().startswith(("pending", "pendiente"))


def review_status(topic, strings: dict, brand: Brand | None) -> str:
    """Who reviewed the topic and when, or that no clinician of the clinic has yet."""
    if is_pending(topic.reviewed_by):
        return strings["not_reviewed"].format(clinic=brand.name if brand else "")
    text = strings["reviewed"].format(reviewer=topic.reviewed_by,
                                      updated=format_date(topic.updated, strings, topic.lang))
    if topic.review_due:
        text += " " + strings["review_due"].format(
            date=format_date(topic.review_due, strings, topic.lang))
    return text


def online_version(topic, brand: Brand | None) -> dict | None:
    """The topic's online address as the brand's `online_url` gives it, its short printed
    form and a QR code (an SVG data: URI); None when the brand sets no address."""
    if brand is None or not brand.online_url:
        return None
    url = brand.online_url.format(id=topic.id, lang=topic.lang)
    return {"url": url, "short": url.removeprefix("https://"), "qr": qr_svg(url)}


@functools.lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """A QR code of `url` as a vector SVG data: URI (segno; medium error correction)."""
    import base64
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="svg", scale=4, border=4,
                                                  xmldecl=False, dark="#000000")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


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


def not_available(selection: Selection) -> str | None:
    """--fallback: the note a topic printed in another language than the reader's carries
    on the cover and under its title, in the language it prints in, naming the reader's
    language in its own words too ("... not yet available in Spanish (español)")."""
    wanted = selection.wanted_lang
    if not wanted:
        return None
    printed = selection.topic.lang
    name, own = language_name(wanted, printed), language_name(wanted, wanted)
    shown = name if own.casefold() == name.casefold() else f"{name} ({own})"
    return f"This handout is not yet available in {shown}."


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
