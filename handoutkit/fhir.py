"""A FHIR R4 DocumentReference for a PDF, to attach it to an encounter in an EHR."""

from __future__ import annotations

import base64
import hashlib
import json

LOINC = "http://loinc.org"
CATEGORY_SYSTEM = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"


def document_reference(pdf: bytes, manifest: dict, *, title: str, patient_ref: str,
                       encounter_ref: str | None = None, author_ref: str | None = None,
                       url: str | None = None) -> dict:
    """The DocumentReference: the PDF inline as base64 `data`, or by `url`. A packet's
    attachment is titled by its topics ("Psychotherapy; Insomnia"), as an EHR's list of
    documents shows it, not by the packet's printed title."""
    generated = manifest["generated"]
    if len(manifest["topics"]) > 1:
        title = "; ".join(t["title"] for t in manifest["topics"])
    topics = "; ".join(f"{t['title']} ({t['id']} {t['version']}, {t['lang']})"
                       for t in manifest["topics"])
    attachment = {
        "contentType": "application/pdf",
        "language": manifest["topics"][0]["lang"],
        "title": title,
        "creation": generated,
        "size": len(pdf),
        # FHIR defines the hash as the base64 of the SHA-1 of the data.
        "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),
    }
    if url:
        attachment["url"] = url
    else:
        attachment["data"] = base64.b64encode(pdf).decode("ascii")
    resource = {
        "resourceType": "DocumentReference",
        "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": LOINC, "code": "69730-0", "display": "Instructions"}],
                 "text": "Patient education"},
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "clinical-note",
                                  "display": "Clinical Note"}]}],
        "subject": {"reference": patient_ref},
        "date": generated,
        "description": f"Patient education: {topics}",
        "content": [{"attachment": attachment}],
    }
    if author_ref:
        resource["author"] = [{"reference": author_ref}]
    if encounter_ref:
        resource["context"] = {"encounter": [{"reference": encounter_ref}]}
    return resource


def dumps(resource: dict) -> bytes:
    """The resource as UTF-8 JSON, indented."""
    return json.dumps(resource, indent=2, ensure_ascii=False).encode("utf-8")
