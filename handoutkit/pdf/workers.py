"""Worker processes that render on every core, and clean up after themselves."""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from pathlib import Path
from typing import Iterator

from .sandbox import Sandbox


@contextlib.contextmanager
def worker_pool(processes: int, **options) -> Iterator[multiprocessing.pool.Pool]:
    """A pool of forked workers (they start with what the parent has imported).

    Workers keep the layout's parsed stylesheet between documents, and with it WeasyPrint's
    temporary font folder; they release both when they exit (those they made: a stylesheet
    forked from the parent keeps the parent's folder, which only the parent removes). So
    the pool is closed and joined, letting every worker exit normally, unless the user
    interrupts: then it is terminated at once.
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

    # The stylesheets forked from the parent keep their fonts in the parent's folders: the
    # worker uses them but leaves their removal to the parent.
    render = sys.modules.get("handoutkit.pdf.render")
    if render is not None:
        render.disown_stylesheets()
    # Run by the worker itself as it exits (atexit handlers are not, in a forked worker).
    Finalize(None, _release, exitpriority=0)


def _release() -> None:
    render = sys.modules.get("handoutkit.pdf.render")
    if render is not None:
        render.release_stylesheets()


def _render_job(args):
    html, roots, base_url, promise = args
    from .render import render_pdf

    return render_pdf(html, sandbox=Sandbox(roots), base_url=base_url, promise=promise)


class Renderer:
    """Renders documents, on up to `jobs` cores when there are several.

    Its worker processes live until it is closed, so what they have loaded (WeasyPrint's
    libraries, the layout's stylesheet and fonts) serves every later document: a packet's
    cover and page numbers render on the workers that rendered its topics.
    """

    def __init__(self, sandbox: Sandbox, base_url: Path, jobs: int):
        self.sandbox, self.base_url, self.jobs = sandbox, base_url, jobs
        self._pool = None
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def done(self) -> None:
        """No more documents: workers start exiting (and cleaning up) while the caller
        goes on; leaving the `with` block waits for them."""
        if self._pool is not None:
            self._pool.close()

    def render(self, htmls: list[str], promises: list | None = None) -> list[bytes]:
        """Each HTML document as PDF bytes, in order: in this process for one document,
        on the worker pool for several. `promises` (pagecheck.Promise, or None) says what
        each document's laid-out pages must print."""
        results: list[bytes | None] = [None] * len(htmls)
        for index, pdf in self.each(htmls, promises):
            results[index] = pdf
        return results  # type: ignore[return-value]

    def each(self, htmls: list[str], promises: list | None = None):
        """(index, PDF bytes) for each document as soon as it is made, so a caller can keep
        what was finished before a later document fails or the render is stopped."""
        if not htmls:
            return  # nothing to lay out: WeasyPrint is not even imported
        from . import render  # noqa: F401  (imported before forking: workers start warm)

        promises = list(promises) if promises is not None else [None] * len(htmls)
        args = [(html, self.sandbox.roots, self.base_url, promise)
                for html, promise in zip(htmls, promises)]
        if self._pool is None and (self.jobs <= 1 or len(htmls) <= 1):
            for index, arg in enumerate(args):
                yield index, _render_job(arg)
            return
        if self._pool is None:
            self._pool = self._stack.enter_context(worker_pool(min(self.jobs, len(htmls))))
        # The longest documents first, so the last one to finish is short.
        order = sorted(range(len(args)), key=lambda i: -len(htmls[i]))
        yield from zip(order, self._pool.imap(_render_job, [args[i] for i in order]))
