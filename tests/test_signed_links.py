"""Links that work from the health record (issue 27): an Infobutton answer's links are
signed and expire, open their handout without a key, and open nothing else.

In process, with workers that check a job but do not render (test_serve_hardening's);
test_signed_links_served.py clicks a link on a real server and reads the PDF."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from test_serve_hardening import make_client

from handoutkit.serve import links
from handoutkit.serve.service import Settings

MESSAGE = ("This link has expired or was changed. Open the handout again from the health "
           "record.")
ASK = {"mainSearchCriteria.v.c": "F41.1",
       "mainSearchCriteria.v.cs": "2.16.840.1.113883.6.90",
       "mainSearchCriteria.v.dn": "Generalized anxiety disorder",
       "informationRecipient.languageCode.c": "es",
       "knowledgeResponseType": "application/json"}
# What a health record may add about the patient: none of it may reach a link.
PATIENT = {"patientPerson.administrativeGenderCode.c": "F", "age.v.v": "47",
           "age.v.u": "a", "encounter.c.c": "AMB", "performer": "PROV",
           "taskContext.c.c": "PROBLISTREV"}


def feed_links(answer) -> list[str]:
    return [link["href"] for entry in answer.json()["feed"]["entry"]
            for link in entry["link"]]


def split(href: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(href)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def url(path: str, params) -> str:
    return f"{path}?{urlencode(params)}"


# -- in process: what a link says, and what a changed one gets ------------------------------

@pytest.fixture
def client(tmp_path):
    return make_client(tmp_path)


def signed_pdf(client, **extra) -> str:
    answer = client.get("/infobutton", params=dict(ASK, **extra))
    assert answer.status_code == 200, answer.text
    return feed_links(answer)[0]


def test_links_say_only_which_handout(client):
    answer = client.get("/infobutton", params=dict(ASK, **PATIENT))
    hrefs = feed_links(answer)
    assert hrefs
    for href in hrefs:
        path, query = split(href)
        assert path.startswith("/v1/topics/")
        assert {name for name, _ in query} <= {*links.LINK_PARAMS, "expires", "sig"}
        for value in PATIENT.values():
            assert value not in {v for name, v in query if name not in ("expires", "sig")}
        assert "patient" not in href.lower() and "age" not in href.lower()
        # What the OpenAPI document says a signature is: 43 URL-safe characters.
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", dict(query)["sig"])


def test_a_signer_refuses_to_put_anything_else_in_a_link():
    signer = links.LinkSigner(b"s" * 32, 60)
    with pytest.raises(ValueError, match="cannot carry patient"):
        signer.sign("/v1/topics/ocd.pdf", {"patient": "Ana"})
    with pytest.raises(ValueError, match="only topic documents"):
        signer.sign("/v1/documents", {})


def test_the_signer_needs_a_secret_of_16_bytes():
    with pytest.raises(ValueError, match="at least 16 bytes"):
        links.LinkSigner(b"s" * 15, 60)
    links.LinkSigner(b"s" * 16, 60)


def test_a_signed_expiry_that_is_no_number_is_refused():
    """Only the service can sign one; it is refused, not an error."""
    signer = links.LinkSigner(b"s" * 32, 60)
    for expires in ("12.5", "\u0661\u0662", ""):
        pairs = [("lang", "es"), ("expires", expires)]
        pairs.append(("sig", signer._mac(links.canonical("/v1/topics/ocd.pdf", pairs))))
        with pytest.raises(links.LinkRefused):
            signer.check("/v1/topics/ocd.pdf", pairs)


def without_key(client):
    client.headers.pop("Authorization", None)
    return client


def changed(href: str, name: str, value: str | None) -> str:
    """The link with one parameter replaced (None: removed), or added at the end."""
    path, query = split(href)
    if name not in dict(query):
        return url(path, [*query, (name, value)])
    return url(path, [(k, value if k == name else v) for k, v in query
                      if not (k == name and value is None)])


def flip(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


@pytest.mark.parametrize("tamper", [
    "topic", "format", "lang", "lang removed", "layout added", "expires later",
    "expires earlier", "expires removed", "sig changed", "sig removed", "sig twice",
    "sig of another link", "expires not a number", "lang renamed",
])
def test_a_changed_link_is_403_with_the_message(client, tamper):
    href = signed_pdf(client)
    path, query = split(href)
    params = dict(query)
    other = signed_pdf(client, **{"mainSearchCriteria.v.c": "F51.01"})
    bad = {
        "topic": url(path.replace("generalized-anxiety", "ocd"), query),
        "format": url(path.replace(".pdf", ".html"), query),
        "lang": changed(href, "lang", "en"),
        "lang removed": changed(href, "lang", None),
        "layout added": changed(href, "layout", "large-print"),
        "expires later": changed(href, "expires", str(int(params["expires"]) + 86400)),
        "expires earlier": changed(href, "expires", str(int(params["expires"]) - 1)),
        "expires removed": changed(href, "expires", None),
        "sig changed": changed(href, "sig", flip(params["sig"])),
        "sig removed": changed(href, "sig", None),
        "sig twice": url(path, [*query, ("sig", params["sig"])]),
        "sig of another link": changed(href, "sig", dict(split(other)[1])["sig"]),
        "expires not a number": changed(href, "expires", params["expires"] + ".0"),
        "lang renamed": url(path, [("brand" if k == "lang" else k, v) for k, v in query]),
    }[tamper]
    assert bad != href
    client = without_key(client)
    assert client.get(href).status_code == 200  # the link as given opens
    answer = client.get(bad)
    assert answer.status_code == 403, (tamper, answer.text)
    assert answer.json()["detail"] == MESSAGE and answer.json()["error"] == "link_refused"
    # A browser gets a page saying so, not JSON.
    page = client.get(bad, headers={"Accept": "text/html,application/xhtml+xml,*/*"})
    assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
    assert MESSAGE in page.text


def test_a_changed_link_stays_refused_with_a_key(client):
    href = signed_pdf(client)
    answer = client.get(changed(href, "lang", "en"))  # the client still sends KEY
    assert answer.status_code == 403


def test_an_expired_link_is_403(client):
    href = signed_pdf(client)
    expires = int(dict(split(href)[1])["expires"])
    signer = client.app.state.service.links
    client = without_key(client)
    signer.clock = lambda: expires - 1
    assert client.get(href).status_code == 200
    signer.clock = lambda: expires
    answer = client.get(href)
    assert answer.status_code == 403 and answer.json()["detail"] == MESSAGE


def test_the_lifetime_setting_is_honoured(tmp_path):
    client = make_client(tmp_path, link_lifetime=5)
    before = time.time()
    expires = int(dict(split(signed_pdf(client))[1])["expires"])
    assert before + 4 <= expires <= time.time() + 5


@pytest.mark.parametrize("path", ["/v1/topics/generalized-anxiety", "/v1/topics",
                                  "/v1/openapi.json", "/metrics", "/infobutton",
                                  "/v1/topics/ocd.pdf"])
def test_a_signature_opens_nothing_else(client, path):
    _, query = split(signed_pdf(client))
    client = without_key(client)
    answer = client.get(url(path, query))
    assert answer.status_code in (401, 403, 422), (path, answer.status_code)
    assert client.post(url("/v1/documents", query),
                       json={"specs": ["generalized-anxiety"]}).status_code in (401, 422)


def test_a_link_signed_elsewhere_does_not_open(tmp_path):
    """Replicas with one session secret (or one link secret file) share links; another
    secret's links are refused."""
    first = make_client(tmp_path, session_secret="s" * 64)
    href = signed_pdf(first)
    replica = without_key(make_client(tmp_path, session_secret="s" * 64))
    assert replica.get(href).status_code == 200
    other = without_key(make_client(tmp_path, session_secret="t" * 64))
    assert other.get(href).status_code == 403
    filed = without_key(make_client(tmp_path, session_secret="s" * 64,
                                    link_secret=b"f" * 32))
    assert filed.get(href).status_code == 403


