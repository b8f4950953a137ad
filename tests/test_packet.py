"""Packets: several topics in one tagged, navigable PDF."""

import os
import re
import subprocess

import pytest
from click.testing import CliRunner
from conftest import page_texts, pdffonts, source_headings
from pypdf import PdfReader

from handoutkit.build import BuildOptions, build
from handoutkit.cli import main
from handoutkit.content.library import Library
from handoutkit.errors import SpecError
from handoutkit.options import Personal

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

SPECS = ["psychotherapy", "depression-adults:what-is,treatment", "insomnia"]
TITLES = ["Psychotherapy", "Depression in Adults", "Insomnia"]


@pytest.fixture(scope="module")
def packets(tmp_path_factory):
    os.environ["SOURCE_DATE_EPOCH"] = "1795651200"
    out = tmp_path_factory.mktemp("packets")
    personal = Personal("Ana Díaz", "2026-11-26", "Dr. Lee", None)
    paths = {}
    for name, duplex in (("simplex", False), ("duplex", True)):
        paths[name] = out / f"{name}.pdf"
        paths[name].write_bytes(build(Library(), SPECS, BuildOptions(personal=personal,
                                                                     duplex=duplex)))
    return paths


def outline(reader):
    """[(title, page number, [(child title, page number), ...]), ...]"""
    result = []
    for item in reader.outline:
        if isinstance(item, list):
            result[-1][2].extend((c.title, reader.get_destination_page_number(c) + 1)
                                 for c in item)
        else:
            result.append((item.title, reader.get_destination_page_number(item) + 1, []))
    return result


def test_bookmarks_topics_with_sections_nested(packets):
    reader = PdfReader(packets["simplex"])
    tree = outline(reader)
    assert [title for title, _, _ in tree] == TITLES
    assert [c for c, _ in tree[0][2]] == source_headings("psychotherapy")
    assert [c for c, _ in tree[1][2]] == ["What is depression?", "How is depression treated?",
                                          "What if I am in crisis?"]


def test_contents_page_numbers_are_the_real_start_pages(packets):
    for path in packets.values():
        reader = PdfReader(path)
        starts = {title: page for title, page, _ in outline(reader)}
        cover = " ".join(page_texts(path)[0].split())
        for title in TITLES:
            match = re.search(re.escape(title) + r" \(Version [\d.]+\)[ .]*Page (\d+)",
                              cover)
            assert match, (title, cover)
            assert int(match.group(1)) == starts[title]
            # The printed number on that page says the same.
            assert f"Page {starts[title]} of {len(reader.pages)}" in " ".join(
                page_texts(path)[starts[title] - 1].split())


def test_contents_entries_are_links_to_the_topics(packets):
    reader = PdfReader(packets["simplex"])
    starts = {title: page for title, page, _ in outline(reader)}
    targets = link_target_pages(reader, 0)
    assert set(targets) == set(starts.values())
    # Each link says where it goes (PDF/UA: a link's alternate description), not a URI.
    descriptions = {str(a.get_object()["/Contents"]) for a in reader.pages[0]["/Annots"]}
    assert descriptions == set(TITLES)


def link_target_pages(reader, page_index):
    pages = []
    named = reader.named_destinations
    for annot in reader.pages[page_index].get("/Annots", []):
        annot = annot.get_object()
        if annot.get("/Subtype") != "/Link":
            continue
        dest = annot.get("/Dest") or annot.get("/A", {}).get("/D")
        if dest is None:
            continue
        if isinstance(dest, (str, bytes)) or hasattr(dest, "original_bytes"):
            dest = named[str(dest)]
            pages.append(reader.get_destination_page_number(dest) + 1)
        else:
            pages.append(reader.get_page_number(dest[0].get_object()) + 1)
    return pages


def test_every_page_numbered_of_the_packet_total(packets):
    pages = page_texts(packets["simplex"])
    reader = PdfReader(packets["simplex"])
    assert "/PageLabels" in reader.trailer["/Root"]  # set, not left to each viewer's default
    labels = reader.page_labels
    for number, page in enumerate(pages, 1):
        assert f"Page {number} of {len(pages)}" in " ".join(page.split())
        assert labels[number - 1] == str(number)  # what a viewer shows as the page number


