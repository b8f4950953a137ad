"""Finding topics by what patients say: "sleep", "hearing voices", "drinking", "panic
attack", "can't eat".

Each topic is searched in every language it has, over its title, its `keywords` (the
words patients use, in the topic file), its summary, its section headings and its body.
A query word matches a word of the topic that starts with it, or with its stem ("drinking"
finds "drink"); words of Chinese, Japanese and Korean, written without spaces, match as
parts of the text. A topic scores the weight of the best place each query word matched
(title 5, keywords 4, summary 3, headings 2, body 1), a phrase found whole in its
keywords or title scores more, and topics are ranked by score, then by id. A topic must
match most of the query's words (all of them for two or fewer).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .library import DEFAULT_LANG, Library
from .measures import plain_text
from .topic import Topic

WEIGHTS = {"title": 5, "keywords": 4, "summary": 3, "headings": 2, "body": 1}
PHRASE_BONUS = 6
WORD_RE = re.compile(r"\w+")
CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# Words that say nothing about a topic.
STOPWORDS = frozenset("""a an and are as at be for from how i in is it me my of on or the
to what when with you your do does can""".split())
SUFFIXES = ("ing", "ers", "ies", "ed", "es", "er", "s", "y")


def fold(text: str) -> str:
    """Lower case without accents or apostrophes ("Can't" -> "cant", "Díaz" -> "diaz")."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return re.sub(r"['’`]", "", text)


def stem(word: str) -> str:
    """A word without a common English ending, kept at least 4 letters long."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def query_words(query: str) -> list[str]:
    """The words of a query that carry meaning."""
    words = WORD_RE.findall(fold(query))
    kept = [w for w in words if w not in STOPWORDS]
    return kept or words


@dataclass(frozen=True)
class Hit:
    """A topic found: its id, the language it matched in, its title, score and where."""

    topic_id: str
    lang: str
    title: str
    score: int
    fields: tuple[str, ...]

    def as_dict(self) -> dict:
        return {"id": self.topic_id, "lang": self.lang, "title": self.title,
                "score": self.score, "matched": list(self.fields)}


def _fields(topic: Topic) -> dict[str, str]:
    parts = ([topic.intro] if topic.intro else []) + list(topic.sections)
    return {"title": topic.title, "keywords": " · ".join(topic.keywords),
            "summary": topic.summary, "headings": " · ".join(s.title for s in topic.sections),
            "body": "\n".join(plain_text(p) for p in parts)}


def _matches(word: str, text: str, words: set[str]) -> bool:
    if CJK_RE.search(word):
        return word in text
    root = stem(word)
    return any(w.startswith(word) or (len(root) >= 4 and w.startswith(root)) for w in words)


def score_topic(topic: Topic, words: list[str], phrase: str) -> tuple[int, tuple[str, ...]]:
    """How well `topic` matches the query words (0: not enough of them)."""
    folded = {name: fold(text) for name, text in _fields(topic).items()}
    tokens = {name: set(WORD_RE.findall(text)) for name, text in folded.items()}
    score, matched, found = 0, set(), 0
    for word in words:
        best = 0
        for name, weight in WEIGHTS.items():
            if weight > best and _matches(word, folded[name], tokens[name]):
                best = weight
                matched.add(name)
        found += bool(best)
        score += best
    needed = len(words) if len(words) <= 2 else (len(words) + 1) // 2
    if found < needed:
        return 0, ()
    if len(words) > 1 and any(phrase in folded[n] for n in ("title", "keywords")):
        score += PHRASE_BONUS
    order = [name for name in WEIGHTS if name in matched]
    return score, tuple(order)


def search(library: Library, query: str, lang: str = DEFAULT_LANG, limit: int = 10) -> list[Hit]:
    """Topics for a query, best first: each topic's best-scoring language, shown with its
    title in `lang` when it has one."""
    words = query_words(query)
    if not words:
        return []
    phrase = " ".join(WORD_RE.findall(fold(query)))
    hits = []
    for topic_id in library.topic_ids:
        best: tuple[int, str, tuple[str, ...]] = (0, "", ())
        for topic_lang in library.languages(topic_id):
            score, fields = score_topic(library.topic(topic_id, topic_lang), words, phrase)
            if score > best[0]:
                best = (score, topic_lang, fields)
        if best[0]:
            shown = lang if library.has(topic_id, lang) else best[1]
            hits.append(Hit(topic_id, shown, library.topic(topic_id, shown).title, best[0],
                            best[2]))
    hits.sort(key=lambda h: (-h.score, h.topic_id))
    return hits[:limit]
