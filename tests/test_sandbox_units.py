"""The sandbox, unit by unit: what it serves, what it refuses, and image limits."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from handoutkit.errors import SandboxError
from handoutkit.pdf import sandbox
from handoutkit.pdf.sandbox import Sandbox, check_image, data_uri, media_type


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def box(tmp_path) -> Sandbox:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "a.png").write_bytes(png(3, 2))
    (tmp_path / "lib" / "f.ttf").write_bytes(b"font")
    (tmp_path / "lib" / "name with space.css").write_text("p {}")
    (tmp_path / "outside.txt").write_text("secret")
    return Sandbox([tmp_path / "lib"])


def test_allows_only_inside_the_roots(box, tmp_path):
    assert box.roots == ((tmp_path / "lib").resolve(),)
    assert box.allows(tmp_path / "lib" / "a.png")
    assert box.allows(tmp_path / "lib" / "sub" / ".." / "a.png")
    assert not box.allows(tmp_path / "lib" / ".." / "outside.txt")
    assert not box.allows(tmp_path / "lib2" / "x")
    (tmp_path / "lib" / "link").symlink_to(tmp_path / "outside.txt")
    assert not box.allows(tmp_path / "lib" / "link")  # a link is judged by its target
    assert Sandbox([tmp_path / "lib", tmp_path]).allows(tmp_path / "outside.txt")


def test_reads_files_with_their_media_type(box, tmp_path):
    assert box.read((tmp_path / "lib" / "a.png").as_uri()) == (png(3, 2), "image/png")
    assert box.read((tmp_path / "lib" / "f.ttf").as_uri()) == (b"font", "font/ttf")
    url = (tmp_path / "lib" / "name with space.css").as_uri()
    assert "%20" in url and box.read(url) == (b"p {}", "text/css")


@pytest.mark.parametrize("url, message", [
    ("http://example.org/x.png", "refused to load http://example.org/x.png: only files "
                                 "inside the library may be used"),
    ("https://example.org/x.png", "only files inside the library"),
    ("ftp://example.org/x", "only files inside the library"),
    ("attachment:x", "only files inside the library"),
])
def test_refuses_other_schemes(box, url, message):
    with pytest.raises(SandboxError, match=message):
        box.read(url)


def test_refuses_files_outside_and_names_missing_ones(box, tmp_path):
    outside = (tmp_path / "outside.txt").as_uri()
    with pytest.raises(SandboxError, match=f"refused to load {outside}: it is outside the "
                                           "library"):
        box.read(outside)
    missing = tmp_path / "lib" / "missing.png"
    with pytest.raises(SandboxError, match=f"file not found or unreadable: {missing}$"):
        box.read(missing.as_uri())


def test_data_uris(box):
    assert box.read("data:text/plain,a%20b") == (b"a b", "text/plain")
    assert box.read("data:,x") == (b"x", "text/plain")
    encoded = base64.b64encode(png(2, 2)).decode()
    assert box.read(f"data:image/png;base64,{encoded}") == (png(2, 2), "image/png")
    huge = base64.b64encode(png(6000, 5000)).decode()
    with pytest.raises(SandboxError, match="image in a data: URI is 6000x5000 pixels"):
        box.read(f"data:image/png;base64,{huge}")


def test_image_limits():
    check_image(png(5000, 5000), "image/png", "ok.png")  # exactly the limit: fine
    with pytest.raises(SandboxError, match=r"^image big.png is 5001x5000 pixels, over the "
                                           r"limit of 25,000,000 pixels; make it smaller$"):
        check_image(png(5001, 5000), "image/png", "big.png")
    check_image(b"not an image", "image/svg+xml", "x.svg")  # not raster: not opened
    with pytest.raises(SandboxError, match=r"^image bad.png cannot be read$"):
        check_image(b"not an image", "image/png", "bad.png")
    assert sandbox.MAX_IMAGE_PIXELS == 25_000_000


def test_decompression_bomb(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(SandboxError, match=r"image bomb.png is a decompression bomb \(far over"
                                           r" the limit of 25,000,000 pixels\)"):
        check_image(png(100, 100), "image/png", "bomb.png")


@pytest.mark.parametrize("name, media", [
    ("a.ttf", "font/ttf"), ("A.TTF", "font/ttf"), ("a.otf", "font/otf"), ("a.woff", "font/woff"),
    ("a.woff2", "font/woff2"), ("a.png", "image/png"), ("a.svg", "image/svg+xml"),
    ("a.unknownext", "application/octet-stream")])
def test_media_type(name, media):
    assert media_type(Path(name)) == media


def test_data_uri(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG")
    assert data_uri(path) == "data:image/png;base64," + base64.b64encode(b"\x89PNG").decode()


def test_oversized_picture_file_is_refused_when_read(tmp_path):
    """The pixel limit applies to files the renderer reads, not only to data: URIs."""
    (tmp_path / "huge.png").write_bytes(png(6000, 5000))
    with pytest.raises(SandboxError, match=f"image {tmp_path / 'huge.png'} is 6000x5000 "
                                           "pixels"):
        Sandbox([tmp_path]).read((tmp_path / "huge.png").as_uri())
