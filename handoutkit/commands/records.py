"""Commands for records kept about documents: inspect (the embedded manifest) and the
cache of rendered topics."""

from __future__ import annotations

import json

import click

from .common import json_option


@click.command()
@click.argument("pdf", type=click.Path(dir_okay=False))
@json_option("Print the manifest as JSON.")
def inspect(pdf, as_json) -> None:
    """Show which topics, versions and sections a PDF made by handouts holds."""
    from handoutkit.pdf.inspection import printable as p
    from handoutkit.pdf.inspection import printable_json, read_manifest

    manifest = read_manifest(pdf)
    if as_json:
        click.echo(printable_json(manifest))
        return
    click.echo(f"{p(pdf)}: made by {p(manifest.get('generator'))} on "
               f"{p(manifest.get('generated'))}")
    click.echo(f"layout {p(manifest.get('layout'))}, paper {p(manifest.get('paper'))}, "
               f"brand {p(manifest.get('brand'))}"
               + (", archival (PDF/A-3)" if manifest.get("archival") else ""))
    for t in manifest["topics"]:
        click.echo(f"  {p(t['id'])} ({p(t['lang'])}) version {p(t['version'])}, updated "
                   f"{p(t['updated'])}: {p(t['title'])}")
        click.echo(f"    sections: {p(', '.join(t['sections']))}")


@click.group()
def cache() -> None:
    """The cache of rendered topics (HANDOUTS_CACHE_DIR overrides its folder)."""


@cache.command("info")
@json_option()
def cache_info(as_json) -> None:
    """Show where the cache is, how many entries and bytes it holds."""
    from handoutkit.cache import Cache

    info = Cache().info()
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        click.echo(f"{info['folder']}: {info['entries']} entries, {info['bytes']:,} bytes")


@cache.command("clear")
def cache_clear() -> None:
    """Remove every cached entry."""
    from handoutkit.cache import Cache

    click.echo(f"Removed {Cache().clear()} entries")
