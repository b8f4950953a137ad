"""Worker processes that render on every core, and clean up after themselves."""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from typing import Iterator


@contextlib.contextmanager
def worker_pool(processes: int, **options) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of forked workers (they start with what the parent has imported).

    Workers keep the layout's parsed stylesheet between documents, and with it WeasyPrint's
    temporary font folder; they release both when they exit. So the pool is closed and
    joined, letting every worker exit normally, unless the user interrupts: then it is
    terminated at once.
    """
    pool = multiprocessing.get_context("fork").Pool(
        processes, initializer=_worker_started, **options)
    try:
        yield pool
    except (KeyboardInterrupt, SystemExit):
        pool.terminate()
        pool.join()
        raise
    except BaseException:
        pool.close()
        pool.join()
        raise
    pool.close()
    pool.join()


def _worker_started() -> None:
    from multiprocessing.util import Finalize

    # Run by the worker itself as it exits (atexit handlers are not, in a forked worker).
    Finalize(None, _release, exitpriority=0)


def _release() -> None:
    render = sys.modules.get("handoutkit.render")
    if render is not None:
        render.release_stylesheets()
