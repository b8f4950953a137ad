"""Negative cases for authentication (issue 28): every near miss of a key is refused, as a
Bearer header on every keyed route and at the staff page's sign-in form, and a key taken
out of the keys file stops working with its sessions.

The rule for white space: a key never begins or ends with white space (the keys file's
lines are stripped), so white space around a key, a copy-paste's, is not part of it and is
ignored in the header and at the form; white space inside a key, or any other difference,
is refused. KeyRing.match itself compares exactly."""

from __future__ import annotations

import time

import pytest
from test_serve_hardening import make_client

from handoutkit.serve import access
from handoutkit.serve.access import KeyRing, Limiter

KEY = "Auth-Key-4a7B9c21-Zeta"  # both cases, digits and an 'a' to be confused
OTHER = "other-key-0e5d3c2b1a"
FULL_WIDTH = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17"
                                         "\uff18\uff19")

NEAR_MISSES = {
    "longer": KEY + KEY[-4:],
    "shorter": KEY[:-1],
    "first half": KEY[:len(KEY) // 2],
    "first sixteen": KEY[:16],
    "prefix added": "x" + KEY,
    "suffix added": KEY + "x",
    "twice": KEY + KEY,
    "case swapped": KEY.swapcase(),
    "upper case": KEY.upper(),
    "lower case": KEY.lower(),
    "one letter's case": KEY[:-1] + KEY[-1].swapcase(),
    "inner space": KEY[:8] + " " + KEY[8:],
    "inner tab": KEY[:8] + "\t" + KEY[8:],
    "inner no-break space": KEY[:8] + "\u00a0" + KEY[8:],
    "inner zero-width space": KEY[:8] + "\u200b" + KEY[8:],
    "cyrillic a": KEY.replace("a", "\u0430"),
    "cyrillic e and o": KEY.replace("e", "\u0435").replace("Z", "\u0417"),
    "full-width digits": KEY.translate(FULL_WIDTH),
    "one full-width digit": KEY.replace("4", "\uff14", 1),
    "last character changed": KEY[:-1] + "b",
    "first character changed": "B" + KEY[1:],
    "the other key's prefix": OTHER[:10] + KEY[10:],
    "empty": "",
}
PADDED = {"leading space": " " + KEY, "trailing space": KEY + " ",
          "both": "  " + KEY + "\t", "trailing newline": KEY + "\n"}
KEYED = [("GET", "/v1/topics"), ("GET", "/v1/topics/ocd"), ("GET", "/v1/topics/ocd.pdf"),
         ("GET", "/v1/topics/ocd.html"), ("GET", "/v1/openapi.json"), ("GET", "/metrics"),
         ("GET", "/infobutton?mainSearchCriteria.v.c=F41.1"), ("POST", "/v1/documents")]


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setattr(access, "RELOAD_EVERY", 0.0)
    client = make_client(tmp_path, keys=(KEY, OTHER))
    client.headers.pop("Authorization", None)
    client.app.state.service.limiter = Limiter(failures=10**9)  # near misses on purpose
    return client


def bearer(key: str) -> dict:
    # Bytes: a header is bytes on the wire; UTF-8 is what a client would send.
    return {"Authorization": b"Bearer " + key.encode("utf-8")}


def call(client, method: str, path: str, headers: dict):
    if method == "POST":
        return client.post(path, json={"specs": ["ocd"]}, headers=headers)
    return client.get(path, headers=headers)


def sign_in(client, key: str):
    page = client.get("/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/signin", data={"key": key, "csrf": csrf}, follow_redirects=False)


def test_the_key_itself_opens_every_route(client):
    for method, path in KEYED:
        assert call(client, method, path, bearer(KEY)).status_code == 200, path
    assert sign_in(client, KEY).status_code == 303


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_a_near_miss_is_refused_by_the_key_check(tmp_path, name):
    ring = KeyRing([KEY, OTHER])
    assert ring.match(NEAR_MISSES[name]) is None
    assert ring.match(KEY) == KEY and ring.match(OTHER) == OTHER


def test_a_lone_surrogate_is_not_the_character_it_replaces():
    """Accepted before: the given key was encoded with errors="replace", so a lone
    surrogate became "?" and matched a key holding "?" in its place."""
    ring = KeyRing(["question?-key-0123456"])
    assert ring.match("question\ud800-key-0123456") is None
    assert ring.match("question?-key-0123456") == "question?-key-0123456"


@pytest.mark.parametrize("name", [*PADDED, "NUL appended", "NUL inside"])
def test_the_key_check_itself_strips_nothing(name):
    given = {**PADDED, "NUL appended": KEY + "\x00", "NUL inside": KEY[:5] + "\x00" + KEY[5:]}
    assert KeyRing([KEY]).match(given[name]) is None


@pytest.mark.parametrize("name", [n for n in NEAR_MISSES if n != "empty"])
def test_a_near_miss_is_refused_as_a_bearer_key(client, name):
    for method, path in KEYED:
        answer = call(client, method, path, bearer(NEAR_MISSES[name]))
        assert answer.status_code == 401, (name, path, answer.status_code)
        assert answer.json()["error"] == "unauthorized"


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Bearer \t ", "Basic " + KEY,
                                    KEY, "Bearer" + KEY, "Token " + KEY, "Bearer: " + KEY])
