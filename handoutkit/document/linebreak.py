"""Korean lines break between words, never inside one.

Korean is written with spaces between words (eojeol), and Korean typography breaks lines
only at those spaces (CSS `word-break: keep-all`). WeasyPrint does not support keep-all,
and the Unicode line-breaking rules let a line break between any two Hangul syllables, so
a word could be cut in two ("있습니" / "다."). Each Korean word in a document's body is kept
whole in a `<span class="word">`, which the layouts print with `white-space: nowrap`
(running headers and footers, made from attributes, are not).
Chinese and Japanese, written without spaces, may break between any two characters, as
their typography does, but not inside a short group in full-width brackets ("（英语或西班牙语）",
"（TTY）"): a word in brackets is read as one.
"""

from __future__ import annotations

import re

# A run of non-space characters holding at least one Hangul syllable or jamo.
HANGUL_WORD = re.compile(r"[^\s<>]*[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3][^\s<>]*")
TEXT = re.compile(r">([^<]+)<")
# A short group in full-width brackets, without spaces (Chinese, Japanese).
BRACKETED = re.compile(r"（[^（）\s<>]{1,12}）")


def keep_words(html: str) -> str:
    """A document with each Korean word, and each short group in full-width brackets, of
    its body kept whole on its line (the head, with the title, is left as it is)."""
    head, body, rest = html.partition("<body")
    if not body:
        return html
    if HANGUL_WORD.search(rest):
        rest = TEXT.sub(lambda m: ">" + HANGUL_WORD.sub(
            r'<span class="word">\g<0></span>', m.group(1)) + "<", rest)
    if BRACKETED.search(rest):
        rest = TEXT.sub(lambda m: ">" + BRACKETED.sub(
            r'<span class="word">\g<0></span>', m.group(1)) + "<", rest)
    return head + body + rest