def test_each_topic_keeps_its_version_stamp(packets):
    reader = PdfReader(packets["simplex"])
    tree = outline(reader)
    pages = page_texts(packets["simplex"])
    bounds = [page for _, page, _ in tree] + [len(pages) + 1]
    for (title, start, _), end in zip(tree, bounds[1:]):
        topic_id = {"Psychotherapy": "psychotherapy", "Depression in Adults":
                    "depression-adults", "Insomnia": "insomnia"}[title]
        for page in pages[start - 1:end - 1]:
            version = Library().topic(topic_id).version
            assert f"{title} · Version {version} · Printed" in " ".join(page.split())
        version = Library().topic(topic_id).version
        assert f"Topic {topic_id} · Version {version}" in " ".join(pages[end - 2].split())


def test_duplex_topics_start_on_odd_pages_and_total_is_even(packets):
    reader = PdfReader(packets["duplex"])
    assert len(reader.pages) % 2 == 0
    for _, start, _ in outline(reader):
        assert start % 2 == 1
    simplex = PdfReader(packets["simplex"])
    assert len(reader.pages) > len(simplex.pages)


def test_related_topics_in_the_packet_are_links_to_them(packets):
    reader = PdfReader(packets["simplex"])
    tree = outline(reader)
    starts = {title: page for title, page, _ in tree}
    # "More on this topic" is not bookmarked; find its page from the text.
    texts = page_texts(packets["simplex"])
    more_page = next(i for i in range(starts["Psychotherapy"] - 1,
                                      starts["Depression in Adults"] - 1)
                     if "More on this topic" in texts[i])
    # Psychotherapy lists depression-adults and insomnia (in the packet) and others that are
    # not (they get no link).
    related = Library().topic("psychotherapy").related
    assert {"depression-adults", "insomnia"} <= set(related) and len(related) > 2
    assert set(link_target_pages(reader, more_page)) == {starts["Depression in Adults"],
                                                         starts["Insomnia"]}


def test_packet_is_tagged_as_a_whole(packets):
    reader = PdfReader(packets["duplex"])
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert bool(root["/MarkInfo"]["/Marked"])
    parent_tree = root["/StructTreeRoot"]["/ParentTree"]
    nums = parent_tree.get("/Nums", [])
    keys = set(nums[0::2])
    for kid in parent_tree.get("/Kids", []):
        keys |= set(kid.get_object()["/Nums"][0::2])
    tagged = 0
    for index, page in enumerate(reader.pages):
        if b"/MCID" not in page.get_contents().get_data():
            continue  # a blank duplex page: only the stamped page number, an artifact
        tagged += 1
        assert page["/StructParents"] in keys, f"page {index + 1} is not in the structure tree"
        # Every marked-content id on the page has its structure element.
        mcids = re.findall(rb"/MCID (\d+)", page.get_contents().get_data())
        elements = dict(zip(nums[0::2], nums[1::2])) if nums else {}
        if page["/StructParents"] in elements:
            assert len(elements[page["/StructParents"]]) >= len(set(mcids))
    # Untagged: only blank duplex pages, at most one before each of the 3 topics and one
    # that makes the total even.
    assert tagged >= len(reader.pages) - 4
    # Stamped page numbers are artifacts, never tagged text.
    for page in reader.pages:
        data = page.get_contents().get_data()
        assert b"/Artifact BMC" in data


def test_personal_details_on_the_cover_only(packets):
    pages = page_texts(packets["simplex"])
    assert "Prepared for: Ana Díaz" in " ".join(pages[0].split())
    assert all("Ana" not in page for page in pages[1:])
    assert "Ana" not in str(PdfReader(packets["simplex"]).metadata)