def test_an_empty_or_misplaced_key_is_refused(client, header):
    for method, path in KEYED:
        answer = call(client, method, path, {"Authorization": header})
        assert answer.status_code == 401, (header, path)


@pytest.mark.parametrize("name", NEAR_MISSES)
def test_a_near_miss_is_refused_at_the_sign_in_form(client, name):
    answer = sign_in(client, NEAR_MISSES[name])
    assert answer.status_code == 401, name
    assert "That key is not right" in answer.text
    assert not client.app.state.service.sessions._live
    assert client.get("/v1/topics").status_code == 401  # no session was opened


@pytest.mark.parametrize("name", PADDED)
def test_white_space_around_a_key_is_not_part_of_it(client, name):
    """The deliberate rule: the form and the header both ignore it (a copy-paste's)."""
    padded = PADDED[name]
    assert sign_in(client, padded).status_code == 303, name
    if "\n" not in padded:  # a header value cannot hold a line break
        client.cookies.clear()
        token = padded.replace(" ", "\t") if name == "both" else padded
        for header in (b"Bearer " + token.encode(), b"Bearer   " + token.encode()):
            assert client.get("/v1/topics", headers={"Authorization": header}
                              ).status_code == 200


def test_a_revoked_key_is_refused_and_its_sessions_end(client, tmp_path):
    service = client.app.state.service
    assert sign_in(client, KEY).status_code == 303
    revoked_cookie = client.cookies.get("handouts_session")
    client.cookies.clear()
    assert sign_in(client, OTHER).status_code == 303
    other_cookie = client.cookies.get("handouts_session")
    assert len(service.sessions) == 2
    (tmp_path / "keys").write_text(f"# {KEY} was here\n{OTHER}\n")  # removed while running
    time.sleep(0.01)
    for method, path in KEYED:
        assert call(client, method, path, bearer(KEY)).status_code == 401, path
        assert call(client, method, path, bearer(OTHER)).status_code == 200, path
    client.cookies.clear()
    client.cookies.set("handouts_session", revoked_cookie)
    assert client.get("/v1/topics").status_code == 401  # its session has ended
    assert "Sign in" in client.get("/").text
    assert len(service.sessions) == 1  # the other key's session only
    client.cookies.clear()
    client.cookies.set("handouts_session", other_cookie)
    assert client.get("/v1/topics").status_code == 200
    client.cookies.clear()
    answer = sign_in(client, KEY)
    assert answer.status_code == 401 and "That key is not right" in answer.text
    # A commented-out line is not a key either.
    assert service.keyring.match(f"# {KEY} was here") is None


def test_near_misses_count_as_failed_attempts(tmp_path):
    client = make_client(tmp_path, keys=(KEY, OTHER))
    client.headers.pop("Authorization", None)
    misses = [k for k in NEAR_MISSES.values() if k][:10]
    for key in misses:
        assert client.get("/v1/topics", headers=bearer(key)).status_code == 401
    assert client.get("/v1/topics", headers=bearer(KEY)).status_code == 429
