"""A clinic's brand, read from a TOML file: name, logo, colour, contact details, footer."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import LibraryError, SandboxError
from ..pdf.sandbox import check_image, media_type

COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
LOGO_TYPES = {"image/png", "image/jpeg", "image/svg+xml"}
FIELDS = ("name", "logo", "color", "phone", "address", "website", "footer", "after_hours",
          "local_crisis", "online_url", "cover_tools")
# Yes/no settings (true or false, no quotes); every other field is text.
FLAGS = ("cover_tools",)
# `language_assistance = true`: a "Language assistance" notice in packets, in the 15
# languages other than English most spoken at home in the US (Census Bureau, American
# Community Survey 2016: Spanish, Chinese, Tagalog, Vietnamese, Arabic, French, Korean,
# Russian, German, Haitian Creole, Hindi, Portuguese, Italian, Polish, Urdu). Chinese is
# printed in Traditional characters; a clinic may list "zh-Hans" instead, or both.
NOTICE_LANGS = ("es", "zh-Hant", "tl", "vi", "ar", "fr", "ko", "ru", "de", "ht", "hi", "pt",
                "it", "pl", "ur")
MAX_NOTICE_LANGS = 30
# What a `[lang.XX]` table may give in another language (`[lang.es] footer = "..."`).
TEXT_FIELDS = ("name", "phone", "address", "website", "footer", "after_hours", "local_crisis")
# The longest each text field may be, in characters: what fits the place it prints in (a
# 42 KB after-hours line once made a 26-page handout).
MAX_LENGTH = {"name": 80, "logo": 200, "phone": 40, "address": 160,
              "website": 100, "footer": 240, "after_hours": 160, "local_crisis": 160,
              "online_url": 200}
# Text printed in the brand colour (headings, rules) must reach this contrast with the
# white page (WCAG 2 AA for body-size text).
MIN_TEXT_CONTRAST = 4.5


@dataclass(frozen=True)
class Brand:
    """A clinic's brand as printed: name, colour, logo, contact details, footer line."""

    path: Path
    name: str
    color: str
    logo: Path | None = None
    phone: str = ""
    address: str = ""
    website: str = ""
    footer: str = ""
    language_assistance: tuple[str, ...] = ()  # the notice's languages; () for none
    # The clinic's own numbers, printed in every crisis block after 988 and 911.
    after_hours: str = ""
    local_crisis: str = ""

    # Where each topic is online, "https://.../{id}/{lang}": a QR code and the address print
    # at the end of each topic. Empty: none.
    online_url: str = ""
    # The packet cover's write-in blocks: next appointment, questions, notes.
    cover_tools: bool = True
    # Per language: {"es": {"footer": "..."}}; a field not given keeps the default wording.
    languages: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()

    def for_lang(self, lang: str) -> "Brand":
        """The brand as printed on a page in `lang`."""
        for code, fields in self.languages:
            if code == lang:
                return replace(self, **dict(fields))
        return self


