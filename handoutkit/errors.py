"""One base error for everything a user can get wrong, with stable exit codes.

Exit codes (documented in docs/exit-codes.md):
    1  bad input: unknown topic or section, malformed topic, brand or layout, missing font,
       text that cannot be printed as typed
    2  bad usage (raised by Click itself)
    3  rendering refused or failed: sandbox violation, a font that cannot load, oversized image
    4  output could not be written
    5  an unexpected error (a bug): one line, never a traceback
"""

import unicodedata

INTERNAL_ERROR = 5


class HandoutsError(Exception):
    """An error the user can act on; its message is one line."""

    exit_code = 1


class LibraryError(HandoutsError):
    """The library, a topic file, a layout or a brand is missing or malformed."""


class TopicNotFound(HandoutsError):
    """A topic id (or language) that the library does not hold."""


class SectionNotFound(HandoutsError):
    """A section id that the topic does not have."""


class SpecError(HandoutsError):
    """A SPEC on the command line that cannot be parsed."""


class UsageError(HandoutsError):
    """An option value the command cannot use (as Click's own usage errors: exit code 2)."""

    exit_code = 2


class DocumentError(HandoutsError):
    """A PDF given to read back (inspect) is missing, damaged or not made by handouts."""


class CodeError(HandoutsError):
    """A code that is not ICD-10-CM shaped."""


class JobListError(HandoutsError):
    """A batch job list as a whole cannot be read (missing file, no header, no output
    column); a bad row is reported on its own and does not raise."""


class TextError(HandoutsError):
    """Text that would not print as typed: a control or bidi override character in a
    personal detail, or a character that no declared font has."""


class RenderError(HandoutsError):
    """WeasyPrint could not render, or the sandbox refused a resource."""

    exit_code = 3


class SandboxError(RenderError):
    """A handout, layout or brand referred to something outside the library."""


class OutputError(HandoutsError):
    """The output could not be written."""

    exit_code = 4


# -- showing text from outside on a terminal ----------------------------------------------

def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    # Control characters (escape sequences, C1 controls) and format characters (bidi
    # overrides that reorder what a terminal shows).
    return unicodedata.category(char) in ("Cc", "Cf") and char not in "\t"


def printable(value: object) -> str:
    """Text safe to show on a terminal: control and format characters escaped."""
    return "".join(_escape(c) if _unsafe(c) else c for c in str(value))
