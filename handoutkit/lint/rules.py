"""Content checks for topic files: metadata, links between topics, safety blocks,
reading level, pictures, brand contrast, translations and review dates.

Each check returns findings; errors fail `handouts lint`, warnings only with --strict.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from ..content.brand import Brand
from ..content.library import DEFAULT_LANG, Library
from ..content.measures import (
    Readability,
    contrast_ratio,
    plain_text,
    readability,
)
from ..content.plainwords import ACRONYM_RE, load_plain_words
from ..content.safety import crisis_problems
from ..content.topic import Section, Topic
from ..content.wording import load_strings
from ..errors import HandoutsError
from .blocks import check_blocks, check_same_crisis, has_tool, is_form
from .review import review_findings


@dataclass(frozen=True)
class Limits:
    """Reading-level limits; defaults are the project's plain-language targets."""

    max_grade: float = 7.0  # Flesch-Kincaid grade, whole topic (English)
    max_section_grade: float = 8.0  # Flesch-Kincaid grade, any section (English)
    max_smog: float = 8.0  # SMOG grade, whole topic (English)
    min_ease_es: float = 70.0  # Fernandez-Huerta, whole topic (Spanish)
    min_section_ease_es: float = 60.0  # Fernandez-Huerta, any section (Spanish)
    min_contrast: float = 4.5  # WCAG AA for body-size text
    # Languages without a validated readability formula: the longest sentence allowed, in
    # characters for Chinese, Japanese and Korean (no spaces between words), in words
    # elsewhere. Plain-language guides aim at sentences of about 15-20 words.
    max_sentence_chars_cjk: int = 60
    max_sentence_words: int = 30
    # Vietnamese writes each syllable as a word: the same sentence counts more "words".
    max_sentence_words_vi: int = 40


CJK_LANGS = ("zh", "ja", "ko")
ALT_TODO = "TODO"  # the description `handouts import` gives a picture that had none
# What every crisis block must say, beyond 911 and 988: Spanish readers get the Spanish
# options; readers of every other language but English learn how to ask for an
# interpreter (the name of their language, said in English) and that text and chat are
# English and Spanish only.
SPANISH_CRISIS = ("AYUDA", "988lineadevida.org")
INTERPRETER_CRISIS = ("240",)
# English words that, several in a row, mean a sentence was left untranslated.
ENGLISH_WORDS = frozenset("""the and you your are is of for with that this have can will not
they their when what how if or it does about from by""".split())


@dataclass(frozen=True)
class Finding:
    """One problem lint found: how bad, which check, where, and what to do."""

    severity: str  # "error" | "warning"
    check: str
    path: str
    line: int
    topic: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: [{self.check}] {self.message}"

    def as_dict(self) -> dict:
        """The finding as JSON for `lint --json`."""
        return asdict(self)


