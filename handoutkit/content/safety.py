"""The crisis rules every build keeps, not only `handouts lint`.

A topic is a mental-health topic when its header says so, when it is coded in chapter F
of ICD-10-CM (mental, behavioural and neurodevelopmental disorders, F01-F99), when it
speaks of suicide or self-harm, or when it is a copy of a bundled mental-health topic: a
clinic's copy cannot turn the crisis block off. A mental-health topic must have a required
section holding the crisis block (`::: emergency`) that gives 911 and 988. No topic may
hold bidi control characters (they can make "911" print as "119"), and no crisis number
may sit in an editor's note (`<!-- -->`), which never prints.
"""

from __future__ import annotations

import re
import unicodedata

from .measures import CRISIS_NUMBERS, plain_text
from .topic import COMMENT_RE, Topic

F_CODE_RE = re.compile(r"^F\d")
# Words that make a topic one about suicide or self-harm, in the languages of the library.
SUICIDE_RE = re.compile(
    r"suicid|self-harm|self harm|harm (?:yourself|themselves|myself)|kill (?:yourself|myself)"
    r"|suicidio|autolesi|自杀|自殺|자살|tự tử|pagpapakamatay|самоубийств|суицид|انتحار",
    re.I)
BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


def mental_health_reason(topic: Topic, bundled: Topic | None = None) -> str | None:
    """Why `topic` is a mental-health topic whatever its header says, or None."""
    if bundled is not None and bundled.mental_health:
        return f"it is a copy of the bundled mental-health topic '{bundled.id}'"
    code = next((c for c in topic.codes if F_CODE_RE.match(c)), None)
    if code:
        return f"it is coded {code} (ICD-10-CM chapter F)"
    parts = ([topic.intro] if topic.intro else []) + list(topic.sections)
    for part in parts:
        if SUICIDE_RE.search(plain_text(part)) or SUICIDE_RE.search(part.title or ""):
            return "it speaks of suicide or self-harm"
    if SUICIDE_RE.search(topic.title):
        return "it speaks of suicide or self-harm"
    return None


# Complexity over 10: one branch per crisis rule.
def crisis_problems(topic: Topic, text: str | None = None, *,  # noqa: C901
                    lint: bool = False) -> list[tuple[int, str]]:
    """What breaks the crisis rules in a topic, as (line, message); `text` is the topic
    file's text (read from its path when not given). A build prints a mental-health
    topic's crisis box even from a section not marked required; `lint` asks for the mark."""
    problems: list[tuple[int, str]] = []
    if text is None:
        text = topic.path.read_text(encoding="utf-8")
    for number, line in enumerate(text.splitlines(), start=1):
        bidi = BIDI_CONTROL_RE.search(line)
        if bidi:
            char = bidi.group()
            problems.append((number, f"line {number} holds U+{ord(char):04X} "
                             f"{unicodedata.name(char)}, which can make numbers print in "
                             "another order (\"911\" as \"119\"); remove it"))
            break
    for comment in COMMENT_RE.finditer(text):
        for crisis_number in CRISIS_NUMBERS:
            if re.search(rf"(?<!\d){crisis_number}(?!\d)", comment.group(0)):
                line = text.count("\n", 0, comment.start()) + 1
                problems.append((line, f"{crisis_number} is inside an editor's note "
                                 "(<!-- -->), which never prints; take it out of the note"))
                break
    if topic.mental_health:
        crisis = [s for s in topic.sections if s.has_emergency and (s.required or not lint)]
        if not crisis and not lint and topic.intro is not None and topic.intro.has_emergency:
            crisis = [topic.intro]
        if not crisis and lint:
            problems.append((0, "mental-health topic without a required section holding an "
                             "::: emergency callout"))
        elif not crisis:
            problems.append((0, "a mental-health topic must print its crisis block (an "
                             "'::: emergency' callout in a section marked {.required})"))
        else:
            words = plain_text(crisis[0])
            for number in CRISIS_NUMBERS:
                if not re.search(rf"(?<!\d){number}(?!\d)", words):
                    problems.append((crisis[0].line, f"crisis section does not give {number}"))
    return problems
