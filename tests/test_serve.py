"""`handouts serve`: the real server on a free port, driven over HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qsl, urlsplit
from xml.etree import ElementTree as ET

import pytest
from pypdf import PdfReader
from servers import KEY, start_server

from handoutkit.content.library import Library
from handoutkit.document.manifest import NAME

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

PATIENT = "Zyxwa Quorrelin"  # a name that appears nowhere else
NOTE = "Walk to Brennistow pier daily"
PACKET = ["psychotherapy", "insomnia:what-is", "ocd"]
ALL_TOPICS = ["coping-with-stress", "depression-adults", "eating-disorders",
              "generalized-anxiety", "insomnia", "my-safety-plan", "ocd", "panic-disorder",
              "psychotherapy", "ptsd", "social-anxiety", "substance-use", "suicide-prevention"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Two warm workers, API keys required."""
    srv = start_server(tmp_path_factory.mktemp("serve"), "--workers", "2", key=KEY)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """One worker, a queue of one, no cache, a 1 s render timeout; localhost, no keys."""
    srv = start_server(tmp_path_factory.mktemp("small"), "--workers", "1", "--queue", "1",
                       "--no-cache", "--timeout", "1")
    yield srv
    srv.stop()


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def embedded_manifest(data: bytes) -> bytes:
    return PdfReader(io.BytesIO(data)).attachments[NAME][0]


# -- probes, keys ------------------------------------------------------------------------

def test_health_and_readiness_need_no_key(server):
    with server.client(key=None) as anonymous:
        assert anonymous.get("/healthz").json()["status"] == "ok"
        ready = anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready", "workers": 2}
        assert len(server.worker_pids()) == 2


@pytest.mark.parametrize("path", ["/v1/topics", "/v1/topics/psychotherapy",
                                  "/v1/topics/psychotherapy.pdf", "/v1/openapi.json",
                                  "/metrics", "/infobutton?mainSearchCriteria.v.c=F41.1"])
def test_everything_else_needs_a_key(server, path):
    for headers in ({}, {"Authorization": "Bearer wrong-key"}, {"Authorization": KEY}):
        with server.client(key=None) as client:
            answer = client.get(path, headers=headers)
        assert answer.status_code == 401, (path, headers)
        assert answer.json()["error"] == "unauthorized"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    with server.client(key="second-key-0000-abcd") as client:  # any key of the file
        assert client.get(path).status_code == 200


def test_post_needs_a_key(server):
    with server.client(key=None) as client:
        assert client.post("/v1/documents", json={"specs": ["ocd"]}).status_code == 401


