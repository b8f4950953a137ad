"""HL7 Infobutton (URL-based implementation guide) answers, shaped as MedlinePlus Connect's.

A health record asks `GET /infobutton?mainSearchCriteria.v.c=F41.1
&mainSearchCriteria.v.cs=2.16.840.1.113883.6.90&informationRecipient.languageCode.c=es
&knowledgeResponseType=application/json` and gets an Atom feed (XML, the default) or the same
feed as JSON, the way MedlinePlus Connect answers: feed title, subtitle, author, updated,
categories echoing the request, and one entry per matching topic with its title, link(s),
id, updated and an HTML summary.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from ..content.brand import load_brand
from ..content.codes import find
from ..content.library import DEFAULT_LANG, Library
from ..errors import HandoutsError
from ..request import UNSAFE_RE, _shown
from .api import check_params, service_of
from .service import ApiError, engine_error

ICD10CM = "2.16.840.1.113883.6.90"
CODE_SYSTEMS = {ICD10CM: "ICD-10-CM"}
ATOM = "http://www.w3.org/2005/Atom"
XML_NS = "http://www.w3.org/XML/1998/namespace"
RESPONSE_TYPES = ("text/xml", "application/json")
MAX_ENTRIES = 10
# The HL7 Infobutton URL-based guide's parameters a health record may send; only the
# first ones change the answer.
PARAMS = ("mainSearchCriteria.v.c", "mainSearchCriteria.v.cs",
          "mainSearchCriteria.v.dn", "informationRecipient.languageCode.c",
          "knowledgeResponseType", "informationRecipient",
          "mainSearchCriteria.v.ot", "taskContext.c.c",
          "patientPerson.administrativeGenderCode.c", "age.v.v", "age.v.u",
          "ageGroup.v.c", "performer", "performer.languageCode.c",
          "encounter.c.c", "subTopic.v.c", "subTopic.v.cs", "subTopic.v.dn")


class InfobuttonError(HandoutsError):
    """A request the Infobutton guide (or this library) cannot answer."""


@dataclass(frozen=True)
class Request:
    codes: list[str]
    code_system: str
    display: str
    lang: str
    response_type: str
    recipient: str


def parse(params, library: Library) -> Request:
    """Read the request's parameters; a missing code or unknown code system is an error."""
    codes = [c for c in params.getlist("mainSearchCriteria.v.c") if c.strip()]
    if not codes:
        raise InfobuttonError("mainSearchCriteria.v.c is required (an ICD-10-CM code, "
                              "like F41.1)")
    system = params.get("mainSearchCriteria.v.cs", ICD10CM).strip()
    if system not in CODE_SYSTEMS:
        raise InfobuttonError(
            f"code system '{system}' is not supported; use ICD-10-CM ({ICD10CM})")
    asked = (params.get("informationRecipient.languageCode.c") or DEFAULT_LANG).strip()
    have = sorted({f.lang for f in library.files()})
    lang = library_language(asked, have)
    if lang is None:
        raise InfobuttonError(f"language '{asked}' is not in the library "
                              f"(languages: {', '.join(have)})")
    response_type = (params.get("knowledgeResponseType") or "text/xml").strip()
    if response_type not in RESPONSE_TYPES:
        raise InfobuttonError(f"knowledgeResponseType '{response_type}' is not supported; "
                              f"use {' or '.join(RESPONSE_TYPES)}")
    return Request(codes, system, params.get("mainSearchCriteria.v.dn", ""), lang,
                   response_type, params.get("informationRecipient", "PAT"))


# Codes health records send that are not BCP 47 tags of the library: MedlinePlus Connect's
# own "sp" for Spanish, and ISO 639-2/639-3 three-letter codes (both the bibliographic "chi"
# and the terminology "zho" for Chinese).
LANGUAGE_ALIASES = {"sp": "es", "spa": "es", "eng": "en", "zho": "zh", "chi": "zh",
                    "vie": "vi", "kor": "ko", "tgl": "tl", "fil": "tl", "rus": "ru",
                    "ara": "ar", "cmn": "zh-Hans", "yue": "zh-Hant"}


def library_language(asked: str, have: list[str]) -> str | None:
    """The library's language tag for a requested code, or None: exact tags first
    ('zh-Hant'), then the language's likely script from CLDR (zh-TW, zh-HK and zh-MO are
    written in Traditional characters, zh, zh-CN and zh-SG in Simplified), then the
    language alone (en-US -> en). A script asked for is never swapped for another. Case,
    and '_' for '-', do not matter."""
    parts = asked.replace("_", "-").split("-")
    base = LANGUAGE_ALIASES.get(parts[0].lower(), parts[0].lower())
    language, _, alias_script = base.partition("-")
    script = next((p.title() for p in parts[1:] if len(p) == 4), alias_script or None)
    region = next((p.upper() for p in parts[1:] if len(p) in (2, 3)), "")
    if script is None:
        from babel.core import get_global

        likely = get_global("likely_subtags")
        expanded = likely.get(f"{language}_{region}") or likely.get(language, "")
        guessed = [p for p in expanded.split("_")[1:] if len(p) == 4]
        candidates = [f"{language}-{guessed[0]}"] if guessed else []
        candidates.append(language)
    else:
        candidates = [f"{language}-{script}"]
    by_lower = {code.lower(): code for code in have}
    return next((by_lower[c.lower()] for c in candidates if c.lower() in by_lower), None)


@dataclass(frozen=True)
class Entry:
    topic_id: str
    lang: str
    title: str
    summary: str
    updated: dt.date
    pdf: str
    html: str


