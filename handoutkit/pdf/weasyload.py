"""Import WeasyPrint without its slowest step: searching for its native libraries.

WeasyPrint opens Pango, HarfBuzz and fontconfig through cffi, trying several names per
library, such as 'libgobject-2.0-0', 'gobject-2.0' and 'libgobject-2.0.so.0'. Each name
that does not open as it is goes to `ctypes.util.find_library`, which on Linux starts
`ldconfig -p` and then `gcc` and `ld`: about twenty such searches cost 0.25-0.5 s of every
cold command that renders. Every list also holds the library's Linux file name
('libgobject-2.0.so.0'), which the dynamic linker opens directly; so during the import
the search answers "not found" at once and those names are used. Should a library then
not open at all (an unusual install), the import is done again the thorough way.

This is also the one place WeasyPrint is changed: once imported, its tagging writes each
element's language and each table header's scope into the structure tree (weasypatch.py says
why: PDF/UA asks for both and WeasyPrint 70 writes neither), and its column balancing
searches for the balanced height in far fewer layouts (also weasypatch.py). render.py
keeps WeasyPrint's font folders from piling up (`release_stylesheets`) and reads its log;
nothing else reaches into WeasyPrint's internals.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import io
import sys


def import_weasyprint() -> None:
    """Import weasyprint (once) and install this project's tagging and column balancing."""
    if "weasyprint" not in sys.modules:
        _import()
    from . import weasypatch

    weasypatch.install_tagging()
    weasypatch.install_columns()


def _import() -> None:
    try:
        # A failed try prints WeasyPrint's installation advice: never onto standard
        # output, which may be carrying a PDF (-o -).
        with _no_library_search(), contextlib.redirect_stdout(io.StringIO()):
            import weasyprint  # noqa: F401
    except OSError:
        for name in [m for m in sys.modules if m == "weasyprint" or m.startswith("weasyprint.")]:
            del sys.modules[name]
        import weasyprint  # noqa: F401


@contextlib.contextmanager
def _no_library_search():
    if not sys.platform.startswith("linux"):
        yield
        return
    search = ctypes.util.find_library
    ctypes.util.find_library = lambda name: None
    try:
        yield
    finally:
        ctypes.util.find_library = search