def test_refuses_other_hosts_without_keys(tmp_path):
    result = subprocess.run([sys.executable, "-m", "handoutkit", "serve", "--host", "0.0.0.0"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env={k: v for k, v in os.environ.items()
                                 if k != "HANDOUTS_API_KEYS"})
    assert result.returncode == 1
    assert result.stderr.startswith("Error: refusing to listen on 0.0.0.0 without API keys")
    assert "Traceback" not in result.stderr


def test_localhost_without_keys_is_open(small):
    with small.client(key=None) as client:
        assert client.get("/v1/topics").status_code == 200


# -- topics ------------------------------------------------------------------------------

def test_topics_list_by_language_and_code(api):
    every = api.get("/v1/topics").json()["topics"]
    assert [t["id"] for t in every] == ALL_TOPICS
    spanish = api.get("/v1/topics", params={"lang": "es"}).json()["topics"]
    assert [t["id"] for t in spanish] == ["depression-adults", "generalized-anxiety",
                                          "my-safety-plan", "psychotherapy",
                                          "suicide-prevention"]
    assert all(t["lang"] == "es" for t in spanish)
    coded = api.get("/v1/topics", params={"code": "f411"}).json()["topics"]
    assert coded[0]["id"] == "generalized-anxiety" and coded[0]["match"] == "exact"
    bad = api.get("/v1/topics", params={"code": "hello"})
    assert bad.status_code == 422
    assert bad.json()["detail"] == "'hello' is not an ICD-10-CM code (like F41.1)"


def test_topic_details(api):
    topic = api.get("/v1/topics/psychotherapy").json()
    # English first, then every other language the library has the topic in.
    langs = sorted(f.lang for f in Library().files() if f.id == "psychotherapy")
    assert topic["languages"][0] == "en" and sorted(topic["languages"]) == langs
    assert {"en", "es", "vi", "ar"} <= set(topic["languages"])
    assert set(topic["versions"]) == set(langs)
    ids = [s["id"] for s in topic["sections"]]
    assert "what-is" in ids and any(s["required"] for s in topic["sections"])
    spanish = api.get("/v1/topics/psychotherapy", params={"lang": "es"}).json()
    assert spanish["lang"] == "es" and spanish["title"] != topic["title"]


def test_unknown_topic_is_404_with_the_cli_message(api):
    for path in ("/v1/topics/psychotherap", "/v1/topics/psychotherap.pdf"):
        answer = api.get(path)
        assert answer.status_code == 404
        body = answer.json()
        assert body["error"] == "unknown_topic"
        assert body["detail"] == "unknown topic 'psychotherap'; did you mean psychotherapy?"
        assert body["request_id"] == answer.headers["x-request-id"]


def test_openapi_document(api):
    doc = api.get("/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/topics", "/v1/topics/{id}", "/v1/topics/{id}.pdf", "/v1/documents",
                 "/infobutton", "/healthz", "/readyz", "/metrics"):
        assert path in doc["paths"]
    assert "specs" in doc["components"]["schemas"]["DocumentRequest"]["properties"]


# -- documents ---------------------------------------------------------------------------

def test_personal_packet_pdf(api):
    answer = api.post("/v1/documents", json={
        "specs": PACKET, "paper": "a4", "personal": {"patient": PATIENT, "note": NOTE}})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    # Named from the topics and the day, never from the patient.
    disposition = answer.headers["content-disposition"]
    stem = "_".join(s.split(":")[0] for s in PACKET)
    assert re.fullmatch(r'attachment; filename="' + stem + r'_\d{4}-\d\d-\d\d\.pdf"',
                        disposition), disposition
    assert PATIENT.split()[0] not in disposition
    assert answer.headers["cache-control"] == "no-store"
    text = pdf_text(answer.content)
    assert PATIENT in text and NOTE in text
    assert "Insomnia" in text and "Psychotherapy" in text
    manifest = embedded_manifest(answer.content)
    assert answer.headers["x-handouts-manifest-digest"] == \
        "sha256:" + hashlib.sha256(manifest).hexdigest()
    data = json.loads(manifest)
    assert [t["id"] for t in data["topics"]] == ["psychotherapy", "insomnia", "ocd"]
    assert data["topics"][1]["sections"][0] == "what-is" and data["paper"] == "a4"
    assert PATIENT not in manifest.decode()


def test_fhir_document_reference(api):
    from fhir.resources.documentreference import DocumentReference

    answer = api.post("/v1/documents", headers={"Accept": "application/fhir+json"}, json={
        "specs": ["psychotherapy@es"], "personal": {"patient": PATIENT},
        "fhir": {"patient_ref": "Patient/123", "encounter_ref": "Encounter/456"}})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    resource = answer.json()
    DocumentReference.parse_obj(resource)
    attachment = resource["content"][0]["attachment"]
    pdf = base64.b64decode(attachment["data"])
    assert attachment["language"] == "es" and attachment["size"] == len(pdf)
    assert resource["subject"]["reference"] == "Patient/123"
    assert PATIENT in pdf_text(pdf)
    assert answer.headers["x-handouts-manifest-digest"] == \
        "sha256:" + hashlib.sha256(embedded_manifest(pdf)).hexdigest()


def test_bilingual_document(api):
    answer = api.post("/v1/documents", json={"specs": ["suicide-prevention@ko"],
                                             "bilingual": "en"})
    assert answer.status_code == 200, answer.text
    topic = json.loads(embedded_manifest(answer.content))["topics"][0]
    assert topic["lang"] == "ko" and topic["bilingual"]["lang"] == "en"
    missing = api.post("/v1/documents", json={"specs": ["insomnia"], "bilingual": "ko"})
    assert missing.status_code in (404, 422)
    assert missing.json()["detail"].startswith("--bilingual ko: topic 'insomnia' has no 'ko'")


def test_fhir_needs_a_subject(api):
    answer = api.post("/v1/documents", headers={"Accept": "application/fhir+json"},
                      json={"specs": ["ocd"]})
    assert answer.status_code == 422 and "patient_ref" in answer.json()["detail"]


def test_html_format(api):
    answer = api.post("/v1/documents", json={"specs": ["ocd"], "format": "html",
                                             "layout": "large-print",
                                             "personal": {"patient": PATIENT}})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert PATIENT in answer.text and "<script" not in answer.text
    assert "data:font/" in answer.text or "data:application/font" in answer.text


@pytest.mark.parametrize("body, status, detail", [
    ({"specs": ["Bad Spec!"]}, 422,
     "cannot read 'Bad Spec!': write TOPIC, TOPIC@LANG or TOPIC:SECTION,SECTION "
     "(for example psychotherapy:what-is,types)"),
    ({"specs": ["psychotherapy:nope"]}, 422,
     "topic 'psychotherapy' (en) has no section 'nope'; its sections are: "),
    ({"specs": ["ocd", "ocd"]}, 422, "'ocd': topic 'ocd' (en) is given twice"),
    ({"specs": ["ocd"], "layout": "tiny"}, 422, None),
    ({"specs": ["ocd"], "paper": "a5"}, 422, "'paper' must be one of: letter, a4"),
    ({"specs": ["ocd"], "colour": "red"}, 422, "unknown field 'colour'"),
    ({"specs": ["ocd"], "brand": "nope"}, 422, "unknown brand 'nope'"),
    ({"specs": []}, 422, "'specs' must be a list"),
    ({"specs": ["ocd"] * 21}, 422, "too many SPECs: 21 (at most 20)"),
    ({"specs": ["ocd"], "personal": {"patient": "x" * 201}}, 422,
     "the patient is 201 characters long (at most 200)"),
    ({"specs": ["ocd"], "personal": {"ssn": "1"}}, 422, "unknown personal field 'ssn'"),
])
def test_bad_documents(api, body, status, detail):
    answer = api.post("/v1/documents", json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert set(error) <= {"error", "detail", "request_id", "field"}
    if detail:
        assert error["detail"].startswith(detail)


def test_body_limits(api):
    answer = api.post("/v1/documents", content=b'{"specs": ["ocd"], "x": "' + b"a" * 70000
                      + b'"}', headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"
    broken = api.post("/v1/documents", content=b"{not json",
                      headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"] == "bad_json"


def test_topic_pdf_etag(api):
    first = api.get("/v1/topics/insomnia.pdf")
    assert first.status_code == 200 and first.headers["content-type"] == "application/pdf"
    etag = first.headers["etag"]
    assert "Insomnia" in pdf_text(first.content)
    assert json.loads(embedded_manifest(first.content))["topics"][0]["id"] == "insomnia"
    again = api.get("/v1/topics/insomnia.pdf", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    spanish = api.get("/v1/topics/psychotherapy.pdf", params={"lang": "es"})
    assert spanish.headers["etag"] != etag
    a4 = api.get("/v1/topics/insomnia.pdf", params={"paper": "a4"},
                 headers={"If-None-Match": etag})
    assert a4.status_code == 200 and a4.headers["etag"] != etag
    html = api.get("/v1/topics/insomnia.html")
    assert html.status_code == 200 and html.headers["etag"] not in (etag, a4.headers["etag"])
    assert "Insomnia" in html.text


# -- Infobutton ----------------------------------------------------------------------------

INFOBUTTON = {"mainSearchCriteria.v.c": "F41.1",
              "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90",
              "mainSearchCriteria.v.dn": "Generalized anxiety disorder",
              "informationRecipient.languageCode.c": "es",
              "knowledgeResponseType": "application/json"}


def test_infobutton_json_has_medlineplus_connects_shape(api, server):
    answer = api.get("/infobutton", params=INFOBUTTON)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    feed = answer.json()["feed"]
    # The shape MedlinePlus Connect documents: Atom elements, text under "_value".
    # Links are relative without --public-url: never made from the request's Host header.
    assert feed["lang"] == "es" and feed["base"] == "/"
    for name in ("title", "subtitle", "updated", "id"):
        assert isinstance(feed[name]["_value"], str)
    assert "_value" in feed["author"]["name"] and "_value" in feed["author"]["uri"]
    categories = {c["scheme"]: c["term"] for c in feed["category"]}
    assert categories["mainSearchCriteria.v.c"] == "F41.1"
    assert categories["mainSearchCriteria.v.cs"] == "2.16.840.1.113883.6.90"
    entry = feed["entry"][0]
    assert set(entry) == {"lang", "title", "link", "id", "updated", "summary"}
    assert entry["lang"] == "es" and entry["title"]["type"] == "text"
    assert entry["summary"]["type"] == "html" and entry["summary"]["_value"].startswith("<p>")
    spanish = api.get("/v1/topics/generalized-anxiety", params={"lang": "es"}).json()
    assert entry["title"]["_value"] == spanish["title"]
    links = {link["type"]: link["href"] for link in entry["link"]}
    assert all(link["rel"] == "alternate" for link in entry["link"])
    pdf = api.get(links["application/pdf"])
    assert pdf.status_code == 200 and spanish["title"] in pdf_text(pdf.content)
    assert api.get(links["html"]).status_code == 200


@pytest.mark.parametrize("asked, lang", [("zh-TW", "zh-Hant"), ("zh-Hant", "zh-Hant"),
                                         ("zh-CN", "zh-Hans"), ("zho", "zh-Hans")])
def test_infobutton_languages_with_scripts(api, asked, lang):
    answer = api.get("/infobutton", params={"mainSearchCriteria.v.c": "R45.851",
                                            "informationRecipient.languageCode.c": asked,
                                            "knowledgeResponseType": "application/json"})
    assert answer.status_code == 200, answer.text
    feed = answer.json()["feed"]
    assert feed["lang"] == lang and feed["entry"][0]["lang"] == lang
    links = {link["type"]: link["href"] for link in feed["entry"][0]["link"]}
    pdf = urlsplit(links["application/pdf"])
    assert pdf.path.endswith("/v1/topics/suicide-prevention.pdf")
    assert dict(parse_qsl(pdf.query))["lang"] == lang


def test_infobutton_atom(api):
    answer = api.get("/infobutton", params=dict(INFOBUTTON, knowledgeResponseType="text/xml",
                                                **{"informationRecipient.languageCode.c":
                                                   "en"}))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.fromstring(answer.content)
    assert feed.tag == atom + "feed"
    assert feed.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    for name in ("title", "subtitle", "updated", "id", "author/" + atom + "name"):
        assert feed.find(atom + name) is not None, name
    schemes = {c.get("scheme"): c.get("term") for c in feed.findall(atom + "category")}
    assert schemes["mainSearchCriteria.v.c"] == "F41.1"
    entries = feed.findall(atom + "entry")
    assert entries[0].find(atom + "title").text == "Generalized Anxiety Disorder"
    assert entries[0].find(atom + "summary").get("type") == "html"
    hrefs = [link.get("href") for link in entries[0].findall(atom + "link")]
    assert urlsplit(hrefs[0]).path.endswith("/v1/topics/generalized-anxiety.pdf")
    assert "lang" not in dict(parse_qsl(urlsplit(hrefs[0]).query))  # English: no lang
    # The default response type is Atom, as MedlinePlus Connect's.
    params = {k: v for k, v in INFOBUTTON.items() if k != "knowledgeResponseType"}
    assert api.get("/infobutton", params=params).headers["content-type"].startswith("text/xml")


@pytest.mark.parametrize("params, detail", [
    ({"mainSearchCriteria.v.c": "F41.1", "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.103"},
     "code system '2.16.840.1.113883.6.103' is not supported; use ICD-10-CM "
     "(2.16.840.1.113883.6.90)"),
    ({}, "mainSearchCriteria.v.c is required"),
    ({"mainSearchCriteria.v.c": "F41.1", "informationRecipient.languageCode.c": "zz"},
     "language 'zz' is not in the library (languages: am, ar, bn, de, en, es, fa, fr, hi, "
     "ht, it, ja, ko, pa, pl, pt, ru, so, tl, ur, vi, zh-Hans, zh-Hant)"),
    ({"mainSearchCriteria.v.c": "F41.1", "knowledgeResponseType": "text/html"},
     "knowledgeResponseType 'text/html' is not supported"),
])
def test_infobutton_errors(api, params, detail):
    answer = api.get("/infobutton", params=params)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith(detail)


def test_infobutton_without_matches_is_an_empty_feed(api):
    answer = api.get("/infobutton", params={"mainSearchCriteria.v.c": "J45.909",
                                            "knowledgeResponseType": "application/json"})
    assert answer.status_code == 200 and answer.json()["feed"]["entry"] == []


# -- metrics, logs, privacy ------------------------------------------------------------

def test_metrics(api):
    api.get("/v1/topics")
    api.get("/v1/topics/nope")
    api.post("/v1/documents", json={"specs": PACKET, "personal": {"patient": PATIENT}})
    text = api.get("/metrics").text
    assert 'handouts_requests_total{method="GET",route="/v1/topics",status="200"}' in text
    assert 'handouts_requests_total{method="GET",route="/v1/topics/{id}",status="404"}' in text
    assert 'handouts_request_duration_seconds_bucket{le="0.25",route="/v1/documents"}' in text
    for name in ("handouts_cache_hits_total", "handouts_cache_misses_total",
                 "handouts_queue_depth", "handouts_worker_restarts_total"):
        assert f"\n{name} " in text, name
    hits = float(text.split("\nhandouts_cache_hits_total ")[1].split()[0])
    assert hits > 0
    assert PATIENT not in text and "nope" not in text


def test_no_patient_details_in_logs_or_cache(api, server):
    api.post("/v1/documents", json={"specs": PACKET, "personal": {"patient": PATIENT,
                                                                  "note": NOTE}})
    api.post("/v1/documents", json={"specs": ["ocd"], "personal": {"patient": PATIENT}})
    api.post("/v1/documents", json={"specs": ["nope"], "personal": {"patient": PATIENT}})
    log = server.log_text()
    assert "POST /v1/documents 200" in log and "id=" in log
    for secret in (PATIENT, NOTE, "Zyxwa", "Brennistow"):
        assert secret not in log
    entries = list(server.cache.rglob("*.entry"))
    assert entries
    for entry in entries:
        payload = entry.read_bytes()[32:]
        text = pdf_text(payload) if payload.startswith(b"%PDF") else payload.decode("utf-8",
                                                                                  "replace")
        assert "Zyxwa" not in text and "Brennistow" not in text, entry


# -- limits and workers (one worker, a queue of one, 1 s timeout) -------------------------

# A job a worker answers at once (an engine error), whatever the machine's load.
QUICK = {"specs": ["insomnia"], "bilingual": "ko"}


def big_packet(client, results, index):
    try:
        results[index] = client.post("/v1/documents", json={"specs": ALL_TOPICS})
    except Exception as exc:  # noqa: BLE001 (reported by the test)
        results[index] = exc


def test_full_queue_answers_503(small):
    results = [None] * 4
    with small.client() as client:
        threads = [threading.Thread(target=big_packet, args=(client, results, i))
                   for i in range(4)]
        for thread in threads:
            thread.start()
            time.sleep(0.05)
        for thread in threads:
            thread.join()
    statuses = [r.status_code for r in results]
    busy = [r for r in results if r.status_code == 503]
    assert len(busy) >= 2, statuses
    assert all(r.headers["retry-after"] == "1" and r.json()["error"] == "busy" for r in busy)


def test_slow_render_is_stopped_and_the_worker_replaced(small):
    with small.client() as client:
        before = small.worker_pids()
        slow = client.post("/v1/documents", json={"specs": ALL_TOPICS})
        assert slow.status_code == 500
        body = slow.json()
        assert body["error"] == "worker_failed"
        assert body["detail"].startswith("rendering took longer than 1 s")
        assert body["request_id"] == slow.headers["x-request-id"]
        assert f"worker_failed id={body['request_id']}: rendering took" in small.log_text()
        # The new worker answers (a worker's own quick answer: HTML previews are laid out
        # now, which can take over 1 s on a loaded machine).
        quick = client.post("/v1/documents", json=QUICK)
        assert quick.status_code == 404, quick.text
        assert quick.json()["detail"].startswith("--bilingual ko: topic 'insomnia' has no")
        assert small.worker_pids() != before


def test_killed_worker(small):
    with small.client() as client:
        restarts = _restarts(client)
        results = [None, None]
        crashing = threading.Thread(target=big_packet, args=(client, results, 0))
        crashing.start()
        time.sleep(0.3)  # the worker is rendering the big packet

        def queued():
            results[1] = client.post("/v1/documents", json=QUICK)

        waiting = threading.Thread(target=queued)
        waiting.start()
        time.sleep(0.1)
        (pid,) = small.worker_pids()
        os.kill(pid, signal.SIGKILL)
        crashing.join()
        waiting.join()
        assert results[0].status_code == 500
        assert results[0].json()["detail"].startswith("the render worker stopped")
        assert results[1].status_code == 404  # the request behind it is answered by a
        assert "has no 'ko'" in results[1].json()["detail"]  # worker, not lost
        assert _restarts(client) == restarts + 1
        assert small.worker_pids() and small.worker_pids() != [pid]


def _restarts(client) -> float:
    text = client.get("/metrics").text
    return float(text.split("\nhandouts_worker_restarts_total ")[1].split()[0])