class Linter:
    """Checks the library's topics, strings and a brand; collects findings instead of
    stopping at the first."""

    def __init__(self, library: Library, brand: Brand, limits: Limits = Limits(),
                 today: dt.date | None = None, release: bool = False):
        self.library = library
        self.brand = brand
        self.limits = limits
        # Today from the clock (tests pass their own day): review dates are real deadlines.
        self.today = today or dt.date.today()
        # For release, what a handout needs to be understood and acted on is an error.
        self.release = release
        self.plain_words = load_plain_words(library)
        self.findings: list[Finding] = []
        self.readability: list[Readability] = []
        self.checked = 0  # topic files read
        self.crisis_blocks: list[tuple[Topic, Section]] = []  # compared across topics

    def _add(self, severity, check, path, line, topic, message):
        self.findings.append(Finding(severity, check, str(path), line, topic, message))

    def run(self, topic_ids: list[str] | None = None) -> list[Finding]:
        """Check the brand, the layouts' wording and the topics (all, or `topic_ids`);
    returns every finding."""
        wanted = set(topic_ids or [])
        unknown = wanted - set(self.library.topic_ids)
        if unknown:
            # Reuse the library's message, with its close matches.
            self.library.topic(sorted(unknown)[0])
        self._check_brand()
        self._check_strings()
        for entry in self.library.files():
            if wanted and entry.id not in wanted:
                continue
            self.checked += 1
            try:
                topic = self.library.topic(entry.id, entry.lang)
            except HandoutsError as exc:
                path, line, message = _split_location(str(exc), entry.path)
                self._add("error", "metadata", path, line, entry.id, message)
                continue
            self._check_topic(topic)
        for topic, section, message in check_same_crisis(self.crisis_blocks):
            self._add("error", "crisis", topic.path, section.line, topic.id, message)
        return self.findings

    @property
    def errors(self) -> list[Finding]:
        """The findings that fail lint."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """The findings that fail lint only with --strict."""
        return [f for f in self.findings if f.severity == "warning"]

    # -- checks -------------------------------------------------------------------------

    def _check_brand(self) -> None:
        ratio = contrast_ratio(self.brand.color)
        if ratio < self.limits.min_contrast:
            self._add("error", "contrast", self.brand.path, 0, "",
                      f"brand colour {self.brand.color} has contrast {ratio:.2f}:1 with white; "
                      f"WCAG AA needs {self.limits.min_contrast}:1")

    def _check_strings(self) -> None:
        strings = load_strings(self.library)
        langs = {entry.lang for entry in self.library.files()}
        for lang in sorted(langs):
            if not strings.get(lang, {}).get("disclaimer", "").strip():
                self._add("error", "disclaimer", "layouts/strings.toml", 0, "",
                          f"no disclaimer for language '{lang}'")

    # Complexity over 10: independent rules, read top to bottom.
    def _check_topic(self, topic: Topic) -> None:  # noqa: C901
        def add(sev, check, line, msg):
            self._add(sev, check, topic.path, line, topic.id, msg)

        if topic.updated > self.today:
            add("error", "metadata", 0, f"'updated' {topic.updated} is in the future")
        if topic.review_due and topic.review_due < topic.updated:
            add("error", "metadata", 0, "'review_due' is before 'updated'")
        for severity, check, message in review_findings(topic, self.today, self.release):
            add(severity, check, 0, message)
        # The review record (`handouts review`): content changed since, stale translation.
        from ..content_ops.review import lint_findings
        for severity, check, message in lint_findings(self.library, topic, self.today,
                                                      self.release):
            add(severity, check, 0, message)

        for related in topic.related:
            if related == topic.id:
                add("error", "related", 0, "a topic cannot be related to itself")
            elif not self.library.has(related):
                add("error", "related", 0, f"related topic '{related}' does not exist")

        # The crisis rules every build keeps too (safety.py).
        for line, message in crisis_problems(topic, lint=True):
            add("error", "crisis", line, message)

        for image in topic.images:
            if not image.alt:
                add("error", "alt-text", image.line, f"picture {image.src} has no description")
            elif image.alt.upper().startswith(ALT_TODO):
                add("error", "alt-text", image.line, f"picture {image.src} has no description "
                    "yet (the TODO left by 'handouts import'): describe what it shows")
            elif not image.caption:
                add("warning", "picture", image.line,
                    f"picture {image.src} has no caption: write it in quotes after the file "
                    "name")
        needed = "error" if self.release else "warning"
        # A form (a topic that is only a tool, like a one-page plan) teaches nothing to show.
        if not is_form(topic) and not any(i.alt and i.caption for i in topic.images):
            add(needed, "picture", 0, "no picture with a description and a caption: add one "
                "that shows an action or idea of the topic (docs/pictures.md)")
        if not any(has_tool(s) for s in topic.sections):
            add(needed, "tool", 0, "no tool: add a section the reader fills in, with write-in "
                "boxes (a table with empty cells), such as a diary, a log or a plan")
        self._check_plain_words(topic)
        for severity, check, line, message in check_blocks(topic):
            add(severity, check, line, message)

        self._check_translation(topic)

        if topic.mental_health:
            crisis = [s for s in topic.sections if s.required and s.has_emergency]
            if crisis:
                self._check_crisis_language(topic, crisis[0])
                self.crisis_blocks.append((topic, crisis[0]))
        if topic.lang != DEFAULT_LANG:
            self._check_untranslated(topic)
        self._check_template_text(topic)
        self._check_reading_level(topic)
        self._check_sentence_length(topic)

    def _check_translation(self, topic: Topic) -> None:
        """A translation against its English original: version, source version, sections."""
        if topic.lang == DEFAULT_LANG or not self.library.has(topic.id, DEFAULT_LANG):
            return
        def add(sev, check, line, msg):
            self._add(sev, check, topic.path, line, topic.id, msg)
        original = self.library.topic(topic.id, DEFAULT_LANG)
        if _version(topic.version) < _version(original.version):
            add("warning", "translation", 0,
                f"version {topic.version} lags the English version {original.version}")
        if topic.translated_from:
            source_version = topic.translated_from.split()[1]
            if _version(original.version) > _version(source_version):
                add("warning", "translation", 0,
                    f"translated from English version {source_version}; the English "
                    f"topic is now version {original.version}: update the translation")
        if topic.section_ids != original.section_ids:
            add("warning", "translation", 0,
                "section ids differ from the English version: "
                f"{', '.join(topic.section_ids)} vs {', '.join(original.section_ids)}")

    def _check_crisis_language(self, topic: Topic, crisis: Section) -> None:
        """The crisis block gives the ways to reach 988 that work in the reader's language."""
        text = plain_text(crisis)
        if topic.lang == "es":
            wanted = SPANISH_CRISIS
            missing_text = "the Spanish 988 options (press 2, text AYUDA, 988lineadevida.org)"
        elif topic.lang == DEFAULT_LANG:
            return
        else:
            wanted = INTERPRETER_CRISIS
            missing_text = ("how to get a free 988 interpreter (240+ languages) and that 988 "
                            "text and chat are English and Spanish only")
        if not all(word in text for word in wanted) or (
                topic.lang == "es" and not re.search(r"\b2\b", text)):
            self._add("error", "crisis", topic.path, crisis.line, topic.id,
                      f"crisis section does not give {missing_text}")

    def _check_untranslated(self, topic: Topic) -> None:
        """A sentence of a translation that reads as English was left untranslated."""
        for section in topic.sections:
            for sentence in plain_text(section).splitlines():
                words = re.findall(r"[A-Za-z']+", sentence.lower())
                common = [w for w in words if w in ENGLISH_WORDS]
                if len(words) >= 6 and len(common) >= 3 and len(words) * 2 >= len(
                        sentence.split()):
                    self._add("error", "untranslated", topic.path, section.line, topic.id,
                              f"section '{section.id}' has an English sentence: "
                              f"'{sentence[:60]}'")
                    break

    def _check_sentence_length(self, topic: Topic) -> None:
        """For languages without a validated formula: no sentence over the limit."""
        if topic.lang in (DEFAULT_LANG, "es"):
            return
        cjk = topic.lang.split("-")[0] in CJK_LANGS
        limit = (self.limits.max_sentence_chars_cjk if cjk else self.limits.max_sentence_words_vi
                 if topic.lang == "vi" else self.limits.max_sentence_words)
        unit = "characters" if cjk else "words"
        for section in topic.sections:
            for sentence in _sentences(plain_text(section), cjk):
                size = len(re.sub(r"\s", "", sentence)) if cjk else len(sentence.split())
                if size > limit:
                    self._add("error", "sentence-length", topic.path, section.line, topic.id,
                              f"section '{section.id}': a sentence of {size} {unit} (at most "
                              f"{limit}): '{sentence[:40]}...'")

    def _check_plain_words(self, topic: Topic) -> None:  # noqa: C901 (jargon, acronyms, first uses)
        rules = self.plain_words.get(topic.lang)
        if rules is None:
            return
        severity = "error" if self.release else "warning"
        def add(line, check, msg):
            self._add(severity, check, topic.path, line, topic.id, msg)
        parts = [(0, topic.title)]
        for section in ([topic.intro] if topic.intro else []) + list(topic.sections):
            parts.append((section.line, plain_text(section)))
        for word, instead in rules.jargon.items():
            # "confidential (private)": the word a source uses, with the plain word after it.
            pattern = re.compile(rf"(?<![\w-]){re.escape(word)}(?![\w-])"
                                 rf"(?! \({re.escape(instead)}\))", re.I)
            for line, text in parts:
                if pattern.search(text):
                    add(line, "jargon", f"'{word}' is jargon: say '{instead}'")
                    break
        # The crisis block's wording is fixed per language (one wording, checked on its own)
        # and names the Lifeline's services as it does (TTY, ASL): not counted here.
        fixed = {s.line for s in topic.sections if s.required and s.has_emergency}
        seen: dict[str, int] = {}
        for line, text in parts:
            if line in fixed:
                continue
            for match in ACRONYM_RE.finditer(text):
                acronym = match.group(0)
                if acronym in rules.acronyms_allowed or acronym in seen:
                    continue
                seen[acronym] = line
                before, after = text[:match.start()], text[match.end():]
                in_brackets = before.endswith("(") and after.startswith(")")
                explained = (after.startswith((" (", ", or ", " stands for"))
                             or before.endswith((", or ", " or ", "llaman ")))
                if not (in_brackets or explained):
                    add(line, "acronym", f"'{acronym}' is not spelled out at first use: "
                        f"write the words, then '({acronym})'")
        if len(seen) > rules.max_acronyms:
            add(0, "acronym", f"{len(seen)} acronyms ({', '.join(seen)}); use at most "
                f"{rules.max_acronyms} and write the others as words")

    def _check_template_text(self, topic: Topic) -> None:
        """Text of `handouts new`'s template that the author has not replaced yet."""
        from ..content_ops.scaffold import template_text

        for number, placeholder in template_text(topic.path.read_text(encoding="utf-8")):
            self._add("error", "template", topic.path, number, topic.id,
                      f"template text left in: '{placeholder}' (write your own)")

    def _check_reading_level(self, topic: Topic) -> None:
        result = readability(topic)
        if result is None:
            return
        self.readability.append(result)
        limits = self.limits
        english = topic.lang == "en"  # a grade (lower is easier), else an ease (higher is)

        def too_hard(score, limit):
            return score > limit if english else score < limit

        if english:
            topic_limit, section_limit, word = limits.max_grade, limits.max_section_grade, "above"
        else:
            topic_limit, section_limit = limits.min_ease_es, limits.min_section_ease_es
            word = "below"
        if result.smog is not None and result.smog > limits.max_smog:
            self._add("error", "reading-level", topic.path, 0, topic.id,
                      f"SMOG grade {result.smog} is above the limit {limits.max_smog}: use "
                      "shorter words (fewer of three syllables or more) and shorter sentences")
        if too_hard(result.score, topic_limit):
            self._add("error", "reading-level", topic.path, 0, topic.id,
                      f"{result.measure} {result.score} is {word} the limit {topic_limit}")
        for section, score in result.sections:
            if too_hard(score, section_limit):
                self._add("error", "reading-level", topic.path, section.line, topic.id,
                          f"section '{section.id}': {result.measure} {score} is {word} "
                          f"the limit {section_limit}")


def _sentences(text: str, cjk: bool) -> list[str]:
    """Sentences: split after . ! ? (their full-width forms, and the full stops of other
    scripts) or a line break."""
    # ।: Hindi, Bengali, Punjabi; ። and ፧: Amharic (Ethiopic full stop, question mark)
    marks = r"[.!?;。！？；]" if cjk else r"[.!?;؟۔।።፧]"
    return [s.strip() for line in text.splitlines()
            for s in re.split(rf"(?<={marks})\s*", line) if s.strip()]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _split_location(message: str, path: Path) -> tuple[str, int, str]:
    """Split 'file:line: message' (as the reader reports it) into its parts."""
    match = re.match(rf"^{re.escape(str(path))}(?::(\d+))?: (.*)$", message)
    if match:
        return str(path), int(match[1] or 0), match[2]
    return str(path), 0, message
