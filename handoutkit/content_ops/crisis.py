"""The standard crisis block of a language (the `::: emergency` box every mental-health
topic of that language shares word for word, as lint requires) and the words that make a
handout a mental-health one."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from handoutkit.content.library import Library
from handoutkit.errors import HandoutsError
from handoutkit.lint.blocks import crisis_wording

# Words that make a handout speak of suicide, self-harm, overdose or a mental-health
# condition (English and Spanish; other languages fall back to English words, which
# imported handouts often keep).
MENTAL_HEALTH_WORDS = {
    "en": r"suicid\w*|self[- ]harm\w*|hurt(?:ing)? (?:yourself|themselves)|overdos\w*|"
          r"mental health|mental illness|depress\w*|anxiety|panic|bipolar|schizophreni\w*|"
          r"psychos[ie]s|psychotic|post-?traumatic|PTSD|eating disorders?|anorexia|bulimia|"
          r"obsessive|OCD|substance use|addiction",
    "es": r"suicid\w*|autolesi\w*|hacerse da[ñn]o|sobredosis|salud mental|"
          r"enfermedad mental|depresi\w*|ansiedad|p[áa]nico|bipolar|esquizofreni\w*|"
          r"psicosis|trastornos? de la alimentaci[óo]n|adicci\w*",
}


def mental_health_words(text: str, lang: str) -> list[str]:
    """The mental-health words a text uses (each once, as first written)."""
    pattern = "|".join({MENTAL_HEALTH_WORDS.get(lang, ""), MENTAL_HEALTH_WORDS["en"]} - {""})
    seen: dict[str, str] = {}
    for match in re.finditer(rf"(?<![\w-])(?:{pattern})(?![\w-])", text, re.I):
        seen.setdefault(match.group(0).lower(), match.group(0))
    return list(seen.values())


@dataclass(frozen=True)
class CrisisBlock:
    """A language's standard crisis section: its heading, the box's Markdown (between the
    `::: emergency` and `:::` lines) and the topics it was taken from."""

    lang: str
    heading: str
    box: str
    topics: tuple[str, ...]

    def section(self) -> str:
        """The whole crisis section, as a topic's last section."""
        return f"## {self.heading} {{#crisis .required}}\n\n::: emergency\n{self.box}\n:::\n"


def box_lines(path: Path, start_line: int) -> str:
    """The lines of the first `::: emergency` box at or after `start_line` (1-based)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    inside, found = False, []
    for line in lines[start_line - 1:]:
        if not inside and re.match(r"^:::\s*emergency\s*$", line):
            inside = True
        elif inside and re.match(r"^:::\s*$", line):
            return "\n".join(found).strip("\n")
        elif inside:
            found.append(line)
    return ""


def standard_block(library: Library, lang: str) -> CrisisBlock | None:
    """The crisis block most of the library's mental-health topics in `lang` use, or None
    when no topic of that language has one."""
    by_wording: dict[str, list] = {}
    for entry in library.files():
        if entry.lang != lang:
            continue
        try:
            topic = library.topic(entry.id, entry.lang)
        except HandoutsError:
            continue
        crisis = next((s for s in topic.sections if s.required and s.has_emergency), None)
        if topic.mental_health and crisis is not None:
            by_wording.setdefault(crisis_wording(crisis), []).append((topic, crisis))
    if not by_wording:
        return None
    wording, users = max(by_wording.items(), key=lambda item: (len(item[1]), item[0]))
    topic, section = users[0]
    return CrisisBlock(lang, section.title, box_lines(topic.path, section.line),
                       tuple(t.id for t, _ in users))
