"""Rendering: HTML -> tagged PDF with WeasyPrint, sandboxed, with its log turned into errors.

This is the only module that imports WeasyPrint (about half a second): commands that do
not render never import it.
"""

from __future__ import annotations

import atexit
import base64
import datetime as dt
import gc
import logging
import re
from pathlib import Path
from typing import Callable

from ..content import fonts
from ..content.library import bundled_root
from ..errors import HandoutsError, RenderError, SandboxError
from .cidfonts import CJK_RE, shrink_cid_fonts
from .sandbox import Sandbox
from .weasyload import import_weasyprint

# WeasyPrint checks fontconfig as it is imported: let it see the declared fonts already,
# never the computer's (render_pdf activates the fonts of the libraries it renders for).
try:
    fonts.find_fonts([bundled_root()]).activate()
except HandoutsError:
    pass  # reported by the first render, with the font's name and how to install it

import_weasyprint()  # first: it finds the native libraries faster, and tags as PDF/UA asks

from weasyprint import CSS, HTML  # noqa: E402
from weasyprint.css.counters import CounterStyle  # noqa: E402
from weasyprint.text.fonts import FontConfiguration  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

from . import scratch as _scratch  # noqa: E402
from .numberorder import check_number_order  # noqa: E402
from .pagecheck import Promise, verify  # noqa: E402
from .refit import refit  # noqa: E402

ATTACHMENT_RE = re.compile(r"""<(?:link|a)\b[^>]*\brel\s*=\s*["']?[^"'>]*attachment""", re.I)
STYLE_RE = re.compile(r"<style>(.*?)</style>", re.S)
LINKED_CSS_RE = re.compile(r"<link\b[^>]*stylesheet", re.I)
# WeasyPrint log messages that mean the PDF would be wrong, not merely imperfect.
FATAL_LOG_RE = re.compile(r"Failed to load|font|Error", re.I)
# Without libharfbuzz-subset0 WeasyPrint subsets fonts with fontTools (slower, same PDF)
# and says so for every font: one warning for the whole run, not an error.
HARFBUZZ_SUBSET_RE = re.compile(r"instead of HarfBuzz-Subset", re.I)
LOG = logging.getLogger("handoutkit")
_warned: set[str] = set()


def warn_slow_subsetting() -> None:
    """Warn once per run (workers fork after the first check, so they inherit it)."""
    if "harfbuzz" not in _warned:
        _warned.add("harfbuzz")
        LOG.warning("libharfbuzz-subset0 is not installed: fonts are subset with fontTools, "
                    "more slowly (install it with your package manager)")


def _check_harfbuzz_subset() -> None:
    try:
        from weasyprint.text.ffi import harfbuzz_subset
    except ImportError:
        return
    if harfbuzz_subset is None:
        warn_slow_subsetting()
# PDF/A-3a does not declare PDF/UA nor the language in its XMP: add both, with the
# extension schema PDF/A asks for when a namespace (pdfuaid) is not predefined.
PDFUA_XMP = """<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:pdfuaid="http://www.aiim.org/pdfua/ns/id/"><pdfuaid:part>1</pdfuaid:part></rdf:Description>
<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:language><rdf:Bag><rdf:li>{lang}</rdf:li></rdf:Bag></dc:language></rdf:Description>
<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
<pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
<pdfaSchema:schema>PDF/UA identification schema</pdfaSchema:schema>
<pdfaSchema:namespaceURI>http://www.aiim.org/pdfua/ns/id/</pdfaSchema:namespaceURI>
<pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
<pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
<pdfaProperty:name>part</pdfaProperty:name><pdfaProperty:valueType>Integer</pdfaProperty:valueType>
<pdfaProperty:category>internal</pdfaProperty:category>
<pdfaProperty:description>PDF/UA version identifier</pdfaProperty:description>
</rdf:li></rdf:Seq></pdfaSchema:property>
</rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>
</rdf:RDF>"""


class SandboxFetcher(URLFetcher):
    """Serves only what the sandbox allows; remembers what it refused."""

    def __init__(self, sandbox: Sandbox):
        super().__init__(allowed_protocols={"file", "data"})
        self.sandbox = sandbox
        self.refused: list[SandboxError] = []

    def fetch(self, url, headers=None):
        try:
            data, media = self.sandbox.read(url)
        except SandboxError as exc:
            self.refused.append(exc)
            raise
        return URLFetcherResponse(url, body=data, headers={"Content-Type": media})


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


# The layout's stylesheet, parsed once per process with its fonts loaded: parsing it and
# loading four @font-face fonts is half the time of a one-page cover, made per patient.
_STYLESHEETS: dict[tuple, tuple[FontConfiguration, CounterStyle, CSS]] = {}
STYLESHEETS_KEPT = 16


def disown_stylesheets() -> None:
    """In a forked worker: the stylesheets inherited from the parent stay in use (the worker
    starts warm), but their temporary font folders are the parent's, to be removed by the
    parent only. WeasyPrint removes a font configuration's folder when the object goes
    (`FontConfiguration.__del__`), so the worker's copies forget theirs."""
    for font_config, _, _ in _STYLESHEETS.values():
        font_config._folder = None


def release_stylesheets() -> None:
    """Forget the parsed stylesheets: their font configurations then remove WeasyPrint's
    temporary font folders."""
    _STYLESHEETS.clear()
    gc.collect()


atexit.register(release_stylesheets)
# WeasyPrint's temporary font folders go into this process's own folder (scratch.py).
_scratch.claim()
_check_harfbuzz_subset()


def _split_style(html: str) -> tuple[str, str | None]:
    """(HTML without its one <style>, that style), or (html, None) when the document
    links stylesheets or has several styles: those keep WeasyPrint's own handling."""
    styles = STYLE_RE.findall(html)
    if len(styles) != 1 or LINKED_CSS_RE.search(html):
        return html, None
    return STYLE_RE.sub("", html, count=1), styles[0]


