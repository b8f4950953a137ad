"""Page fill: builds topics and reports how full every page is, from the PDF's word boxes.

    # every topic file, both layouts, both papers:
    .venv/bin/python benchmarks/pages.py
    .venv/bin/python benchmarks/pages.py --lang en --layout standard --paper letter -v
    .venv/bin/python benchmarks/pages.py --topic psychotherapy --topic insomnia
    .venv/bin/python benchmarks/pages.py --packet psychotherapy depression-adults insomnia \
        suicide-prevention --patient "Test Patient"

A page's fill is the share of the text area's height (inside the layout's margins) its
words reach down to. Limits (handoutkit/pdf/pagefill.py): every page but a topic's last at
least 60%, the last at least 25%, and no last page holding only "About this handout".
Prints one row per build (pages, fill of each page, problems) and a summary; exits 1 when
a build is below the limits. Renders in this process, one build at a time (no cache).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from handoutkit.build import make, selections_for  # noqa: E402
from handoutkit.cache import Cache  # noqa: E402
from handoutkit.content.library import Library  # noqa: E402
from handoutkit.content.wording import load_strings  # noqa: E402
from handoutkit.options import BuildOptions, Personal  # noqa: E402
from handoutkit.pdf.pagefill import TopicPages, about_texts, layout_margins, measure_pdf  # noqa: E402

LAYOUTS = ("standard", "large-print")
PAPERS = ("letter", "a4")


def build_topic(library: Library, spec: str, layout: str, paper: str,
                personal: Personal = Personal(), duplex: bool = False,
                cache: Cache | None = None) -> bytes:
    """The handout of `spec`, laid out afresh unless a `cache` is given (the tests share
    one; the script measures the code as it is now)."""
    options = BuildOptions(layout=layout, paper=paper, jobs=1, personal=personal,
                           duplex=duplex)
    specs = spec.split()
    return make(library, selections_for(library, specs, None), options,
                cache or Cache(enabled=False)).data


def measure_topic(library: Library, topic_id: str, lang: str, layout: str,
                  paper: str, cache: Cache | None = None) -> TopicPages:
    """One topic's handout, built and measured."""
    strings = load_strings(library)[lang]
    pdf = build_topic(library, f"{topic_id}@{lang}", layout, paper, cache=cache)
    pages = measure_pdf(pdf, *layout_margins(library.layout_dirs, layout))
    result = TopicPages(f"{topic_id}@{lang} {layout} {paper}", pages, strings["about_heading"],
                        about_texts(strings))
    result.check()
    return result


def packet_ranges(pdf: bytes) -> list[tuple[str, int, int]]:
    """(title, first page index, end index) of each topic, from the packet's bookmarks."""
    import io

    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    starts = []
    for item in reader.outline:
        if isinstance(item, list):
            continue
        starts.append((item.title, reader.get_destination_page_number(item)))
    ranges = []
    for index, (title, start) in enumerate(starts):
        end = starts[index + 1][1] if index + 1 < len(starts) else len(reader.pages)
        ranges.append((title, start, end))
    return ranges


def fills(pages) -> str:
    return " ".join(f"{p.fill * 100:3.0f}" for p in pages)


def run_topics(library: Library, args) -> int:
    rows, failed = [], 0
    started = time.perf_counter()
    files = [f for f in library.files()
             if (not args.topic or f.id in args.topic) and (not args.lang or f.lang in args.lang)]
    for layout in args.layout or LAYOUTS:
        for paper in args.paper or PAPERS:
            for f in files:
                result = measure_topic(library, f.id, f.lang, layout, paper)
                rows.append((layout, paper, result))
                mark = "FAIL" if result.problems else "ok"
                print(f"{mark:4} {result.name:48} {len(result.pages):2}p  "
                      f"fill% {fills(result.pages)}")
                for problem in result.problems:
                    print(f"       {problem}")
                failed += bool(result.problems)
    elapsed = time.perf_counter() - started
    print()
    print(f"{'layout':12} {'paper':6} {'builds':>6} {'pass':>5} {'fail':>5} {'pages':>6} "
          f"{'min fill':>8} {'min last':>8}")
    for layout in args.layout or LAYOUTS:
        for paper in args.paper or PAPERS:
            group = [r for lay, pap, r in rows if lay == layout and pap == paper]
            if not group:
                continue
            inner = [p.fill for r in group for p in r.pages[:-1]]
            last = [r.pages[-1].fill for r in group]
            passed = sum(not r.problems for r in group)
            print(f"{layout:12} {paper:6} {len(group):6} {passed:5} {len(group) - passed:5} "
                  f"{sum(len(r.pages) for r in group):6} "
                  f"{(min(inner) if inner else 1):8.0%} {min(last):8.0%}")
    print(f"\n{len(rows)} builds in {elapsed:.1f} s; {failed} below the limits")
    return 1 if failed else 0


def run_packet(library: Library, args) -> int:
    layout = (args.layout or ["standard"])[0]
    paper = (args.paper or ["letter"])[0]
    personal = Personal(patient=args.patient) if args.patient else Personal()
    pdf = build_topic(library, " ".join(args.packet), layout, paper, personal, args.duplex)
    pages = measure_pdf(pdf, *layout_margins(library.layout_dirs, layout))
    strings = load_strings(library)
    failed = 0
    print(f"packet {' '.join(args.packet)} ({layout}, {paper}{', duplex' if args.duplex else ''}): "
          f"{len(pages)} pages")
    ranges = packet_ranges(pdf)
    print(f"  cover  fill% {fills(pages[:ranges[0][1]])}")
    for title, start, end in ranges:
        lang = next((s.topic.lang for s in selections_for(library, args.packet, None)
                     if s.topic.title == title), "en")
        own = [p for p in pages[start:end]]
        while args.duplex and len(own) > 1 and own[-1].words <= 8:
            own.pop()  # the intentionally blank page before the next topic
        result = TopicPages(title, own, strings[lang]["about_heading"],
                            about_texts(strings[lang]))
        result.check()
        failed += bool(result.problems)
        print(f"  {'FAIL' if result.problems else 'ok':4} p{start + 1:<3} {title:36} "
              f"{len(own):2}p fill% {fills(own)}")
        for problem in result.problems:
            print(f"         {problem}")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", action="append", help="only this topic id (repeatable)")
    parser.add_argument("--lang", action="append", help="only this language (repeatable)")
    parser.add_argument("--layout", action="append", choices=LAYOUTS)
    parser.add_argument("--paper", action="append", choices=PAPERS)
    parser.add_argument("--packet", nargs="+", metavar="SPEC",
                        help="measure one packet of these SPECs instead")
    parser.add_argument("--patient", help="with --packet: a patient name for the cover")
    parser.add_argument("--duplex", action="store_true", help="with --packet: two-sided")
    parser.add_argument("--library", help="a clinic's library folder")
    args = parser.parse_args()
    os.environ.setdefault("SOURCE_DATE_EPOCH", "1795651200")
    library = Library(args.library)
    return run_packet(library, args) if args.packet else run_topics(library, args)


if __name__ == "__main__":
    sys.exit(main())
