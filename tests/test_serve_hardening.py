"""`handouts serve` against an attacker: one numbered case of issue 23 per test (or
group). In process (Starlette's TestClient) with workers that check a job as a real one
does but do not render, except where a real server is the point (slow clients, SIGTERM)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from handoutkit.build import selections_for
from handoutkit.content.library import Library
from handoutkit.document.manifest import build_manifest
from handoutkit.request import SERVICE_LIMITS, BuildRequest, RequestError
from handoutkit.serve import access
from handoutkit.serve.app import create_app
from handoutkit.serve.service import Settings

KEY = "hardening-key-7f3a9c21"
OTHER = "another-key-55d0e8b4aa"


class CheckingPool:
    """Workers that read the job with the one parser and resolve its SPECs, as a worker
    does, and answer a tiny stand-in PDF; `ready` as the real pool's."""

    size = 1

    def __init__(self, library_dir=None, ready=True):
        self.library_dir, self.ready, self.waiting, self.jobs = library_dir, ready, 0, []

    def start(self):
        pass

    def close(self):
        pass

    async def run(self, job):
        self.jobs.append(job)
        try:
            request = BuildRequest.from_mapping(job, limits=SERVICE_LIMITS)
            library = Library(self.library_dir)
            request.check_library(library)
            selections = selections_for(library, list(request.specs), request.lang,
                                        request.bilingual)
        except Exception as exc:  # noqa: BLE001 - the worker's answer, as run_job's
            return {"ok": False, "error": type(exc).__name__, "detail": str(exc),
                    "exit_code": getattr(exc, "exit_code", 1)}
        manifest = build_manifest(selections, layout=request.layout, brand="b",
                                  paper=request.paper, archival=False,
                                  generated=dt.datetime(2026, 1, 1))
        return {"ok": True, "data": b"%PDF-1.7\n%stand-in\n", "manifest": manifest,
                "title": "t"}


def make_client(tmp_path, keys=(KEY, OTHER), pool=None, **settings) -> TestClient:
    keys_file = None
    if keys is not None:
        keys_file = tmp_path / "keys"
        keys_file.write_text("# the keys\n" + "".join(k + "\n" for k in keys))
    app = create_app(Settings(keys=list(keys or []), keys_file=keys_file and str(keys_file),
                              secure_cookie=False, **settings),
                     pool=pool or CheckingPool(settings.get("library_dir")))
    return TestClient(app, headers={"Authorization": f"Bearer {KEY}"} if keys else {})


@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path)


# -- 1. personal details pass the command line's checks ----------------------------------