def _stylesheet(css: str, base_url: str, fetcher: SandboxFetcher, collect: _Collect):
    key = (css, base_url, fetcher.sandbox.roots)
    cached = _STYLESHEETS.get(key)
    if cached is None:
        font_config, counter_style = FontConfiguration(), CounterStyle()
        sheet = CSS(string=css, base_url=base_url, url_fetcher=fetcher,
                    font_config=font_config, counter_style=counter_style)
        _check(fetcher, collect)  # a stylesheet whose fonts failed is never kept
        if len(_STYLESHEETS) >= STYLESHEETS_KEPT:
            _STYLESHEETS.clear()
        cached = _STYLESHEETS[key] = (font_config, counter_style, sheet)
    return cached


def _check(fetcher: SandboxFetcher, collect: _Collect) -> None:
    """Raise what the sandbox refused, or a WeasyPrint log record that means a wrong PDF."""
    if fetcher.refused:
        raise fetcher.refused[0]
    problems = []
    for record in collect.records:
        message = record.getMessage()
        if HARFBUZZ_SUBSET_RE.search(message):
            warn_slow_subsetting()
        elif FATAL_LOG_RE.search(message):
            problems.append(record)
    if problems:
        raise RenderError(f"rendering failed: {problems[0].getMessage().splitlines()[0]}")


FIELD_MARK = 'class="write-in-field"'


def _pdf_options(lang: str, variant: str | None, manifest: dict | None,
                 forms: bool = False) -> dict:
    """WeasyPrint's options for the PDF: variant, tags, archival XMP, the manifest.
    `forms`: write-in fields become fillable PDF form fields (tagged as Form elements,
    described by their labels); an archival PDF/A keeps them as printed lines only."""
    archival = bool(variant) and variant.startswith("pdf/a")
    options: dict = {"pdf_variant": variant, "pdf_tags": True,
                     "pdf_forms": forms and not archival}
    if variant and variant.startswith("pdf/a"):
        xmp = PDFUA_XMP.format(lang=lang).encode()
        options["xmp_metadata"] = ["data:application/rdf+xml;base64,"
                                   + base64.b64encode(xmp).decode()]
    if manifest is not None:
        from weasyprint import Attachment

        from ..document.manifest import DESCRIPTION, NAME, dumps

        generated = dt.datetime.fromisoformat(manifest["generated"].replace("Z", "+00:00"))
        options["attachments"] = [Attachment(
            string=dumps(manifest).decode("utf-8"), name=NAME, description=DESCRIPTION,
            created=generated, modified=generated, relationship="Supplement")]
    return options


def _layout_with(base: str, fetcher, collect, options: dict):
    """A function laying out one HTML text (its <style> parsed once per text, see
    `_stylesheet`) into a WeasyPrint document; the refit calls it for each try."""

    def layout(source: str):
        source, css = _split_style(source)
        if css is None:
            font_config, counter_style, stylesheets = FontConfiguration(), CounterStyle(), []
        else:
            font_config, counter_style, sheet = _stylesheet(css, base, fetcher, collect)
            stylesheets = [sheet]
        return HTML(string=source, base_url=base, url_fetcher=fetcher).render(
            font_config=font_config, counter_style=counter_style,
            stylesheets=stylesheets, **options)

    return layout


def render_pdf(
    html: str,
    *,
    sandbox: Sandbox,
    base_url: Path,
    lang: str = "en",
    variant: str | None = "pdf/ua-1",
    manifest: dict | None = None,
    even_html: Callable[[], str] | None = None,
    promise: Promise | None = None,
    write: bool = True,
) -> bytes:
    """Render assembled HTML to PDF bytes; anything refused or broken raises RenderError.

    The laid-out pages are checked before anything is drawn (pagecheck.py): the crisis
    blocks, strips and cover line of `promise`, and numbers in reading order on
    right-to-left lines; a failure raises PromiseError. `write` False lays the document
    out and checks it only (self-contained HTML output), returning b"".
    `lang` is the document's language (archival XMP declares it); `manifest` is attached
    as JSON (an associated file in PDF/A-3). `even_html` gives the HTML to lay out when the
    first layout has an odd number of pages (duplex: "Page N of M" changes with the blank).
    """
    if ATTACHMENT_RE.search(html):
        raise SandboxError("refused to embed a file attachment: layouts may not attach files")
    options = _pdf_options(lang, variant, manifest, forms=FIELD_MARK in html)
    # Only the declared fonts: a missing one is an error here, before anything is laid out.
    fonts.find_fonts(sandbox.roots).activate()
    fetcher = SandboxFetcher(sandbox)
    base = str(base_url) + "/"
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        layout = _layout_with(base, fetcher, collect, options)
        # The crisis block moves up where it would leave the page before it short.
        html, document = refit(html, layout)
        if even_html is not None and len(document.pages) % 2:
            html, document = refit(even_html(), layout)
        # What prints is what is checked: the laid-out pages, before anything is written.
        if promise is not None:
            verify(document, promise)
        else:
            check_number_order(document, "the document")
        if not write:
            _check(fetcher, collect)
            return b""
        # Some resources (images inside SVG) are only fetched while the PDF is drawn.
        pdf = document.write_pdf(**options)
        _check(fetcher, collect)
        if CJK_RE.search(html):
            pdf = shrink_cid_fonts(pdf)
        return pdf
    except (SandboxError, RenderError):
        raise
    except Exception as exc:  # WeasyPrint raises many types; the user needs one line.
        raise RenderError(f"rendering failed: {type(exc).__name__}: {exc}") from exc
    finally:
        logger.removeHandler(collect)
