"""What rendering may load: files inside the library (and the brand's folder), and data: URIs.

Every other reference (http, https, other local files, attachments) is refused with an
error that names it. Raster images are also refused above a pixel limit, since a small
file can decode to a huge bitmap.
"""

from __future__ import annotations

import base64
import io
import mimetypes
import warnings
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import SandboxError

MAX_IMAGE_PIXELS = 25_000_000  # 5000 x 5000: far above any print need at 300 dpi
RASTER_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
FONT_TYPES = {".ttf": "font/ttf", ".otf": "font/otf", ".woff": "font/woff", ".woff2": "font/woff2"}


def media_type(path: Path) -> str:
    """The media type of a library file, from its name."""
    suffix = path.suffix.lower()
    guessed = mimetypes.guess_type(path.name)[0]
    return FONT_TYPES.get(suffix) or guessed or "application/octet-stream"


def check_image(data: bytes, media: str, name: str) -> None:
    """Refuse raster images whose decoded size is over MAX_IMAGE_PIXELS."""
    if media not in RASTER_TYPES:
        return
    from PIL import Image, UnidentifiedImageError  # Pillow comes with WeasyPrint

    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on images far over its own limit: either way the
            # size is known from the header, without decoding, and refused below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise SandboxError(
            f"image {name} is a decompression bomb (far over the limit of "
            f"{MAX_IMAGE_PIXELS:,} pixels); make it smaller") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise SandboxError(f"image {name} cannot be read") from None
    if width * height > MAX_IMAGE_PIXELS:
        raise SandboxError(
            f"image {name} is {width}x{height} pixels, over the limit of "
            f"{MAX_IMAGE_PIXELS:,} pixels; make it smaller"
        )


class Sandbox:
    """The folders rendering may read from."""

    def __init__(self, roots: list[Path] | tuple[Path, ...]):
        self.roots = tuple(Path(r).resolve() for r in roots)

    def allows(self, path: Path) -> bool:
        """Whether `path` lies inside one of the sandbox's folders."""
        resolved = Path(path).resolve()
        return any(resolved.is_relative_to(root) for root in self.roots)

    def read(self, url: str) -> tuple[bytes, str]:
        """Return (bytes, media type) for an allowed URL, or raise SandboxError naming it."""
        parts = urlsplit(url)
        if parts.scheme == "data":
            return self._read_data(url)
        if parts.scheme != "file":
            raise SandboxError(f"refused to load {url}: only files inside the library may be used")
        path = Path(unquote(parts.path))
        if not self.allows(path):
            raise SandboxError(f"refused to load {url}: it is outside the library")
        try:
            data = path.read_bytes()
        except OSError:
            raise SandboxError(f"file not found or unreadable: {path}") from None
        media = media_type(path)
        check_image(data, media, str(path))
        return data, media

    @staticmethod
    def _read_data(url: str) -> tuple[bytes, str]:
        header, _, payload = url[5:].partition(",")
        media = header.split(";")[0] or "text/plain"
        base64_coded = header.endswith(";base64")
        data = base64.b64decode(payload) if base64_coded else unquote(payload).encode()
        check_image(data, media, "in a data: URI")
        return data, media


def data_uri(path: Path) -> str:
    """A file as a data: URI, for self-contained HTML."""
    encoded = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"data:{media_type(Path(path))};base64,{encoded}"
