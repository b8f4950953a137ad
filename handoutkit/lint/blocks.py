"""Lint checks of a topic's boxes and teach-back parts: only known `::: name` blocks, a
key-points box of exactly three short points, and a questions section to take to the
care team. Each check yields (severity, check, line, message)."""

from __future__ import annotations

from typing import Iterator

from markdown_it.token import Token

from ..content.blocks import BLOCKS, KEY_POINTS, MAX_POINT_WORDS
from ..content.topic import Section, Topic

QUESTIONS_ID = "questions"
QUESTIONS = (3, 6)  # how many questions the questions section lists

Finding = tuple[str, str, int, str]


def has_tool(section: Section) -> bool:
    """Whether the section is a tool: it holds a `::: write-in` box or a table with
    write-in (empty) cells."""
    tokens = section.tokens
    return any(t.type == "container_write-in_open" or (
        t.type == "td_open" and i + 1 < len(tokens) and tokens[i + 1].type == "inline"
        and not tokens[i + 1].content.strip()) for i, t in enumerate(tokens))


def is_form(topic: Topic) -> bool:
    """Whether the topic is a form: every section but the required ones is a tool. A form
    needs no picture, key-points box or questions section."""
    return all(has_tool(s) or s.required for s in topic.sections)


def _parts(topic: Topic) -> list[Section]:
    return ([topic.intro] if topic.intro else []) + list(topic.sections)


def check_blocks(topic: Topic) -> Iterator[Finding]:
    """Every box is a known block; a key-points box holds three short points; a tip or a
    warning is not empty; every topic has a key-points box and a questions section."""
    key_points = 0
    for section in _parts(topic):
        tokens = list(section.tokens)
        for index, token in enumerate(tokens):
            if token.type == "inline" and token.content.startswith(":::") and index and (
                    tokens[index - 1].type == "paragraph_open"):
                name = token.content.strip()[3:].split("\n")[0].strip()
                what = f"'::: {name}' is not a block" if name else "a ':::' line closes no block"
                yield ("error", "block", section.line,
                       f"section '{section.id}': {what} (blocks: {', '.join(BLOCKS)})")
            elif token.type == "container_key-points_open":
                key_points += 1
                yield from _check_key_points(section, tokens, index)
            elif token.type == "container_write-in_open":
                yield from _check_write_in(section, tokens, index)
            elif token.type in ("container_tip_open", "container_warning_open") and (
                    index + 1 == len(tokens) or tokens[index + 1].type.startswith("container_")):
                yield ("error", "block", section.line,
                       f"section '{section.id}': an empty '::: {token.info.strip()}' box")
    if is_form(topic):
        return
    if not key_points:
        yield ("warning", "key-points", 0, "no '::: key-points' box: add the three points a "
               "reader should remember, as the last block before the questions")
    yield from _check_questions(topic)


def _inside(tokens: list[Token], start: int) -> list[Token]:
    """The tokens between a block's opening token and its closing one."""
    depth, end = 0, start
    for end in range(start, len(tokens)):
        depth += tokens[end].nesting if tokens[end].type.startswith("container_") else 0
        if depth == 0:
            break
    return tokens[start + 1:end]


def _check_key_points(section: Section, tokens: list[Token], start: int) -> Iterator[Finding]:
    body = _inside(tokens, start)
    top = tokens[start].level + 1
    outer = [t for t in body if t.level == top]
    items = [i for i, t in enumerate(body) if t.type == "list_item_open" and t.level == top + 1]
    nested = any(t.type.endswith("_list_open") and t.level > top for t in body)
    where = f"section '{section.id}': the key-points box"
    if not outer or outer[0].type != "bullet_list_open" or outer[-1].type != "bullet_list_close" \
            or any(t.type == "bullet_list_open" for t in outer[1:]) or nested:
        yield ("error", "key-points", section.line,
               f"{where} must hold only a list of {KEY_POINTS} points ('- ' lines)")
        return
    if len(items) != KEY_POINTS:
        yield ("error", "key-points", section.line,
               f"{where} has {len(items)} points; write exactly {KEY_POINTS}")
    for index in items:
        text = next(t.content for t in body[index:] if t.type == "inline")
        if len(text.split()) > MAX_POINT_WORDS:
            yield ("warning", "key-points", section.line,
                   f"{where}: '{text[:40]}...' has {len(text.split())} words; keep each "
                   f"point to one short sentence ({MAX_POINT_WORDS} words at most)")


