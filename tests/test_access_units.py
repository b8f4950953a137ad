"""The parts of access.py on their own, on a clock the test moves: the failed-attempt
limit and its Retry-After, sessions that expire and are bounded, and a keys file that
cannot be read (what the log says, and that no key works). Written against the
survivors of the mutation run over access.py (docs/mutation.md)."""

from __future__ import annotations

import logging

import pytest

from handoutkit.serve import access
from handoutkit.serve.access import KeyRing, Limiter, Sessions

KEY = "unit-key-0123456789ab"


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(access.time, "monotonic", lambda: now[0])
    return now


def test_the_limit_is_ten_failures_a_minute(clock):
    limiter = Limiter()
    for _ in range(9):
        limiter.failed("10.0.0.1")
    assert limiter.wait("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    assert limiter.wait("10.0.0.1") == 61  # the window and the second being counted
    assert limiter.wait("10.0.0.2") == 0  # per address
    clock[0] += 60  # a failure exactly a window old no longer counts
    assert limiter.wait("10.0.0.1") == 0
    assert "10.0.0.1" not in limiter._seen  # an address with no recent failure is forgotten


def test_retry_after_counts_from_the_oldest_failure(clock):
    limiter = Limiter(failures=3, window=60)
    for _ in range(3):
        limiter.failed("a")
        clock[0] += 1
    clock[0] += 6.5  # 9.5 s after the first failure
    assert limiter.wait("a") == 51
    clock[0] += 50  # 59.5 s: half a second left, said as one second
    assert limiter.wait("a") == 1


def test_the_limiter_remembers_a_bounded_number_of_addresses(clock):
    limiter = Limiter(failures=1, addresses=2)
    for address in ("a", "b", "c"):
        limiter.failed(address)
    assert limiter.wait("a") == 0  # the oldest address was let go
    assert limiter.wait("b") > 0 and limiter.wait("c") > 0


def test_sessions_expire_and_are_bounded(clock):
    sessions = Sessions(seconds=10, limit=2)
    first, second = sessions.open("k1"), sessions.open("k2")
    assert len(first) >= 40 and first != second
    clock[0] += 5
    third = sessions.open("k3")
    assert sessions.key_of(first) is None  # the oldest session went to make room
    assert sessions.key_of(second) == "k2" and sessions.key_of(third) == "k3"
    clock[0] += 5  # second's last moment
    assert sessions.key_of(second) == "k2"
    clock[0] += 0.001
    assert sessions.key_of(second) is None and len(sessions) == 1
    assert sessions.key_of(third) == "k3"


def test_sessions_take_anything_as_an_id(clock):
    sessions = Sessions()
    sid = sessions.open("k")
    for odd in (None, ["x"], {"a": 1}, 7, "no-such-session"):
        assert sessions.key_of(odd) is None
        sessions.close(odd)  # no error
    sessions.keep_only({"other"})
    assert sessions.key_of(sid) is None and len(sessions) == 0


def test_an_unreadable_keys_file_leaves_no_key_working(tmp_path, caplog):
    keys = tmp_path / "keys"
    keys.write_text(f"{KEY}\nsecond-key-0123456789\n")
    ring = KeyRing([KEY], keys)  # a ring without a service behind it: on_change is a no-op
    caplog.set_level(logging.INFO, logger="handouts.serve")
    ring.reload()
    assert caplog.messages[-1] == f"keys file {keys} read: 2 keys"
    keys.unlink()
    ring.reload()
    assert caplog.messages[-2] == (f"keys file {keys} not usable, no key works until it is "
                                   "fixed: No such file or directory")
    assert ring.keys() == [] and ring.match(KEY) is None
    keys.write_text("short\n")
    ring.reload()
    assert caplog.messages[-2] == (f"keys file {keys} not usable, no key works until it is "
                                   f"fixed: {keys}:1: a key must be at least 16 characters "
                                   "long (this one has 5)")
