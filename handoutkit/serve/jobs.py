"""What a render worker runs: the engine of `build` (handoutkit.build.make), kept warm.

A worker is a process of its own. It starts by importing WeasyPrint and making one packet
without personal details, which parses the layout's stylesheet and loads its fonts, and
from then on answers jobs sent through a pipe. Jobs carry personal details only in memory:
the cover that holds them is never cached (the engine's rule), and they are never logged.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from ..errors import HandoutsError, LibraryError


@dataclass(frozen=True)
class WorkerConfig:
    library_dir: str | None
    cache: bool = True


def find_brand(library, name: str | None) -> Path | None:
    """A brand named in a request: `default` (or none) is the library's brand, any other
    NAME the library's layouts/brands/NAME.toml. Never a path: a request cannot point the
    renderer at a file of its choosing."""
    if not name or name == "default":
        return None
    if name not in library.brand_names:
        have = ", ".join(["default", *library.brand_names])
        raise LibraryError(f"unknown brand '{name}'; the library's brands are: {have}")
    return library.brand_file(name)


def run_job(config: WorkerConfig, job: dict) -> dict:
    """One document, as `handouts build` makes it. The job is read again by the one
    parser of a build request, so nothing unchecked reaches the engine. Returns the bytes,
    manifest and title, or the engine's error (its class name and one-line message); any
    other failure is an `internal` error, never the end of the worker."""
    from ..build import make, selections_for
    from ..cache import Cache
    from ..content.library import Library
    from ..request import SERVICE_LIMITS, BuildRequest

    cache = Cache(enabled=config.cache)
    try:
        if TEST_DELAY:
            import time

            time.sleep(TEST_DELAY)
        library = Library(config.library_dir, cache=cache)  # rescanned: edits show at once
        request = BuildRequest.from_mapping(job, limits=SERVICE_LIMITS)
        request.check_library(library)
        options = request.options(find_brand(library, request.brand), jobs=1)
        selections = selections_for(library, list(request.specs), options.lang,
                                    options.bilingual, options.fallback)
        built = make(library, selections, options, cache)
        return {"ok": True, "data": built.data, "manifest": built.manifest,
                "title": built.title, "hits": cache.stats.hits, "misses": cache.stats.misses}
    except HandoutsError as exc:
        return {"ok": False, "error": type(exc).__name__, "detail": str(exc),
                "exit_code": exc.exit_code,
                "hits": cache.stats.hits, "misses": cache.stats.misses}
    except Exception as exc:  # noqa: BLE001 - reported as one line; the worker lives on
        return {"ok": False, "error": "internal", "exit_code": 3,
                "detail": f"rendering failed ({type(exc).__name__})",
                "hits": cache.stats.hits, "misses": cache.stats.misses}


# Seconds every job waits before it starts: only for the tests of a graceful stop, which
# need renders longer than a stop takes.
TEST_DELAY = float(os.environ.get("HANDOUTS_TEST_RENDER_DELAY", "0") or 0)


def warm_up(config: WorkerConfig) -> None:
    """Import WeasyPrint and make one packet: stylesheet parsed, fonts loaded, parts cached."""
    from ..content.library import Library
    from ..pdf import render  # noqa: F401

    library = Library(config.library_dir)
    if library.topic_ids:
        global TEST_DELAY
        delay, TEST_DELAY = TEST_DELAY, 0
        run_job(config, {"specs": library.topic_ids[:2], "patient": "-"})
        TEST_DELAY = delay


def worker_main(conn, config: WorkerConfig) -> None:
    """The worker's loop: warm up, say so, then answer jobs until the pipe closes."""
    # The server stops its workers itself, after their renders in flight: a SIGTERM or
    # Ctrl-C sent to the whole process group must not cut them short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    warm_up(config)
    conn.send({"ready": True})
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        conn.send(run_job(config, job))
