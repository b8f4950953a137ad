"""Sandboxing: only files inside the library (and data: URIs) can be loaded."""

import io

import pytest
from conftest import TEST_LIBRARY
from PIL import Image
from pypdf import PdfReader

from handoutkit.build import BuildOptions, build
from handoutkit.content.brand import load_brand
from handoutkit.content.library import Library
from handoutkit.errors import LibraryError, RenderError, SandboxError

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

TOPIC = (TEST_LIBRARY / "handouts" / "hand-washing.en.md").read_text()


def with_image(src: str) -> str:
    return TOPIC.replace("Germs spread", f"![A picture]({src})\n\nGerms spread")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG")
    return buffer.getvalue()


def evil_layout(markup: str) -> str:
    return ('{% extends "standard/layout.html.j2" %}{% block header %}' + markup +
            "{% endblock %}")


@pytest.mark.parametrize("src", ["https://example.org/a.png", "http://127.0.0.1:9/a.png",
                                 "file:///etc/hostname", "//example.org/a.png"])
def test_topic_pictures_from_outside_are_refused(make_library, src):
    root = make_library({"handouts/hand-washing.en.md": with_image(src)})
    with pytest.raises(SandboxError) as info:
        build(Library(root), ["hand-washing"], BuildOptions())
    assert f"refused to load {src}" in str(info.value)
    assert info.value.exit_code == 3


def test_topic_picture_escaping_the_library_is_refused(make_library):
    root = make_library({"handouts/hand-washing.en.md": with_image("../../../../../etc/hostname")})
    with pytest.raises(SandboxError, match="outside the library"):
        build(Library(root), ["hand-washing"], BuildOptions())


def test_topic_picture_inside_the_library_renders(make_library):
    root = make_library({"handouts/hand-washing.en.md": with_image("images/dot.png"),
                         "handouts/images/dot.png": png(40, 40)})
    pdf = PdfReader(io.BytesIO(build(Library(root), ["hand-washing"], BuildOptions())))
    pictures = [image for page in pdf.pages for image in page.images]
    assert pictures and {(p.image.width, p.image.height) for p in pictures} == {(40, 40)}


def test_oversized_picture_is_refused(make_library):
    root = make_library({"handouts/hand-washing.en.md": with_image("images/huge.png"),
                         "handouts/images/huge.png": png(6000, 6000)})
    with pytest.raises(SandboxError, match=r"6000x6000 pixels, over the limit"):
        build(Library(root), ["hand-washing"], BuildOptions())


@pytest.mark.parametrize("markup, named", [
    ('<img src="file:///etc/hostname" alt="">', "file:///etc/hostname"),
    ('<img src="http://127.0.0.1:9/logo.png" alt="">', "http://127.0.0.1:9/logo.png"),
    ('<style>@import url("https://example.org/x.css");</style>', "https://example.org/x.css"),
])
def test_layout_references_outside_the_library_fail_the_build(make_library, markup, named):
    root = make_library({"layouts/evil/layout.html.j2": evil_layout(markup)})
    with pytest.raises(SandboxError) as info:
        build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))
    assert named in str(info.value)


def test_svg_cannot_reach_outside_files(make_library):
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           'width="10" height="10"><image xlink:href="file:///etc/hostname" '
           'width="10" height="10"/></svg>')
    root = make_library({"layouts/evil/layout.html.j2": evil_layout('<img src="pic.svg" alt="">'),
                         "layouts/evil/pic.svg": svg})
    # The layout's relative URL resolves against the clinic library root.
    (root / "pic.svg").write_text(svg)
    with pytest.raises(SandboxError, match="file:///etc/hostname"):
        build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))


def test_attachments_are_refused(make_library):
    root = make_library({
        "layouts/evil/layout.html.j2": evil_layout('<a rel="attachment" href="brand.toml">x</a>'),
    })
    with pytest.raises(SandboxError, match="attachment"):
        build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))


def test_missing_font_in_layout_is_an_error(make_library):
    root = make_library({"layouts/evil/layout.html.j2": evil_layout(
        '<style>@font-face { font-family: X; src: url("nofont.ttf"); } '
        'h1 { font-family: X; }</style>')})
    with pytest.raises(RenderError, match="nofont.ttf"):
        build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))


def test_brand_logo_must_stay_in_the_brand_folder(tmp_path):
    brand = tmp_path / "brand.toml"
    brand.write_text('name = "X"\nlogo = "../../etc/hostname"\n')
    with pytest.raises(LibraryError, match="the logo must be in the brand file's folder"):
        load_brand(brand)


@pytest.mark.parametrize("content, message", [
    ('name = ""', "'name' (the clinic's name) is required"),
    ('name = "X"\ncolor = "red; } body { display: none"', "'color' must be a hex colour"),
    ('name = "X"\nlogo = "missing.png"', "logo not found"),
    ('name = "X"\nslogan = "y"', "unknown field 'slogan'"),
    ('name = X', "not valid TOML"),
])
def test_bad_brand_files(tmp_path, content, message):
    brand = tmp_path / "brand.toml"
    brand.write_text(content)
    with pytest.raises(LibraryError) as info:
        load_brand(brand)
    assert str(info.value).startswith(f"{brand}: ")
    assert message in str(info.value)


def test_font_that_cannot_load_is_an_error_not_a_warning(make_library):
    root = make_library({
        "layouts/evil/layout.html.j2": evil_layout(
            '<style>@font-face { font-family: Broken; src: url("layouts/evil/bad.ttf"); } '
            'h1 { font-family: Broken; }</style>'),
        "layouts/evil/bad.ttf": b"this is not a font",
    })
    with pytest.raises(RenderError, match=r"rendering failed: Font-face .Broken. cannot be loaded"):
        build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))


@pytest.mark.parametrize("css, error, match", [
    ('@font-face { font-family: Broken; src: url("layouts/evil/bad.ttf"); } '
     'h1 { font-family: Broken; }', RenderError, "Font-face .Broken. cannot be loaded"),
    ('@font-face { font-family: Far; src: url("file:///etc/hostname"); } h1 { font-family: Far; }',
     SandboxError, "file:///etc/hostname"),
    ('h1 { background: url("file:///etc/hostname"); }', SandboxError, "file:///etc/hostname"),
])
def test_a_failing_layout_stylesheet_fails_every_build_in_a_process(make_library, css, error,
                                                                    match):
    # The layout's one <style> is parsed once per process and reused: what failed the first
    # build must fail the next one too, not be served from that reuse.
    root = make_library({
        "layouts/evil/layout.html.j2": '{% extends "standard/layout.html.j2" %}'
                                       '{% block style %}{{ super() }}' + css + '{% endblock %}',
        "layouts/evil/bad.ttf": b"this is not a font",
    })
    for _ in range(2):
        with pytest.raises(error, match=match):
            build(Library(root), ["psychotherapy"], BuildOptions(layout="evil"))
