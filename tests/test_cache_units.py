"""The cache, unit by unit: keys, signatures, misses, damage, atomic entries, folders."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from handoutkit import cache as cache_module
from handoutkit.cache import Cache, CacheStats, default_dir, key_file, load_secret, make_key


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(tmp_path / "c", secret=tmp_path / "keys" / "cache.key")


def test_key_is_stable_and_depends_on_every_part_and_the_version(monkeypatch):
    key = make_key("part", {"b": 1, "a": 2}, [1, 2])
    assert key == make_key("part", {"a": 2, "b": 1}, [1, 2])  # dict order does not matter
    assert len(key) == 64 and int(key, 16) >= 0
    assert make_key("part", {"a": 2, "b": 1}, [2, 1]) != key
    assert make_key("cover", {"a": 2, "b": 1}, [1, 2]) != key
    monkeypatch.setattr(cache_module, "__version__", "99.0")
    assert make_key("part", {"b": 1, "a": 2}, [1, 2]) != key


def test_folders_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HANDOUTS_CACHE_DIR", str(tmp_path / "here"))
    monkeypatch.setenv("HANDOUTS_CACHE_KEY_FILE", str(tmp_path / "k" / "key"))
    assert default_dir() == tmp_path / "here" and Cache().folder == tmp_path / "here"
    assert key_file() == tmp_path / "k" / "key"
    monkeypatch.setenv("HANDOUTS_CACHE_DIR", "~/somewhere")
    assert default_dir() == Path.home() / "somewhere"
    monkeypatch.delenv("HANDOUTS_CACHE_DIR")
    monkeypatch.delenv("HANDOUTS_CACHE_KEY_FILE")
    assert default_dir().name == "handouts"
    assert key_file().name == "cache.key" and key_file().parent.name == "handouts"
    assert default_dir() != key_file().parent  # the key is kept outside the cache


def test_round_trip_counts_and_layout(cache, tmp_path):
    key = make_key("x")
    assert cache.get(key) is None
    assert cache.stats == CacheStats(hits=0, misses=1, damaged=0)
    cache.put(key, b"payload")
    path = tmp_path / "c" / key[:2] / f"{key}.entry"
    assert cache.entries() == [path]
    assert len(path.read_bytes()) == 32 + len(b"payload")
    assert cache.get(key) == b"payload"
    assert cache.stats == CacheStats(hits=1, misses=1, damaged=0)
    assert cache.info() == {"folder": str(tmp_path / "c"), "entries": 1,
                            "bytes": 32 + len(b"payload")}
    secret = tmp_path / "keys" / "cache.key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_bytes()) == 32
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "swap"])
def test_damaged_or_moved_entry_is_a_miss_and_removed(cache, damage):
    key, other = make_key("x"), make_key("y")
    cache.put(key, b"payload")
    cache.put(other, b"another")
    path = cache.entries()[[p.stem for p in cache.entries()].index(key)]
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "truncate":
        path.write_bytes(data[:20])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a valid entry moved under another key
        other_path = [p for p in cache.entries() if p.stem == other][0]
        path.write_bytes(other_path.read_bytes())
    assert cache.get(key) is None
    assert cache.stats.damaged == 1 and cache.stats.misses == 1 and cache.stats.hits == 0
    assert not path.exists()
    assert cache.get(other) == b"another"


def test_entry_signed_with_another_secret_is_a_miss(tmp_path):
    first = Cache(tmp_path / "c", secret=tmp_path / "a.key")
    first.put("k" * 64, b"payload")
    second = Cache(tmp_path / "c", secret=tmp_path / "b.key")
    assert second.get("k" * 64) is None and second.stats.damaged == 1


def test_disabled_cache_reads_and_writes_nothing(tmp_path):
    off = Cache(tmp_path / "c", enabled=False, secret=tmp_path / "k")
    off.put("k" * 64, b"payload")
    assert off.get("k" * 64) is None
    assert not (tmp_path / "c").exists() and not (tmp_path / "k").exists()
    assert off.stats == CacheStats()


def test_without_a_secret_the_cache_turns_itself_off(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    broken = Cache(tmp_path / "c", secret=blocker / "cache.key")  # cannot be made
    broken.put("k" * 64, b"payload")
    assert broken.enabled is False and not (tmp_path / "c").exists()
    assert broken.get("k" * 64) is None
    assert load_secret(blocker / "cache.key") is None
    short = tmp_path / "short.key"
    short.write_bytes(b"abc")
    assert load_secret(short) is None
    assert len(load_secret(tmp_path / "new.key")) == 32


def test_get_of_a_present_entry_without_secret_is_a_miss_not_a_hit(tmp_path):
    good = Cache(tmp_path / "c", secret=tmp_path / "a.key")
    good.put("k" * 64, b"payload")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    broken = Cache(tmp_path / "c", secret=blocker / "cache.key")
    assert broken.get("k" * 64) is None and broken.stats.hits == 0
    assert good.entries()  # the entry is not removed by a cache without its secret


def test_unwritable_cache_is_skipped_and_leaves_no_temporary(cache, monkeypatch, tmp_path):
    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    cache.put("k" * 64, b"payload")  # no error
    monkeypatch.undo()
    assert cache.entries() == []
    assert [p for p in (tmp_path / "c").rglob("*") if p.is_file()] == []
    (tmp_path / "c").chmod(0o500)
    try:
        if os.geteuid() != 0:
            cache.put("j" * 64, b"payload")
            assert cache.entries() == []
    finally:
        (tmp_path / "c").chmod(0o700)


def test_clear_removes_every_entry(cache, tmp_path):
    assert Cache(tmp_path / "none").entries() == [] and Cache(tmp_path / "none").clear() == 0
    for word in ("a", "b", "c"):
        cache.put(make_key(word), word.encode())
    assert len(cache.entries()) == 3
    assert cache.clear() == 3
    assert cache.entries() == [] and cache.info()["entries"] == 0 and cache.info()["bytes"] == 0


def test_entries_sharing_a_folder(cache, monkeypatch):
    """Entries are kept in folders named by the key's first two characters; the second
    entry of a folder is written like the first, its temporary file beside it."""
    first, second = "ab" + "1" * 62, "ab" + "2" * 62
    cache.put(first, b"one")
    seen = []
    real = os.replace

    def replace(src, dst):
        seen.append((Path(src).parent == Path(dst).parent, Path(src).name.endswith(".entry")))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    cache.put(second, b"two")
    assert seen == [(True, True)]
    assert cache.get(first) == b"one" and cache.get(second) == b"two"
    assert [p.parent.name for p in cache.entries()] == ["ab", "ab"]


def test_counts_add_up_and_an_empty_payload_is_an_entry(cache):
    for word in ("a", "b"):
        assert cache.get(make_key(word)) is None
    cache.put(make_key("empty"), b"")
    assert cache.get(make_key("empty")) == b""
    assert cache.get(make_key("empty")) == b""
    for path in cache.entries():
        path.write_bytes(b"x" * 40)
    assert cache.get(make_key("empty")) is None
    assert cache.stats == CacheStats(hits=2, misses=3, damaged=1)


def test_key_parts_may_be_paths():
    assert make_key("x", Path("/a")) == make_key("x", "/a")
