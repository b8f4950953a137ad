"""Rendering: HTML -> tagged PDF with WeasyPrint, sandboxed, with its log turned into errors.

This is the only module that imports WeasyPrint (about half a second): commands that do
not render never import it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from weasyprint import HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from .errors import RenderError, SandboxError
from .sandbox import Sandbox

DEFAULT_VARIANT = "pdf/ua-1"
ATTACHMENT_RE = re.compile(r"""<(?:link|a)\b[^>]*\brel\s*=\s*["']?[^"'>]*attachment""", re.I)
# WeasyPrint log messages that mean the PDF would be wrong, not merely imperfect.
FATAL_LOG_RE = re.compile(r"Failed to load|font|Error", re.I)


def page_count(pdf: bytes) -> int:
    from io import BytesIO

    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


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


def render_pdf(
    html: str,
    *,
    sandbox: Sandbox,
    base_url: Path,
    variant: str | None = DEFAULT_VARIANT,
) -> bytes:
    """Render assembled HTML to PDF bytes; anything refused or broken raises RenderError."""
    if ATTACHMENT_RE.search(html):
        raise SandboxError("refused to embed a file attachment: layouts may not attach files")
    options = {"pdf_variant": variant, "pdf_tags": True}
    fetcher = SandboxFetcher(sandbox)
    font_config = FontConfiguration()
    collect = _Collect()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(collect)
    try:
        document = HTML(
            string=html, base_url=str(base_url) + "/", url_fetcher=fetcher
        ).render(font_config=font_config, **options)
        # Some resources (images inside SVG) are only fetched while the PDF is drawn.
        pdf = document.write_pdf(**options)
        if fetcher.refused:
            raise fetcher.refused[0]
        problems = [r for r in collect.records if FATAL_LOG_RE.search(r.getMessage())]
        if problems:
            raise RenderError(f"rendering failed: {problems[0].getMessage().splitlines()[0]}")
        return pdf
    except (SandboxError, RenderError):
        raise
    except Exception as exc:  # WeasyPrint raises many types; the user needs one line.
        raise RenderError(f"rendering failed: {type(exc).__name__}: {exc}") from exc
    finally:
        logger.removeHandler(collect)