def load_brand(path: str | Path) -> Brand:  # noqa: C901 (one check per field of the brand file)
    """Read and check a brand file; the logo must sit in the brand file's folder."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise LibraryError(f"brand file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise LibraryError(f"{path}: not valid TOML ({exc})") from None

    per_language = data.pop("lang", {})
    assistance = _notice_langs(path, data.pop("language_assistance", False))
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise LibraryError(f"{path}: unknown field '{unknown[0]}' "
                           f"(fields: {', '.join(FIELDS)}, language_assistance, "
                           "and [lang.XX] tables)")
    languages = _languages(path, per_language)
    for name, value in data.items():
        if name in FLAGS:
            if not isinstance(value, bool):
                raise LibraryError(f"{path}: '{name}' must be true or false (no quotes)")
        elif not isinstance(value, str):
            raise LibraryError(f"{path}: '{name}' must be text in quotes")
        else:
            _check_length(path, name, value)
    if not data.get("name", "").strip():
        raise LibraryError(f"{path}: 'name' (the clinic's name) is required")
    color = data.get("color", "#1f5f8b")
    if not COLOR_RE.match(color):
        raise LibraryError(f"{path}: 'color' must be a hex colour like \"#1f5f8b\"")

    logo = None
    if data.get("logo"):
        try:
            logo = _logo(path, data["logo"])
        except OSError as exc:
            raise LibraryError(f"{path}: the logo cannot be read "
                               f"({exc.strerror or type(exc).__name__})") from None
        except ValueError:  # a NUL byte in the name
            raise LibraryError(f"{path}: the logo's file name is not valid") from None

    return Brand(
        path=path.resolve(),
        name=data["name"].strip(),
        color=color,
        logo=logo,
        phone=data.get("phone", "").strip(),
        address=data.get("address", "").strip(),
        website=data.get("website", "").strip(),
        footer=data.get("footer", "").strip(),
        after_hours=data.get("after_hours", "").strip(),
        local_crisis=data.get("local_crisis", "").strip(),
        online_url=_online_url(path, data.get("online_url", "").strip()),
        cover_tools=data.get("cover_tools", True),
        languages=tuple(languages),
        language_assistance=assistance,
    )


def _languages(path: Path, per_language: object) -> tuple:
    """The `[lang.XX]` tables: per language, the text fields it prints in that language."""
    if not isinstance(per_language, dict):
        raise LibraryError(f"{path}: 'lang' must hold tables such as [lang.es]")
    languages = []
    for code, table in per_language.items():
        if not isinstance(table, dict):
            raise LibraryError(f"{path}: [lang.{code}] must be a table of texts")
        for name, value in table.items():
            if name not in TEXT_FIELDS:
                raise LibraryError(f"{path}: [lang.{code}] cannot set '{name}' "
                                   f"(only {', '.join(TEXT_FIELDS)})")
            if not isinstance(value, str):
                raise LibraryError(f"{path}: [lang.{code}] '{name}' must be text in quotes")
            _check_length(path, f"[lang.{code}] {name}", value, MAX_LENGTH[name])
        languages.append((code, tuple((k, v.strip()) for k, v in table.items())))
    return tuple(languages)


def _check_length(path: Path, name: str, value: str, limit: int | None = None) -> None:
    limit = limit or MAX_LENGTH.get(name, 200)
    if len(value.strip()) > limit:
        raise LibraryError(f"{path}: '{name}' is {len(value.strip()):,} characters long; "
                           f"at most {limit} fit where it prints")


def check_contrast(brand: Brand) -> None:
    """Refuse a brand whose colour, used for headings and rules, is too pale (or dark) to
    read on the white page: the measured ratio and the one needed."""
    from .measures import contrast_ratio

    ratio = contrast_ratio(brand.color)
    if ratio < MIN_TEXT_CONTRAST:
        raise LibraryError(f"{brand.path}: brand colour {brand.color} has contrast "
                           f"{ratio:.2f}:1 with the white page; text needs at least "
                           f"{MIN_TEXT_CONTRAST}:1 (WCAG AA): choose a darker colour")


def _notice_langs(path: Path, value: object) -> tuple[str, ...]:
    """`language_assistance`: true (the default languages), false, or a list of tags."""
    if value is True:
        return NOTICE_LANGS
    if value is False:
        return ()
    if (isinstance(value, list) and 0 < len(value) <= MAX_NOTICE_LANGS
            and all(isinstance(v, str) and v.strip() for v in value)):
        return tuple(dict.fromkeys(v.strip() for v in value))
    raise LibraryError(f"{path}: 'language_assistance' must be true, false or a list of 1 to "
                       f"{MAX_NOTICE_LANGS} language tags in quotes, like [\"es\", \"vi\"]")


def _online_url(path: Path, url: str) -> str:
    """`online_url` is an https address with {id} and {lang} (and no other {...})."""
    if not url:
        return ""
    try:
        url.format(id="x", lang="en")
    except (KeyError, IndexError, ValueError):
        raise LibraryError(f"{path}: 'online_url' may use only {{id}} and {{lang}}") from None
    if not url.startswith("https://") or "{id}" not in url or any(c.isspace() for c in url):
        raise LibraryError(f"{path}: 'online_url' must be an https:// address with {{id}} "
                           "(and {lang}), like \"https://example.org/handouts/{id}/{lang}\"")
    return url


def _logo(path: Path, name: str) -> Path:
    folder = path.resolve().parent
    logo = (folder / name).resolve()
    if not logo.is_relative_to(folder):
        raise LibraryError(f"{path}: the logo must be in the brand file's folder")
    if not logo.is_file():
        raise LibraryError(f"{path}: logo not found: {logo}")
    media = media_type(logo)
    if media not in LOGO_TYPES:
        raise LibraryError(f"{path}: the logo must be a PNG, JPEG or SVG file")
    try:
        check_image(logo.read_bytes(), media, str(logo))
    except SandboxError as exc:
        raise LibraryError(f"{path}: {exc}") from None
    return logo
