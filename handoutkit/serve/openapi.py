"""The OpenAPI 3.1 description served at /v1/openapi.json: exactly what the service
accepts and answers. The document request's schema comes from the one parser of a build
request (handoutkit.request), so the two cannot drift apart; a test runs schemathesis
and openapi-spec-validator on it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..options import FORMATS, PAPERS
from ..request import (
    LANG_PATTERN,
    MAX_NAME,
    NAME_PATTERN,
    SAFE_TEXT,
    SERVICE_LIMITS,
    Limits,
    json_schema,
)
from .api import check_params, limits_of, service_of

ERROR = {"$ref": "#/components/schemas/Error"}
TEXT = {400: "Bad request (JSON that does not parse or is nested too deep; a bad "
             "Infobutton request)",
        401: "No or wrong API key",
        403: "A signed link that has expired or was changed (opens nothing)",
        404: "Unknown topic",
        408: "The body did not arrive within the read timeout",
        413: "Body over the route's limit",
        422: "Bad input: the field is named in `field`",
        429: "Too many failed key checks from this address: retry after Retry-After",
        500: "Rendering failed or a worker was lost",
        503: "Starting, stopping or busy: retry after Retry-After seconds"}
SECURED = (401, 429)


def _errors(*codes: int) -> dict:
    return {str(c): {"description": TEXT[c],
                     "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _query(name: str, description: str, required: bool = False, **schema) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


NAME = {"type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME}
TOPIC_ID = {"name": "id", "in": "path", "required": True, "description": "A topic id",
            "schema": {"type": "string", "pattern": NAME_PATTERN, "maxLength": 100}}
LANG = _query("lang", "A language of the library (default en)", type="string",
              pattern=LANG_PATTERN, maxLength=MAX_NAME)
TOPIC_FILE_PARAMS = [
    TOPIC_ID, LANG,
    _query("layout", "A layout of the library: standard, large-print, ...", **NAME),
    _query("paper", "Paper size", type="string", enum=list(PAPERS)),
    _query("brand", "default, or a brand of the library (layouts/brands/NAME.toml)", **NAME),
    {"name": "If-None-Match", "in": "header", "required": False,
     "schema": {"type": "string", "maxLength": 200}},
]
# A signed link (an Infobutton answer's) opens a topic document without a key.
SIGNED_LINK_PARAMS = [
    _query("expires", "A signed link's end (unix time); with `sig`, no key is needed",
           type="string", pattern="^[0-9]{1,12}$"),
    _query("sig", "A signed link's signature over its path and query", type="string",
           pattern="^[A-Za-z0-9_-]{43}$"),
]
JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}


INFOBUTTON_EXTRA = ("mainSearchCriteria.v.ot", "taskContext.c.c",
                    "patientPerson.administrativeGenderCode.c", "age.v.v", "age.v.u",
                    "ageGroup.v.c", "performer", "performer.languageCode.c", "encounter.c.c",
                    "subTopic.v.c", "subTopic.v.cs", "subTopic.v.dn")


INFO_TEXT = {"type": "string", "maxLength": 200, "pattern": SAFE_TEXT}


def document(version: str, limits: Limits = SERVICE_LIMITS) -> dict:
    """The OpenAPI document of this version of the service."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "handouts", "version": version,
                 "description": "Patient-education handouts as tagged PDFs, HTML and FHIR "
                                "DocumentReferences, and HL7 Infobutton answers."},
        "components": _components(limits),
        "security": [{"bearer": []}],
        "paths": _paths(),
    }


def _components(limits: Limits) -> dict:
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "detail", "request_id"],
                      "properties": {"error": {"type": "string"},
                                     "detail": {"type": "string"},
                                     "request_id": {"type": "string"},
                                     "field": {"type": "string"}}},
            "DocumentRequest": json_schema(limits),
        },
    }


def _paths() -> dict:
    return {**_probe_paths(), **_topic_paths(), **_other_paths()}


def _probe_paths() -> dict:
    probe = {"description": "Ready", "content": JSON_OBJECT}
    return {
        "/healthz": {"get": {"summary": "Alive", "security": [],
                             "responses": {"200": {"description": "Alive",
                                                   "content": JSON_OBJECT},
                                           **_errors(422)}}},
        "/readyz": {"get": {"summary": "Every render worker is warm (`broken`: topic files "
                                       "that do not parse)", "security": [],
                            "responses": {"200": probe,
                                          "503": {"description": "Starting or stopping",
                                                  "content": JSON_OBJECT},
                                          **_errors(422)}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "Text format",
                                                   "content": {"text/plain": {}}},
                                           **_errors(*SECURED, 422)}}},
    }


