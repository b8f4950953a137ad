"""The OpenAPI 3.1 description served at /v1/openapi.json."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict:
    text = {400: "Bad request", 401: "No or wrong API key", 404: "Unknown topic",
            413: "Body too large", 422: "Bad input (SPEC, section, field)",
            500: "Rendering failed or a worker was lost",
            503: "Queue full: retry after Retry-After seconds"}
    return {str(c): {"description": text[c],
                     "content": {"application/json": {"schema": ERROR}}} for c in codes}


def _query(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


TOPIC_FILE_PARAMS = [
    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
    _query("lang", "Language (default en)"),
    _query("layout", "standard or large-print"),
    _query("paper", "Paper size", type="string", enum=["letter", "a4"]),
    _query("brand", "A brand of the library (layouts/brands/NAME.toml); default the "
           "library's brand"),
    {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
]


def document(version: str) -> dict:
    """The OpenAPI document of this version of the service."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "handouts", "version": version,
                 "description": "Patient-education handouts as tagged PDFs, HTML and FHIR "
                                "DocumentReferences, and HL7 Infobutton answers."},
        "components": _components(),
        "security": [{"bearer": []}],
        "paths": _paths(),
    }


def _components() -> dict:
    return {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error", "detail"], "properties": {
                "error": {"type": "string"}, "detail": {"type": "string"},
                "request_id": {"type": "string"}}},
            "DocumentRequest": {
                "type": "object", "required": ["specs"], "additionalProperties": False,
                "properties": {
                    "specs": {"type": "array", "items": {"type": "string"},
                              "description": "TOPIC[@LANG][:SECTION,SECTION...], as "
                                             "`handouts build`"},
                    "lang": {"type": "string"},
                    "bilingual": {"type": "string", "description": "a second language "
                                  "printed after each section (as `build --bilingual`)"},
                    "layout": {"type": "string", "examples": ["standard", "large-print"]},
                    "paper": {"type": "string", "enum": ["letter", "a4"]},
                    "brand": {"type": "string"},
                    "format": {"type": "string", "enum": ["pdf", "html"]},
                    "duplex": {"type": "boolean"},
                    "archival": {"type": "boolean"},
                    "personal": {"type": "object", "additionalProperties": False,
                                 "properties": {k: {"type": "string"} for k in
                                                ("patient", "visit_date", "clinician",
                                                 "note")}},
                    "fhir": {"type": "object", "additionalProperties": False,
                             "properties": {k: {"type": "string"} for k in
                                            ("patient_ref", "encounter_ref",
                                             "author_ref", "url")}},
                }},
        },
    }


def _paths() -> dict:
    return {
        "/healthz": {"get": {"summary": "Alive", "security": [],
                             "responses": {"200": {"description": "Alive"}}}},
        "/readyz": {"get": {"summary": "Every render worker is warm", "security": [],
                            "responses": {"200": {"description": "Ready"},
                                          "503": {"description": "Starting"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "Text format"}}}},
        "/v1/topics": {"get": {
            "summary": "The topics (by language or ICD-10-CM code, closest first)",
            "parameters": [_query("lang", "Only topics in this language"),
                           _query("code", "An ICD-10-CM code, like F41.1")],
            "responses": {"200": {"description": "Topics"}, **_errors(401, 422)}}},
        "/v1/topics/{id}": {"get": {
            "summary": "A topic: sections, languages, versions",
            "parameters": TOPIC_FILE_PARAMS[:2],
            "responses": {"200": {"description": "The topic"}, **_errors(401, 404)}}},
        "/v1/topics/{id}.pdf": {"get": {
            "summary": "The plain handout (no personal details), with an ETag",
            "parameters": TOPIC_FILE_PARAMS,
            "responses": {"200": {"description": "PDF",
                                  "content": {"application/pdf": {}}},
                          "304": {"description": "Not modified"},
                          **_errors(401, 404, 422, 500, 503)}}},
        "/v1/topics/{id}.html": {"get": {
            "summary": "The plain handout as one self-contained HTML file",
            "parameters": TOPIC_FILE_PARAMS,
            "responses": {"200": {"description": "HTML", "content": {"text/html": {}}},
                          "304": {"description": "Not modified"},
                          **_errors(401, 404, 422, 500, 503)}}},
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
                **_errors(400, 401, 404, 413, 422, 500, 503)}}},
        "/infobutton": {"get": {
            "summary": "HL7 Infobutton (URL-based), answered as MedlinePlus Connect",
            "parameters": [
                _query("mainSearchCriteria.v.c", "ICD-10-CM code"),
                _query("mainSearchCriteria.v.cs", "2.16.840.1.113883.6.90 (ICD-10-CM)"),
                _query("mainSearchCriteria.v.dn", "The code's display name"),
                _query("informationRecipient.languageCode.c", "en, es, ..."),
                _query("knowledgeResponseType", "text/xml (Atom) or application/json"),
            ],
            "responses": {"200": {"description": "Atom feed or its JSON form"},
                          **_errors(400, 401, 422)}}},
    }
