"""Finding topics by what patients say (search.py, `handouts find WORDS`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.content.search import fold, query_words, search, stem


@pytest.mark.parametrize("query,expected", [
    ("sleep", "insomnia"),
    ("can't sleep", "insomnia"),
    ("hearing voices", "psychotherapy"),
    ("drinking", "substance-use"),
    ("panic attack", "panic-disorder"),
    ("can't eat", "eating-disorders"),
    ("Worrying", "generalized-anxiety"),
    ("flashbacks", "ptsd"),
    ("quiero morir", "suicide-prevention"),
    ("自杀", "suicide-prevention"),
])
def test_what_patients_say_finds_the_topic_first(query, expected):
    hits = search(Library(), query)
    assert hits and hits[0].topic_id == expected, [h.topic_id for h in hits]


def test_ranked_by_where_the_words_are():
    hits = search(Library(), "sleep")
    assert hits[0].topic_id == "insomnia" and "keywords" in hits[0].fields
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(hits) > 1  # other topics that speak of sleep, lower


def test_keywords_come_from_the_topic_file(make_library):
    text = (Library().topic("insomnia").path.read_text(encoding="utf-8")
            .replace("keywords: [", 'keywords: ["zzqx night owl", '))
    root = make_library({"handouts/insomnia.en.md": text})
    assert search(Library(root), "zzqx")[0].topic_id == "insomnia"
    assert not search(Library(), "zzqx")


def test_a_topic_found_in_another_language_says_so():
    hits = search(Library(), "quiero morir", lang="ko")
    assert hits[0].topic_id == "suicide-prevention" and hits[0].lang == "ko"
    hits = search(Library(), "no puedo dormir", lang="es")
    assert all(h.lang in ("es", "en") for h in hits)


def test_words_are_folded_and_stemmed():
    assert fold("Can't DÍAZ") == "cant diaz"
    assert stem("drinking") == "drink" and stem("worries") == "worr" and stem("eat") == "eat"
    assert query_words("what is a panic attack") == ["panic", "attack"]
    assert query_words("the") == ["the"]


def test_find_words_on_the_command_line():
    runner = CliRunner()
    result = runner.invoke(main, ["find", "panic", "attack"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0].startswith("panic-disorder  (Panic Disorder;")
    data = json.loads(runner.invoke(main, ["find", "can't sleep", "--json"]).output)
    assert data["query"] == "can't sleep" and data["topics"][0]["id"] == "insomnia"
    assert set(data["topics"][0]) == {"id", "lang", "title", "score", "matched"}
    codes = runner.invoke(main, ["find", "F41.1"])
    assert "generalized-anxiety" in codes.output and "match on" in codes.output


def test_the_service_searches_the_same_way(tmp_path):
    from test_serve_hardening import make_client

    client = make_client(tmp_path)
    answer = client.get("/v1/topics", params={"q": "panic attack"})
    assert answer.status_code == 200, answer.text
    topics = answer.json()["topics"]
    assert topics[0]["id"] == "panic-disorder" and "keywords" in topics[0]["matched_in"]
    assert [t["id"] for t in topics] == [h.topic_id for h in search(Library(), "panic attack")]
    spanish = client.get("/v1/topics", params={"q": "can't sleep", "lang": "es"}).json()
    assert spanish["topics"][0]["id"] == "insomnia"
    assert client.get("/v1/topics", params={"q": ""}).status_code == 422


def test_the_fallback_is_one_field_of_the_request(tmp_path):
    from handoutkit.request import BuildRequest, RequestError

    request = BuildRequest.from_mapping({"specs": ["insomnia"], "lang": "es",
                                         "fallback": "en"})
    assert request.options().fallback == "en"
    assert BuildRequest.from_mapping(request.as_mapping()) == request
    with pytest.raises(RequestError, match="fallback"):
        BuildRequest.from_mapping({"specs": ["insomnia"], "fallback": "English!"})
