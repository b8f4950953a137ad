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
@click.option("--timeout", type=click.FloatRange(min=0.01), default=120.0, show_default=True,
              help="Seconds a render may take before its worker is replaced (parts it "
                   "finished are kept for the retry).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the topic cache.")
@click.option("--public-url", metavar="URL",
              help="The address clients reach the service at, like "
                   "https://handouts.example.org: links are made from it (relative links "
                   "without it; never from the request's Host header); https adds HSTS.")
@click.option("--read-timeout", type=click.FloatRange(min=0.1), default=10.0,
              show_default=True, help="Seconds a client may take to send a request's "
                                      "headers, and again its body.")
@click.option("--forwarded-allow-ips", metavar="IPS",
              help="Proxies (comma-separated addresses) trusted to give the client's address "
                   "in X-Forwarded-For; without it the connection's address counts.")
@click.option("--link-lifetime", default="24h", show_default=True, metavar="DURATION",
              callback=lambda ctx, param, value: _lifetime(value),
              help="How long the signed links of an Infobutton answer open their handout "
                   "without a key: seconds, or with s, m, h or d (90m, 24h; at most 30d).")
@click.option("--link-secret-file", envvar="HANDOUTS_LINK_SECRET_FILE",
              type=click.Path(dir_okay=False), metavar="FILE",
              help="File holding the secret (32+ characters) that signs those links (or "
                   "HANDOUTS_LINK_SECRET_FILE=FILE); give every replica the same one. "
                   "Without it the secret is made from HANDOUTS_SESSION_SECRET.")
@click.pass_context
def serve(ctx, host, port, workers, api_keys, queue, timeout, no_cache, public_url,
          read_timeout, forwarded_allow_ips, link_lifetime, link_secret_file) -> None:
    """Run the HTTP service: JSON API (/v1), HL7 Infobutton, FHIR, a staff page at /.

    Staff sessions are signed with HANDOUTS_SESSION_SECRET; without it, a random secret
    signs them until the service stops. Infobutton answers carry signed links that open
    their handout (the PDF or HTML, nothing else) without a key until --link-lifetime has
    passed; they are signed with --link-secret-file's secret, else one made from the
    session secret (so a random one, too, ends them when the service stops). The keys file
    is read again when it changes (or on SIGHUP); SIGTERM lets renders in flight finish,
    then stops.

    \b
    Examples:
      handouts serve                                   # http://127.0.0.1:8000/
      handouts serve --host 0.0.0.0 --api-keys /etc/handouts/keys
    """
    try:
        from handoutkit.serve.access import read_keys
        from handoutkit.serve.app import run
        from handoutkit.serve.service import Settings
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
    if public_url:
        from urllib.parse import urlsplit

        parts = urlsplit(public_url)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise click.BadParameter("give an http:// or https:// address, like "
                                     "https://handouts.example.org", param_hint="--public-url")
    session_secret = os.environ.get("HANDOUTS_SESSION_SECRET") or secrets.token_hex(32)
    link_secret = None
    if link_secret_file:
        from handoutkit.serve.links import read_link_secret

        link_secret = read_link_secret(link_secret_file)
    run(Settings(host=host, port=port, workers=workers or os.cpu_count() or 1,
                 library_dir=ctx.find_root().obj["library_dir"], keys=keys, queue=queue,
                 timeout=timeout, cache=not no_cache, keys_file=api_keys,
                 public_url=public_url, read_timeout=read_timeout,
                 forwarded_allow_ips=forwarded_allow_ips,
                 session_secret=session_secret, link_lifetime=link_lifetime,
                 link_secret=link_secret))


def _lifetime(value: str) -> int:
    from handoutkit.serve.links import parse_lifetime

    try:
        return parse_lifetime(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--link-lifetime") from None
