"""`handouts serve`: the HTTP service (its engine is handoutkit.serve)."""

from __future__ import annotations

import os
import secrets

import click

from handoutkit.errors import HandoutsError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (anything but localhost needs --api-keys).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Warm render workers (default: the number of cores).")
@click.option("--api-keys", "api_keys", envvar="HANDOUTS_API_KEYS",
              type=click.Path(dir_okay=False), metavar="FILE",
              help="File of API keys, one a line (or HANDOUTS_API_KEYS=FILE).")
@click.option("--queue", type=click.IntRange(min=0), default=16, show_default=True,
              help="Requests that may wait for a worker; more get 503 with Retry-After.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=30.0, show_default=True,
              help="Seconds a render may take before its worker is replaced.")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache.")
@click.pass_context
def serve(ctx, host, port, workers, api_keys, queue, timeout, no_cache) -> None:
    """Run the HTTP service: JSON API (/v1), HL7 Infobutton, FHIR, a staff page at /.

    Staff sessions are signed with HANDOUTS_SESSION_SECRET (give every replica the same
    one); without it, a random secret signs them until the service stops.

    \b
    Examples:
      handouts serve                                   # http://127.0.0.1:8000/
      handouts serve --host 0.0.0.0 --api-keys /etc/handouts/keys
    """
    try:
        from handoutkit.serve.app import Settings, read_keys, run
    except ImportError as exc:
        raise HandoutsError(f"the service needs its packages: pip install 'handouts[serve]' "
                            f"({exc.name} is missing)") from None
    keys = []
    if api_keys:
        try:
            keys = read_keys(api_keys)
        except (OSError, UnicodeDecodeError) as exc:
            raise HandoutsError(f"cannot read the API keys file {api_keys}: "
                                f"{getattr(exc, 'strerror', None) or exc}") from None
        if not keys:
            raise HandoutsError(f"the API keys file {api_keys} holds no key")
    run(Settings(host=host, port=port, workers=workers or os.cpu_count() or 1,
                 library_dir=ctx.find_root().obj["library_dir"], keys=keys, queue=queue,
                 timeout=timeout, cache=not no_cache,
                 session_secret=os.environ.get("HANDOUTS_SESSION_SECRET")
                 or secrets.token_hex(32)))