@pytest.mark.parametrize("patient, detail", [
    ("Ana\u202eDiaz", "the patient holds U+202E RIGHT-TO-LEFT OVERRIDE"),
    ("Ana\u2066Diaz", "the patient holds U+2066 LEFT-TO-RIGHT ISOLATE"),
    ("Ana\u0000Diaz", "the patient holds a control character"),
    ("Ana\u2028Diaz", "the patient holds a control character"),
    ("Ana\ud800Diaz", "the patient holds half of a character"),
])
def test_1_personal_details_are_checked_as_on_the_command_line(client, patient, detail):
    body = json.dumps({"specs": ["ocd"], "personal": {"patient": patient}})
    answer = client.post("/v1/documents", content=body,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"].startswith(detail)
    assert answer.json()["field"] == "patient"
    assert client.app.state.service.pool.jobs == []  # nothing reached a worker


def test_1_every_door_reads_a_request_with_the_same_parser(tmp_path):
    from handoutkit.batch.joblist import parse_row

    row = {"output": "a.pdf", "topics": "ocd", "patient": "Ana\u202eDiaz"}
    with pytest.raises(RequestError, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        parse_row(2, row, tmp_path)
    with pytest.raises(RequestError, match="U\\+202E"):
        BuildRequest.from_mapping({"specs": ["ocd"], "patient": "Ana\u202eDiaz"}, text=True)
    request = BuildRequest.from_mapping({"specs": ["ocd"], "patient": "Ana"})
    assert (request.layout, request.paper, request.format) == ("standard", "letter", "pdf")
    assert BuildRequest.from_mapping(request.as_mapping()) == request


def test_1_the_command_line_refuses_a_bidi_override(tmp_path):
    from click.testing import CliRunner

    from handoutkit.cli import main

    result = CliRunner().invoke(main, ["build", "ocd", "--patient", "Ana\u202eDiaz", "-o",
                                       str(tmp_path / "x.pdf")])
    assert result.exit_code == 2
    assert "the patient holds U+202E RIGHT-TO-LEFT OVERRIDE" in result.output
    assert not (tmp_path / "x.pdf").exists()


# -- 2. client mistakes are 4xx naming the field, never 500 -------------------------------

@pytest.mark.parametrize("body, field", [
    ('{"specs": ["ocd"], "layout": "stan\\ud800dard"}', "layout"),
    ('{"specs": ["ocd"], "lang": "e\\ud800"}', "lang"),
    ('{"specs": ["ocd"], "bilingual": "\\udfff"}', "bilingual"),
    ('{"specs": ["ocd"], "brand": "x\\ud800"}', "brand"),
    ('{"specs": ["ocd"], "paper": ["a4"]}', "paper"),
    ('{"specs": ["ocd"], "paper": {"a": 1}}', "paper"),
    ('{"specs": ["ocd"], "paper": ""}', "paper"),
    ('{"specs": ["ocd"], "personal": {"note": "a\\u2029b"}}', "note"),
    ('{"specs": ["oc\\u0000d"]}', "specs"),
    ('{"specs": "ocd"}', "specs"),
    ('{"specs": ["ocd"], "duplex": "yes"}', "duplex"),
])
def test_2_bad_fields_are_422_naming_the_field(client, body, field):
    answer = client.post("/v1/documents", content=body.encode(),
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == field
    assert client.app.state.service.pool.jobs == []


def test_2_deep_json_is_400(client):
    deep = b"[" * 30000 + b"]" * 30000
    answer = client.post("/v1/documents", content=deep,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"] == "bad_json"
    nested = json.dumps({"specs": ["ocd"], "fhir": {"url": [[[[[[[[["x"]]]]]]]]]}})
    answer = client.post("/v1/documents", content=nested,
                         headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "nested deeper" in answer.json()["detail"]


def test_2_a_worker_survives_any_input(monkeypatch):
    from handoutkit import build
    from handoutkit.serve.jobs import WorkerConfig, run_job

    def broken(*args, **kwargs):
        raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")

    with monkeypatch.context() as patch:  # whatever the engine raises, one line back
        patch.setattr(build, "make", broken)
        reply = run_job(WorkerConfig(None, cache=False), {"specs": ["ocd"]})
    assert reply == {"ok": False, "error": "internal", "exit_code": 3, "hits": 0,
                     "misses": reply["misses"],
                     "detail": "rendering failed (UnicodeEncodeError)"}

    reply = run_job(WorkerConfig(None, cache=False), {"specs": ["ocd"], "layout": "x\ud800"})
    assert reply["ok"] is False and reply["error"] == "RequestError"
    reply = run_job(WorkerConfig(None, cache=False), {"specs": 5})
    assert reply["ok"] is False and "'specs' must be a list" in reply["detail"]


def test_2_query_mistakes_are_4xx(client):
    for path in ("/v1/topics/ocd.pdf?paper=", "/v1/topics/ocd.pdf?layout=%F0%9F%98%80",
                 "/v1/topics/ocd.pdf?lang=e%00", "/v1/topics?lang=%E2%80%AE",
                 "/v1/topics/ocd?lang="):
        answer = client.get(path)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["field"] in ("paper", "layout", "lang")


# -- 3. access that can be taken back --------------------------------------------------------

def sign_in(client, key=KEY):
    client.headers.pop("Authorization", None)
    page = client.get("/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/signin", data={"key": key, "csrf": csrf}, follow_redirects=False)


def test_3_sign_out_ends_the_session_on_the_server(client):
    assert sign_in(client).status_code == 303
    cookie = client.cookies.get("handouts_session")
    assert client.get("/v1/topics/ocd").status_code == 200
    page = client.get("/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    assert client.post("/signout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    client.cookies.set("handouts_session", cookie)  # the old cookie, kept by an attacker
    assert client.get("/v1/topics/ocd").status_code == 401
    assert "Sign in" in client.get("/").text


def test_3_a_removed_key_stops_working_with_its_sessions(tmp_path, monkeypatch):
    monkeypatch.setattr(access, "RELOAD_EVERY", 0.0)
    client = make_client(tmp_path)
    assert sign_in(client, OTHER).status_code == 303
    assert client.get("/v1/topics/ocd").status_code == 200
    service = client.app.state.service
    assert len(service.sessions) == 1
    (tmp_path / "keys").write_text(f"{KEY}\n")  # OTHER removed
    time.sleep(0.01)
    assert client.get("/v1/topics/ocd").status_code == 401  # its session has ended
    assert len(service.sessions) == 0
    other = {"Authorization": f"Bearer {OTHER}"}
    assert client.get("/v1/topics", headers=other).status_code == 401
    assert client.get("/v1/topics", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_3_sighup_reads_the_keys_file_at_once(tmp_path):
    client = make_client(tmp_path)
    service = client.app.state.service
    assert service.keyring.match(OTHER)
    (tmp_path / "keys").write_text(f"{KEY}\n")
    service.keyring.reload_soon()  # what SIGHUP does
    assert service.keyring.match(OTHER) is None and service.keyring.match(KEY) == KEY


def test_3_comments_and_short_keys(tmp_path):
    assert access.parse_keys(f"  # an indented comment\n\t#another\n{KEY}\n\n", "k") == [KEY]
    with pytest.raises(Exception, match="k:2: a key must be at least 16 characters long"):
        access.parse_keys(f"{KEY}\nshort-key\n", "k")
    from click.testing import CliRunner

    from handoutkit.cli import main

    (tmp_path / "keys").write_text("# keys\nshort-key-15char\nshortkey\n")
    result = CliRunner().invoke(main, ["serve", "--api-keys", str(tmp_path / "keys")])
    assert result.exit_code == 1
    assert "keys:3: a key must be at least 16 characters long (this one has 8)" in result.output
    assert "shortkey" not in result.output


def test_3_failed_key_checks_and_sign_ins_are_limited(client):
    answers = [client.get("/v1/topics", headers={"Authorization": f"Bearer wrong-{i:012d}"})
               for i in range(30)]
    statuses = [a.status_code for a in answers]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
    assert int(answers[-1].headers["retry-after"]) >= 1
    # the right key from the same address waits too (no guessing on behind the limit)
    assert client.get("/v1/topics").status_code == 429


def test_3_failed_sign_ins_are_limited(client):
    statuses = [sign_in(client, f"not-the-key-{i:06d}").status_code for i in range(15)]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses


# -- 4. bounded bodies and metric labels ---------------------------------------------------

def test_4_a_big_form_is_413_before_it_is_read(client):
    import asyncio

    read, sent = [], []

    async def receive():  # a client sending 64 KiB chunks without end, no Content-Length
        read.append(1)
        return {"type": "http.request", "body": b"k" * 65536, "more_body": len(read) < 4000}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/signin", "raw_path": b"/signin",
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000),
             "headers": [(b"content-type", b"application/x-www-form-urlencoded")]}
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert len(read) == 1  # stopped at the limit (4 KiB), not after 250 MB
    announced = client.post("/signin", content=b"key=x", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": "263000000"})
    assert announced.status_code == 413


def test_4_made_up_methods_share_one_label(client):
    for i in range(50):
        client.request(f"XMETHOD{i}", "/v1/topics")
    text = client.get("/metrics").text
    assert "XMETHOD" not in text
    assert 'method="other"' in text
    series = [line for line in text.splitlines() if line.startswith("handouts_requests_total")]
    assert len(series) < 10, series


# -- 7. ETags from the cache's digests -------------------------------------------------------

def small_library(root: Path) -> Path:
    """The bundled insomnia topic and a copy of a related topic in a clinic library."""
    bundled = Library().bundled
    (root / "handouts").mkdir(parents=True)
    insomnia = (bundled / "handouts" / "insomnia.en.md").read_text(encoding="utf-8")
    (root / "handouts" / "insomnia.en.md").write_text(insomnia, encoding="utf-8")
    return root


def etag_of(client, path="/v1/topics/insomnia.pdf"):
    answer = client.get(path, headers={"If-None-Match": "*"})
    assert answer.status_code == 304, answer.text
    return answer.headers["etag"]


def test_7_etag_follows_related_topics_pictures_and_brand(tmp_path):
    library = small_library(tmp_path / "lib")
    client = make_client(tmp_path, library_dir=str(library))
    first = etag_of(client)
    assert etag_of(client) == first
    topic = Library(str(library)).topic("insomnia")
    related = topic.related[0]
    source = Library().bundled / "handouts" / f"{related}.en.md"
    text = source.read_text(encoding="utf-8")
    retitled = text.replace("title:", "title: Retitled", 1)
    assert retitled != text
    (library / "handouts" / f"{related}.en.md").write_text(retitled, encoding="utf-8")
    second = etag_of(client)
    assert second != first
    stale = client.get("/v1/topics/insomnia.pdf", headers={"If-None-Match": first})
    assert stale.status_code == 200 and stale.headers["etag"] == second
    # A picture the topic shows, changed in the clinic's library.
    if topic.images:
        from handoutkit.document.articles import picture_path

        picture = picture_path(topic.path, topic.images[0].src, Library(str(library)))
        target = library / picture.relative_to(Library().bundled)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(picture.read_bytes() + b"\n")
        assert etag_of(client) != second
    # The brand (through the layouts' fingerprint).
    third = etag_of(client)
    (library / "layouts").mkdir(exist_ok=True)
    for name in ("brand.toml", "logo.svg"):
        shutil.copy(Library().bundled / "layouts" / name, library / "layouts" / name)
    with (library / "layouts" / "brand.toml").open("a") as handle:
        handle.write("\n# changed\n")
    assert etag_of(client) != third


# -- 8. links from configuration, never the Host header ------------------------------------

INFOBUTTON = "/infobutton?mainSearchCriteria.v.c=F41.1&knowledgeResponseType=application/json"


def test_8_links_never_come_from_the_host_header(tmp_path):
    relative = make_client(tmp_path)
    feed = relative.get(INFOBUTTON, headers={"Host": "evil.example"}).json()["feed"]
    hrefs = [link["href"] for e in feed["entry"] for link in e["link"]]
    assert hrefs and all(h.startswith("/v1/topics/") for h in hrefs)
    assert "evil" not in json.dumps(feed)
    public = make_client(tmp_path, public_url="https://handouts.example.org")
    answer = public.get(INFOBUTTON, headers={"Host": "evil.example"})
    hrefs = [link["href"] for e in answer.json()["feed"]["entry"] for link in e["link"]]
    assert all(h.startswith("https://handouts.example.org/v1/topics/") for h in hrefs)
    assert "evil" not in answer.text
    assert answer.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in relative.get("/healthz").headers


# -- 10. a broken topic file fails only what needs it --------------------------------------

def test_10_a_broken_file_fails_only_the_requests_that_need_it(tmp_path):
    library = small_library(tmp_path / "lib")
    (library / "handouts" / "broken-topic.en.md").write_text("---\ntitle: [unclosed\n---\n")
    client = make_client(tmp_path, library_dir=str(library))
    listing = client.get("/v1/topics")
    assert listing.status_code == 200
    ids = [t["id"] for t in listing.json()["topics"]]
    assert "broken-topic" not in ids and "insomnia" in ids
    assert client.get("/v1/topics", params={"code": "F51"}).status_code == 200
    assert client.get("/v1/topics/ocd").status_code == 200
    needs = client.post("/v1/documents", json={"specs": ["broken-topic"]})
    assert needs.status_code == 422 and "broken-topic.en.md" in needs.json()["detail"]
    assert client.post("/v1/documents", json={"specs": ["ocd"]}).status_code == 200
    ready = client.get("/readyz").json()
    assert any("broken-topic.en.md" in line for line in ready["broken"])


# -- 11. before the workers are warm: 503 at once ------------------------------------------

def test_11_a_request_before_readiness_is_503_at_once(tmp_path):
    client = make_client(tmp_path, pool=CheckingPool(ready=False))
    start = time.monotonic()
    answer = client.post("/v1/documents", json={"specs": ["ocd"]})
    assert answer.status_code == 503 and answer.json()["error"] == "starting"
    assert answer.headers["retry-after"] == "5"
    assert time.monotonic() - start < 2
    assert client.get("/readyz").status_code == 503


def test_6_a_stopping_service_takes_no_new_work(client):
    client.app.state.service.draining = True
    answer = client.post("/v1/documents", json={"specs": ["ocd"]})
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert client.get("/readyz").status_code == 503
    assert client.get("/healthz").status_code == 200


# -- 9. the contract, checked by outside tools ---------------------------------------------

def test_9_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    document = client.get("/v1/openapi.json").json()
    validate(document)
    body = document["components"]["schemas"]["DocumentRequest"]
    assert body["properties"]["specs"]["minItems"] == 1
    assert body["properties"]["layout"]["pattern"]
    assert "401" in document["paths"]["/metrics"]["get"]["responses"]
    pdf = document["paths"]["/v1/topics/{id}.pdf"]["get"]["parameters"]
    assert [p for p in pdf if p["name"] == "id"][0]["required"] is True


# A well-formed request may still name a topic, section, code or language the library does
# not have: 400 (Infobutton) and 422 are answers to valid data too, and 403 to a signature
# no link of the service carries. Everything else is the schemathesis default, with every
# check on.
SCHEMATHESIS = {
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "422", "429"]}},
    "generation": {"mode": "all"},
}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory):
    import schemathesis
    from schemathesis.config import SchemathesisConfig

    from handoutkit.serve.access import Limiter

    client = make_client(tmp_path_factory.mktemp("schemathesis"))
    client.app.state.service.limiter = Limiter(failures=10**9)  # wrong keys on purpose
    return schemathesis.openapi.from_asgi("/v1/openapi.json", client.app,
                                          config=SchemathesisConfig.from_dict(SCHEMATHESIS),
                                          headers=AUTH)


AUTH = {"Authorization": f"Bearer {KEY}"}
EXAMPLES = int(os.environ.get("HANDOUTS_SCHEMATHESIS_EXAMPLES", "15"))  # per operation


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_9_schemathesis_finds_no_failure(api_schema, mode):
    """Every operation, valid and invalid data, every check: 0 failures."""
    import hypothesis
    import hypothesis.errors
    from schemathesis import GenerationMode

    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 9
    failures = []
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

        @hypothesis.given(strategy)
        @hypothesis.settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=list(hypothesis.HealthCheck))
        def check(case):
            case.call_and_validate(headers=AUTH)

        try:
            check()
        except hypothesis.errors.Unsatisfiable:
            assert mode == "negative"  # nothing of this operation can be made invalid
        except Exception as exc:  # noqa: BLE001 - gathered, shown together
            failures.append(f"{operation.label}: {exc}")
    assert failures == []
