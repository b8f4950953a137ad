"""The Infobutton's language codes: BCP 47 tags with scripts and regions, MedlinePlus
Connect's "sp", and ISO 639-2 codes, mapped to the library's language tags."""

from __future__ import annotations

import pytest

from handoutkit.serve.infobutton import library_language

HAVE = ["ar", "en", "es", "ko", "ru", "tl", "vi", "zh-Hans", "zh-Hant"]


@pytest.mark.parametrize("asked, lang", [
    ("en", "en"), ("en-US", "en"), ("EN_us", "en"), ("es-419", "es"),
    ("sp", "es"),  # MedlinePlus Connect's own code for Spanish
    ("spa", "es"), ("vie", "vi"), ("kor", "ko"), ("tgl", "tl"), ("fil", "tl"), ("ara", "ar"),
    ("zh-Hans", "zh-Hans"), ("zh-hant", "zh-Hant"), ("ZH-HANT-TW", "zh-Hant"),
    ("zh", "zh-Hans"), ("zh-CN", "zh-Hans"), ("zh-SG", "zh-Hans"),
    ("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-MO", "zh-Hant"),
    ("zho", "zh-Hans"), ("chi", "zh-Hans"), ("cmn", "zh-Hans"), ("yue", "zh-Hant"),
    ("ko-KR", "ko"), ("ar-EG", "ar"),
])
def test_codes_map_to_the_library_s_tags(asked, lang):
    assert library_language(asked, HAVE) == lang


@pytest.mark.parametrize("asked", ["zz", "fr", "zh-Latn", "", "-"])
def test_codes_the_library_does_not_have(asked):
    assert library_language(asked, HAVE) is None


def test_a_library_with_only_one_chinese_script():
    assert library_language("zh-TW", ["en", "zh-Hans"]) is None  # never the other script
    assert library_language("zh-TW", ["en", "zh"]) == "zh"
