"""One topic as the layout prints it: its sections grouped for the page, pictures found
in the library (never outside it), related topics, review status and online version."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from ..content.blocks import crisis_lines
from ..content.brand import Brand
from ..content.library import Library
from ..content.select import Selection
from ..content.wording import direction, format_date, language_name, load_strings
from ..errors import LibraryError, SandboxError
from ..pdf.sandbox import Sandbox

AssetUrl = Callable[[Path], str]


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
    related = _related(topic, library, strings, links)
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



def _related(topic, library: Library, strings: dict, links: dict[str, str] | None) -> list:
    """The "More on this topic" entries: related topics in the reader's language, or
    in English marked as such; each links into the packet, else to its online address."""
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
    return related


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
