"""Importing WeasyPrint: native libraries opened by their file names without the slow
library search, and the thorough search when they do not open that way."""

import subprocess
import sys

PROBE = """
import ctypes.util, sys
import handoutkit.pdf.weasyload as load
calls = []
slow = ctypes.util.find_library
ctypes.util.find_library = lambda name: calls.append(name) or slow(name)
{setup}
load.import_weasyprint()
from weasyprint.text import ffi
print(len(calls), ffi.harfbuzz_subset is not None, ctypes.util.find_library.__name__)
"""


def probe(setup: str = "") -> list[str]:
    result = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_libraries_open_without_the_slow_search():
    calls, subset, restored = probe()
    assert calls == "0"  # the slow find_library was never asked
    assert subset == "True"  # HarfBuzz subset was found and loaded
    assert restored == "<lambda>"  # find_library is given back as it was


def test_the_thorough_search_takes_over_when_a_library_does_not_open():
    # As on a system whose libraries have other file names: the first try fails.
    setup = ("import cffi.api; real = cffi.api._load_backend_lib\n"
             "thorough = ctypes.util.find_library\n"
             "def quick_fails(backend, name, flags):\n"
             "    if ctypes.util.find_library is not thorough:\n"
             "        raise OSError('not here')\n"
             "    return real(backend, name, flags)\n"
             "cffi.api._load_backend_lib = quick_fails")
    calls, subset, restored = probe(setup)
    assert int(calls) > 0 and subset == "True" and restored == "<lambda>"