@pytest.mark.parametrize("text, seconds", [("1", 1), ("90", 90), ("90s", 90), ("30m", 1800),
                                           ("24h", 86400), ("7D", 604800), ("30d", 2592000)])
def test_lifetimes(text, seconds):
    assert links.parse_lifetime(text) == seconds


@pytest.mark.parametrize("text, why", [
    ("0", "is not between 1 second and 30 days"), ("31d", "is not between 1 second and 30 days"),
    ("2592001", "is not between 1 second and 30 days"),
    ("1.5h", "is not a duration: give seconds, or a number with s, m, h or d (like 24h)"),
    ("h", "is not a duration"), ("-5", "is not a duration"), ("24 hours", "is not a duration"),
])
def test_bad_lifetime_is_refused_by_the_command_line(run_serve, text, why):
    result = run_serve("--link-lifetime", text)
    assert result.exit_code == 2
    assert "Invalid value for --link-lifetime" in result.output
    assert f"'{text}' {why}" in " ".join(result.output.split())


def test_a_short_link_secret_file_is_refused(run_serve, tmp_path):
    secret = tmp_path / "link.secret"
    secret.write_text("too-short\n")
    result = run_serve("--link-secret-file", str(secret))
    assert result.exit_code == 1
    assert "must hold at least 32 characters (it has 9)" in result.output
    assert "too-short" not in result.output
    secret.write_text("s" * 31 + "\n")
    assert "(it has 31)" in run_serve("--link-secret-file", str(secret)).output
    secret.write_text("s" * 32 + "\n")
    assert run_serve("--link-secret-file", str(secret)).exit_code == 0
    missing = run_serve("--link-secret-file", str(tmp_path / "nothing"))
    assert missing.exit_code == 1
    assert (f"cannot read the link secret file {tmp_path / 'nothing'}: No such file or "
            "directory") in missing.output


def test_the_derived_secret_is_not_the_session_secret():
    derived = links.link_secret(None, "s" * 64)
    assert derived == links.link_secret(None, "s" * 64) and len(derived) == 32
    assert derived != ("s" * 64).encode() and derived != links.link_secret(None, "t" * 64)
    assert links.link_secret(b"f" * 32, "s" * 64) == b"f" * 32


def test_the_default_lifetime_is_a_day():
    assert Settings().link_lifetime == 24 * 3600


@pytest.fixture
def run_serve(monkeypatch):
    """`handouts serve ARGS` up to the point it would start listening."""
    from click.testing import CliRunner

    from handoutkit.cli import main
    from handoutkit.serve import app

    started = []
    monkeypatch.setattr(app, "run", started.append)

    def invoke(*args):
        return CliRunner().invoke(main, ["serve", *args])

    return invoke