def _check_write_in(section: Section, tokens: list[Token], start: int) -> Iterator[Finding]:
    body = _inside(tokens, start)
    top = tokens[start].level + 1
    items = [i for i, t in enumerate(body) if t.type == "list_item_open" and t.level == top + 1]
    where = f"section '{section.id}': the write-in box"
    lists = ("bullet_list_open", "bullet_list_close", "ordered_list_open", "ordered_list_close")
    if not items or any(t.level == top and t.type not in lists for t in body):
        yield ("error", "block", section.line,
               f"{where} must hold only a list of items ('- Label ___' or '1. Label ___')")
        return
    for index in items:
        if not body[index].attrGet("class"):
            label = next(t.content for t in body[index:] if t.type == "inline")
            yield ("error", "block", section.line,
                   f"{where}: '{label[:40]}' has no '___' to write on (one '___' a line)")


def _check_questions(topic: Topic) -> Iterator[Finding]:
    section = topic.section(QUESTIONS_ID)
    if section is None:
        yield ("warning", "questions", 0, "no questions section: add '## Questions to ask your "
               "care team {#questions}' with 3 to 6 questions, before the crisis section")
        return
    tokens = list(section.tokens)
    top = min((t.level for t in tokens), default=0)
    count = sum(1 for t in tokens if t.type == "list_item_open" and t.level == top + 1)
    low, high = QUESTIONS
    if not count and any(t.type == "table_open" for t in tokens):
        # A questions tool (a table to write the answers in) may hold more, and blank rows.
        high = 99
        count = sum(1 for i, t in enumerate(tokens) if t.type == "td_open"
                    and tokens[i - 1].type == "tr_open" and tokens[i + 1].content.strip())
    if not low <= count <= high:
        yield ("warning", "questions", section.line,
               f"the questions section lists {count} questions; list {low} to {high}")


def crisis_wording(section: Section) -> str:
    """The words of a section's crisis block (its `::: emergency` box), spaces evened out."""
    tokens = list(section.tokens)
    start = next((i for i, t in enumerate(tokens) if t.type == "container_emergency_open"), None)
    if start is None:
        return ""
    return " ".join(" ".join(t.content.split()) for t in _inside(tokens, start)
                    if t.type == "inline")


def check_same_crisis(blocks: list[tuple[Topic, Section]]) -> Iterator[tuple[Topic, Section, str]]:
    """Every crisis block of one language says the same words: the wording most topics use
    is the reference; yields (topic, section, message) for each topic that differs."""
    by_lang: dict[str, list[tuple[Topic, Section, str]]] = {}
    for topic, section in blocks:
        by_lang.setdefault(topic.lang, []).append((topic, section, crisis_wording(section)))
    for entries in by_lang.values():
        counts: dict[str, list[str]] = {}
        for topic, _, text in entries:
            counts.setdefault(text, []).append(topic.id)
        if len(counts) < 2:
            continue
        reference, users = max(counts.items(), key=lambda item: (len(item[1]), item[0]))
        for topic, section, text in entries:
            if text != reference:
                at = next((i for i, (a, b) in enumerate(zip(text, reference)) if a != b),
                          min(len(text), len(reference)))
                yield (topic, section,
                       f"the crisis block is not word for word the one in {', '.join(users)}: "
                       f"it differs at '{text[max(0, at - 15):at + 25]}' (every crisis block of "
                       "one language must say the same words)")