def _topic_paths() -> dict:
    return {
        "/v1/topics": {"get": {
            "summary": "The topics (by language, ICD-10-CM code or words, best first); topic "
                       "files that do not parse are left out",
            "parameters": [
                dict(LANG, description="Only topics in this language"),
                _query("code", "An ICD-10-CM code, like F41.1", type="string",
                       minLength=1, maxLength=64, pattern=SAFE_TEXT),
                _query("q", "Words patients use (\"can't sleep\", \"panic attack\"): "
                       "titles, keywords, summaries, headings and text of every language a "
                       "topic has, best first", type="string", minLength=1, maxLength=200,
                       pattern=SAFE_TEXT)],
            "responses": {"200": {"description": "Topics", "content": JSON_OBJECT},
                          **_errors(*SECURED, 422)}}},
        "/v1/topics/{id}": {"get": {
            "summary": "A topic: sections, languages, versions",
            "parameters": TOPIC_FILE_PARAMS[:2],
            "responses": {"200": {"description": "The topic", "content": JSON_OBJECT},
                          **_errors(*SECURED, 404, 422)}}},
        "/v1/topics/{id}.pdf": {"get": {
            "summary": "The plain handout (no personal details), with an ETag",
            "parameters": TOPIC_FILE_PARAMS + SIGNED_LINK_PARAMS,
            "responses": {"200": {"description": "PDF",
                                  "content": {"application/pdf": {}}},
                          "304": {"description": "Not modified"},
                          **_errors(*SECURED, 403, 404, 422, 500, 503)}}},
        "/v1/topics/{id}.html": {"get": {
            "summary": "The plain handout as one self-contained HTML file",
            "parameters": TOPIC_FILE_PARAMS + SIGNED_LINK_PARAMS,
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}},
                          "304": {"description": "Not modified"},
                          **_errors(*SECURED, 403, 404, 422, 500, 503)}}},
    }


def _other_paths() -> dict:
    return {
        "/v1/documents": {"post": {
            "summary": "A handout or packet, personalised: PDF, HTML or a FHIR R4 "
                       "DocumentReference (Accept: application/fhir+json)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/DocumentRequest"}}}},
            "responses": {"200": {
                "description": "The document; X-Handouts-Manifest-Digest carries the "
                               "SHA-256 of its embedded manifest",
                "content": {"application/pdf": {}, "text/html": {},
                            "application/fhir+json": {}}},
                **_errors(400, *SECURED, 404, 408, 413, 422, 500, 503)}}},
        "/infobutton": {"get": {
            "summary": "HL7 Infobutton (URL-based), answered as MedlinePlus Connect",
            "parameters": [
                _query("mainSearchCriteria.v.c", "ICD-10-CM code", required=True,
                       type="string", maxLength=200,
                       allOf=[{"pattern": SAFE_TEXT}, {"pattern": "\\S"}]),
                _query("mainSearchCriteria.v.cs", "2.16.840.1.113883.6.90 (ICD-10-CM)",
                       type="string", enum=["2.16.840.1.113883.6.90"]),
                _query("mainSearchCriteria.v.dn", "The code's display name", **INFO_TEXT),
                _query("informationRecipient.languageCode.c", "en, es, zh-TW, spa, ...",
                       **INFO_TEXT),
                _query("knowledgeResponseType", "text/xml (Atom, the default) or "
                       "application/json", type="string",
                       enum=["text/xml", "application/json"]),
                _query("informationRecipient", "PAT (patient, the default) or PROV",
                       **INFO_TEXT),
                *[_query(name, "Accepted from health records; does not change the answer",
                         **INFO_TEXT) for name in INFOBUTTON_EXTRA],
            ],
            "responses": {"200": {"description": "Atom feed or its JSON form",
                                  "content": {"text/xml": {}, "application/json": {}}},
                          **_errors(400, *SECURED, 422)}}},
    }


async def view(request: Request) -> Response:
    """GET /v1/openapi.json."""
    check_params(request, "/v1/openapi.json")
    service_of(request).require_key(request)
    return JSONResponse(document(__version__, limits_of(service_of(request).settings)))


__all__ = ["document", "view", "FORMATS"]