def entries(request: Request, library: Library, base_url: str, sign=None) -> list[Entry]:
    """The topics for the codes, closest first, each in the reader's language when the
    library has it (else English). `sign(path, params)` makes each link a signed one
    (links.LinkSigner.sign), which a health record's user opens without a key; a link
    says only which handout it is, never anything of the patient."""
    def link(path: str, params: dict) -> str:
        if sign is not None:
            return base_url + sign("/" + path, params)[1:]
        return base_url + path + ("?" + urlencode(params) if params else "")

    found: dict[str, None] = {}
    for matches in find(library, request.codes, request.lang).values():
        for match in matches:
            found.setdefault(match.topic_id)
    result = []
    for topic_id in list(found)[:MAX_ENTRIES]:
        topic = library.in_language(topic_id, request.lang)
        params = {} if topic.lang == DEFAULT_LANG else {"lang": topic.lang}
        result.append(Entry(topic.id, topic.lang, topic.title, topic.summary, topic.updated,
                            link(f"v1/topics/{topic.id}.pdf", params),
                            link(f"v1/topics/{topic.id}.html", params)))
    return result


def _categories(request: Request) -> list[tuple[str, str]]:
    return ([("mainSearchCriteria.v.c", code) for code in request.codes]
            + [("mainSearchCriteria.v.cs", request.code_system),
               ("mainSearchCriteria.v.dn", request.display),
               ("informationRecipient.languageCode.c", request.lang),
               ("informationRecipient", request.recipient)])


def _summary_html(entry: Entry) -> str:
    from markupsafe import escape

    return f"<p>{escape(entry.summary)}</p>"


def _subtitle(request: Request, brand: str) -> str:
    return (f"{brand} patient education for {CODE_SYSTEMS[request.code_system]} "
            f"{', '.join(request.codes)}")


def as_json(request: Request, found: list[Entry], base_url: str, brand: str,
            now: dt.datetime) -> dict:
    """MedlinePlus Connect's JSON: Atom elements as objects, text under `_value`."""
    updated = now.isoformat().replace("+00:00", "Z")
    return {"feed": {
        "xsi": "http://www.w3.org/2001/XMLSchema-instance",
        "base": base_url,
        "lang": request.lang,
        "title": {"_value": f"{brand} patient education", "type": "text"},
        "subtitle": {"_value": _subtitle(request, brand), "type": "text"},
        "author": {"name": {"_value": brand}, "uri": {"_value": base_url}},
        "updated": {"_value": updated},
        "category": [{"scheme": s, "term": t} for s, t in _categories(request)],
        "id": {"_value": f"{base_url}infobutton"},
        "entry": [{
            "lang": e.lang,
            "title": {"_value": e.title, "type": "text"},
            "link": [
                {"title": e.title, "rel": "alternate", "type": "application/pdf",
                 "href": e.pdf},
                {"title": e.title, "rel": "alternate", "type": "html", "href": e.html},
            ],
            "id": {"_value": f"{base_url}v1/topics/{e.topic_id}@{e.lang}"},
            "updated": {"_value": e.updated.isoformat() + "T00:00:00Z"},
            "summary": {"_value": _summary_html(e), "type": "html"},
        } for e in found],
    }}


def as_atom(request: Request, found: list[Entry], base_url: str, brand: str,
            now: dt.datetime) -> bytes:
    """The same feed as Atom XML."""
    ET.register_namespace("", ATOM)

    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, f"{{{ATOM}}}{tag}",
                                {k.replace("__", ":"): v for k, v in attrs.items()})
        if text is not None:
            element.text = text
        return element

    feed = ET.Element(f"{{{ATOM}}}feed", {f"{{{XML_NS}}}base": base_url,
                                          f"{{{XML_NS}}}lang": request.lang})
    sub(feed, "title", f"{brand} patient education", type="text")
    sub(feed, "subtitle", _subtitle(request, brand), type="text")
    author = sub(feed, "author")
    sub(author, "name", brand)
    sub(author, "uri", base_url)
    sub(feed, "updated", now.isoformat().replace("+00:00", "Z"))
    for scheme, term in _categories(request):
        sub(feed, "category", scheme=scheme, term=term)
    sub(feed, "id", f"{base_url}infobutton")
    for e in found:
        entry = sub(feed, "entry")
        entry.set(f"{{{XML_NS}}}lang", e.lang)
        sub(entry, "title", e.title, type="text")
        sub(entry, "link", href=e.pdf, rel="alternate", type="application/pdf", title=e.title)
        sub(entry, "link", href=e.html, rel="alternate", type="html", title=e.title)
        sub(entry, "id", f"{base_url}v1/topics/{e.topic_id}@{e.lang}")
        sub(entry, "updated", e.updated.isoformat() + "T00:00:00Z")
        sub(entry, "summary", _summary_html(e), type="html")
    text = ET.tostring(feed, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


# -- the route -----------------------------------------------------------------------------

async def view(request: HttpRequest) -> Response:
    """GET /infobutton: the feed for the request's code and language."""
    service = service_of(request)
    service.require_key(request)
    check_params(request, "/infobutton", status=400, allowed=PARAMS)
    for name, value in request.query_params.multi_items():
        if len(value) > 200 or UNSAFE_RE.search(value):
            raise ApiError(400, "bad_request", f"{_shown(name)} must be short text without "
                           "control characters", field=_shown(name))
    base = service.link_base()
    try:
        library = service.usable_library()
        query = parse(request.query_params, library)
        found = entries(query, library, base, service.links.sign)
        brand = load_brand(library.default_brand).name
    except HandoutsError as exc:
        raise engine_error(exc) from None
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    if query.response_type == "application/json":
        return JSONResponse(as_json(query, found, base, brand, now))
    return Response(as_atom(query, found, base, brand, now),
                    media_type="text/xml; charset=utf-8")
