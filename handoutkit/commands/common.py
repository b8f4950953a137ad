"""What the commands share: the library of `--library`, option decorators used by more
than one command, and shell completion for topics, sections, languages, layouts and
brands."""

from __future__ import annotations

import os
from typing import Callable

import click
from click.shell_completion import CompletionItem

from handoutkit.content.library import Library, bundled_root
from handoutkit.options import DEFAULT_LAYOUT, DEFAULT_PAPER, PAPERS

LIBRARY_HELP = "A clinic's own library folder, searched before the bundled one."


def get_library(ctx: click.Context, cache=None) -> Library:
    """The library of --library; `cache` (commands that render) keeps parsed topics."""
    obj = ctx.find_root().obj
    if "library" not in obj:
        obj["library"] = Library(obj["library_dir"], cache=cache)
    return obj["library"]


# -- completion ----------------------------------------------------------------------------

def _completion_library(ctx: click.Context) -> Library | None:
    """The library for completion: never an error on the user's terminal while typing."""
    root = ctx.find_root()
    folder = root.params.get("library_dir") or os.environ.get("HANDOUTS_LIBRARY")
    try:
        return Library(folder)
    except Exception:  # noqa: BLE001 - a half-typed --library must not break the shell
        return None


def _items(values, incomplete: str, prefix: str = "") -> list[CompletionItem]:
    return [CompletionItem(prefix + value) for value in values
            if (prefix + value).startswith(incomplete)]


def complete_spec(ctx, param, incomplete: str) -> list[CompletionItem]:
    """TOPIC, then @LANG after a topic, then section ids after ':' (comma-separated)."""
    library = _completion_library(ctx)
    if library is None:
        return []
    head, colon, tail = incomplete.partition(":")
    topic_id, at, lang = head.partition("@")
    if colon:
        try:
            topic = library.topic(topic_id, lang or library.languages(topic_id)[0])
        except Exception:  # noqa: BLE001 - unknown topic: nothing to offer
            return []
        done, _, current = tail.rpartition(",")
        prefix = head + ":" + (done + "," if done else "")
        return _items([s.id for s in topic.sections], incomplete, prefix)
    if at:
        return _items(library.languages(topic_id), incomplete, topic_id + "@")
    return _items(library.topic_ids, incomplete)


def complete_lang(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Languages the library has topics in."""
    library = _completion_library(ctx)
    if library is None:
        return []
    langs = sorted({lang for f in library.files() for lang in [f.lang]})
    return _items(langs, incomplete)


def complete_layout(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Layout names of the library."""
    library = _completion_library(ctx)
    return _items(library.layout_names, incomplete) if library else []


def complete_brand(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Brands of the library by name, then files."""
    library = _completion_library(ctx)
    names = list(library.brand_names) if library else []
    return _items(names, incomplete) + [CompletionItem(incomplete, type="file")]


def complete_topic(ctx, param, incomplete: str) -> list[CompletionItem]:
    """Topic ids of the library."""
    library = _completion_library(ctx)
    return _items(library.topic_ids, incomplete) if library else []


# -- shared options -------------------------------------------------------------------------

def _bundled_layouts() -> str:
    """Layout names for help texts, read from the bundled library's folders (cheap)."""
    folder = bundled_root() / "layouts"
    return ", ".join(sorted(p.parent.name for p in folder.glob("*/layout.html.j2")))


def _apply(options: list[Callable]) -> Callable:
    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func
    return decorate


def json_option(help_text: str = "Print JSON for scripts.") -> Callable:
    """--json, for commands that can print JSON for scripts."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def lang_option(help_text: str) -> Callable:
    """--lang L with completion of the library's languages."""
    return click.option("--lang", metavar="L", help=help_text, shell_complete=complete_lang)


def look_options(func: Callable) -> Callable:
    """--lang, --layout, --paper, --brand: how a document looks, whatever its content."""
    return _apply([
        lang_option("Language for SPECs without @LANG (default en)."),
        click.option("--layout", metavar="NAME", shell_complete=complete_layout,
                     help=f"Layout: {_bundled_layouts()}, or a clinic library's own "
                          f"(default {DEFAULT_LAYOUT})."),
        click.option("--paper", type=click.Choice(list(PAPERS)),
                     help=f"Paper size (default {DEFAULT_PAPER})."),
        click.option("--brand", metavar="NAME|FILE", shell_complete=complete_brand,
                     help="A brand of the library (layouts/brands/NAME.toml) or a brand "
                          "file; default: the library's layouts/brand.toml."),
    ])(func)


def personal_options(func: Callable) -> Callable:
    """The details printed for one patient, on a cover page before the topics only."""
    return _apply([
        click.option("--patient", metavar="NAME",
                     help="Patient name, printed on a cover page before the topics."),
        click.option("--visit-date", metavar="DATE", help="Visit date, printed on the cover."),
        click.option("--clinician", metavar="NAME", help="Clinician, printed on the cover."),
        click.option("--note", metavar="TEXT", help="A short note, printed on the cover."),
    ])(func)


def fhir_options(func: Callable) -> Callable:
    """A FHIR R4 DocumentReference beside the PDF, for the health record."""
    return _apply([
        click.option("--fhir", "fhir_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Also write a FHIR R4 DocumentReference for the PDF "
                          "(needs --patient-ref)."),
        click.option("--fhir-url", metavar="URL",
                     help="In the DocumentReference, point to the PDF at URL instead of "
                          "embedding it."),
        click.option("--patient-ref", metavar="REF", help="FHIR subject, e.g. Patient/123."),
        click.option("--encounter-ref", metavar="REF", help="FHIR encounter, e.g. Encounter/456."),
        click.option("--author-ref", metavar="REF", help="FHIR author, e.g. Practitioner/789."),
    ])(func)


def engine_options(func: Callable) -> Callable:
    """--jobs and --no-cache: how hard the machine works, never what is printed."""
    return _apply([
        click.option("--jobs", type=click.IntRange(min=1), metavar="N",
                     help="Render on N cores at once (default: all)."),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache."),
    ])(func)
