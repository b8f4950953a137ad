"""Numbers and web addresses in reading order on right-to-left pages.

On an Arabic page the bidi algorithm reads "(555) 010-0199" as two numbers with neutral
marks between them and prints "010-0199 (555)": a patient who dials what is printed dials
the wrong number. Each number (and web address) in the text of a document that holds
right-to-left text is wrapped in Unicode isolates (LRI ... PDI): a left-to-right run the
surrounding text cannot reorder, which Pango (fribidi) and browsers honour inside a
single run of text, whatever element it is in. The isolates print nothing; the laid-out
pages are checked for digit order all the same (pagecheck.py).
"""

from __future__ import annotations

import re

LRI, PDI = "\u2066", "\u2069"
RTL_DOCUMENT_RE = re.compile(r'\bdir="rtl"')
# Text between tags in the body; <style> is left alone (CSS holds digits too).
BODY_RE = re.compile(r"<body\b.*</body>", re.S)
TEXT_RE = re.compile(r">([^<]+)<")
STYLE_RE = re.compile(r"<style\b.*?</style>", re.S)
# A web address, or a number: digits in groups split by spaces, brackets, dots or hyphens
# ("(555) 010-0199", "1-800-273-8255", "988"); an isolate already there is kept.
LTR_RUN_RE = re.compile(
    r"(?:https?://)?[A-Za-z0-9][A-Za-z0-9.-]*\.(?:org|com|gov|net|edu|us|info)\b[\w./?=&#%-]*"
    r"|\(?\d+(?:(?:[.\-\u2010\u2011]|\)?[ \u00a0]?\(?)\d+)*\)?"
)


def _isolate_text(text: str) -> str:
    def wrap(match: re.Match) -> str:
        start, end = match.start(), match.end()
        if text[max(0, start - 1):start] == LRI and text[end:end + 1] == PDI:
            return match.group(0)
        return LRI + match.group(0) + PDI

    return LTR_RUN_RE.sub(wrap, text)


def isolate_numbers(html: str) -> str:
    """`html` with every number and web address of its body isolated left to right, when
    it holds right-to-left text; unchanged otherwise."""
    if not RTL_DOCUMENT_RE.search(html):
        return html
    body = BODY_RE.search(html)
    if body is None:
        return html
    chunk, out, at = body.group(0), [], 0
    for style in STYLE_RE.finditer(chunk):
        out.append(_isolate_chunk(chunk[at:style.start()]))
        out.append(style.group(0))
        at = style.end()
    out.append(_isolate_chunk(chunk[at:]))
    return html[:body.start()] + "".join(out) + html[body.end():]


def _isolate_chunk(chunk: str) -> str:
    return TEXT_RE.sub(lambda m: ">" + _isolate_text(m.group(1)) + "<", chunk)