@pytest.mark.slow
def test_packet_of_all_topics_embeds_each_font_once(tmp_path):
    library = Library()
    ids = library.topic_ids
    singles = sum(len(build(library, [topic_id], BuildOptions())) for topic_id in ids)
    path = tmp_path / "all.pdf"
    path.write_bytes(build(library, ids, BuildOptions()))
    names = [font["name"].split("+")[1] for font in pdffonts(path)]
    assert len(names) == len(set(names)) <= 4
    # Measured 0.74 (0.64 before the topics gained key points, questions and cautions):
    # the text itself, not repeated fonts, is most of what remains.
    assert path.stat().st_size <= 0.8 * singles, (path.stat().st_size, singles)


def test_same_topic_twice_is_an_error():
    with pytest.raises(SpecError, match="topic 'insomnia' \\(en\\) is given twice"):
        build(Library(), ["insomnia", "insomnia:what-is"], BuildOptions())


def test_out_dir_writes_one_pdf_per_spec(tmp_path):
    result = CliRunner().invoke(main, ["build", "psychotherapy@es:what-is", "insomnia",
                                       "--patient", "Ana", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insomnia.pdf", "psychotherapy.es.pdf"]
    assert PdfReader(tmp_path / "psychotherapy.es.pdf").trailer["/Root"]["/Lang"] == "es"
    both = CliRunner().invoke(main, ["build", "insomnia", "-o", "x.pdf",
                                     "--out-dir", str(tmp_path)])
    assert both.exit_code == 2
    # A folder that does not exist yet is made, with its parents; a file in the way is not.
    fresh = CliRunner().invoke(main, ["build", "insomnia:what-is", "--out-dir",
                                      str(tmp_path / "new" / "out")])
    assert fresh.exit_code == 0 and (tmp_path / "new" / "out" / "insomnia.pdf").is_file()
    blocked = CliRunner().invoke(main, ["build", "insomnia", "--out-dir",
                                        str(tmp_path / "insomnia.pdf")])
    assert blocked.exit_code == 2 and "is a file" in blocked.stderr


def test_contents_numbers_stay_with_their_entry_when_titles_wrap(tmp_path):
    # Large print, Spanish: long entries wrap; each "Página N" must sit within its own
    # entry, level with or below its title's first line and clear of the next entry.
    path = tmp_path / "grande.pdf"
    path.write_bytes(build(Library(), ["psychotherapy", "suicide-prevention",
                                       "generalized-anxiety"],
                           BuildOptions(lang="es", layout="large-print", paper="a4")))
    out = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(path), "-"],
                         capture_output=True, text=True, check=True).stdout
    words = [(w, float(top), float(bottom)) for top, bottom, w in re.findall(
        r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)</word>', out)]
    tops = [next(top for w, top, _ in words if w == word)
            for word in ("Psicoterapia", "Prevención", "Trastorno")]
    numbers = sorted((top, bottom) for i, (w, top, bottom) in enumerate(words[:-2])
                     if w == "Página" and words[i + 2][0] != "de")  # not "Página 1 de N"
    assert len(numbers) == 3
    for entry_top, (top, bottom), next_top in zip(tops, numbers, tops[1:] + [float("inf")]):
        assert entry_top - 1 <= top and bottom <= next_top


def test_links_are_described_by_the_title_they_show(tmp_path):
    # A Spanish topic in an English packet: its "More on this topic" links name topics in
    # Spanish; the cover's contents name each topic as it was selected.
    path = tmp_path / "mixed.pdf"
    path.write_bytes(build(Library(), ["psychotherapy", "generalized-anxiety@es"], BuildOptions()))
    reader = PdfReader(path)
    starts = {title: page for title, page, _ in outline(reader)}
    described = {}
    for index, page in enumerate(reader.pages):
        described[index + 1] = {str(a.get_object()["/Contents"]) for a in page.get("/Annots", [])}
    assert described[1] == {"Psychotherapy", "Trastorno de ansiedad generalizada"}
    spanish_start = starts["Trastorno de ansiedad generalizada"]
    spanish = set().union(*(described[n] for n in range(spanish_start, len(reader.pages) + 1)))
    assert "Psicoterapia" in spanish and "Psychotherapy" not in spanish
