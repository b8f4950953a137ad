"""How full each printed page is, measured from the PDF's word boxes (`pdftotext
-bbox-layout`, poppler-utils).

A page's fill is the share of the text area's height (the page inside the layout's
margins, where the running header and footer do not print) that its text reaches down to.
The limits a topic must meet: every page but its last at least `MIN_FILL`, the last at
least `MIN_LAST_FILL`, and no last page that holds only the "About this handout" block.
Used by `benchmarks/pages.py` and the tests.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import LibraryError

MIN_FILL = 0.60
MIN_LAST_FILL = 0.25
MM = 72 / 25.4
_SET_RE = re.compile(r'{%-?\s*set\s+(margin_top|margin_bottom)\s*=\s*"([\d.]+)mm"\s*-?%}')


@dataclass(frozen=True)
class Page:
    """One page: its fill (0-1) and the first line of text in its text area."""

    fill: float
    first_line: str
    words: int


@dataclass
class TopicPages:
    """A topic's pages (of a handout, or its run of pages in a packet) and what is wrong."""

    name: str
    pages: list[Page]
    about_heading: str = ""
    # The About block's fixed sentences: a last page starting with one of them holds
    # nothing else (the block is the topic's last).
    about_texts: tuple[str, ...] = ()
    problems: list[str] = field(default_factory=list)

    def about_only(self) -> bool:
        """Whether the last page holds only the "About this handout" block."""
        if not self.about_heading or len(self.pages) < 2:
            return False
        first = " ".join(self.pages[-1].first_line.split())
        probe = first[:30].rstrip("-")
        return bool(first) and (first.startswith(self.about_heading) or any(
            probe in " ".join(text.split()) for text in self.about_texts))

    def check(self, min_fill: float = MIN_FILL, min_last: float = MIN_LAST_FILL) -> list[str]:
        """The pages below the limits, as one line each ([] when every page is right)."""
        problems = []
        last = len(self.pages)
        for number, page in enumerate(self.pages, 1):
            limit = min_last if number == last else min_fill
            if page.fill < limit:
                problems.append(f"page {number}/{last} is {page.fill:.0%} full "
                                f"(at least {limit:.0%})")
        if self.about_only():
            problems.append(f"page {last}/{last} holds only the '{self.about_heading}' block")
        self.problems = problems
        return problems


def layout_margins(layout_dirs: list[Path], layout: str) -> tuple[float, float]:
    """The layout's top and bottom page margins in points, read from its template (the
    first layout folder that has it wins, as for rendering)."""
    for folder in layout_dirs:
        template = folder / layout / "layout.html.j2"
        if template.is_file():
            found = dict(_SET_RE.findall(template.read_text(encoding="utf-8")))
            if {"margin_top", "margin_bottom"} <= set(found):
                return float(found["margin_top"]) * MM, float(found["margin_bottom"]) * MM
            raise LibraryError(f"{template}: no margin_top/margin_bottom in mm")
    raise LibraryError(f"layout '{layout}' not found")


def about_texts(strings: dict) -> tuple[str, ...]:
    """The About block's fixed sentences in one language (strings.toml), the parts of
    those with a blank to fill split at it."""
    texts = []
    for key in ("disclaimer", "copyright", "kept_current", "not_reviewed", "reviewed",
                "updated", "sources"):
        texts += [part for part in re.split(r"\{[a-z]+\}", strings.get(key, "")) if part.strip()]
    return tuple(texts)


def ink_bottoms(pdf: bytes, margin_top: float, margin_bottom: float,
                dpi: int = 24) -> list[float]:
    """For each page, how far down (in points from the page's top) the text area holds
    anything drawn: rules, a tool's empty boxes to write in, pictures (`pdftoppm`, grey,
    at low resolution). Light backgrounds do not count."""
    with tempfile.TemporaryDirectory(prefix="handouts-fill-") as folder:
        source = Path(folder) / "in.pdf"
        source.write_bytes(pdf)
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), str(source),
                        str(Path(folder) / "p")], check=True, capture_output=True)
        images = sorted(Path(folder).glob("p-*.pgm"), key=lambda p: int(p.stem[2:]))
        return [_ink_bottom(path.read_bytes(), margin_top, margin_bottom, dpi)
                for path in images]


def _ink_bottom(pgm: bytes, margin_top: float, margin_bottom: float, dpi: int) -> float:
    fields = pgm.split(maxsplit=4)  # P5, width, height, maxval, pixels
    width, height = int(fields[1]), int(fields[2])
    pixels = fields[4]
    scale = dpi / 72
    top = int(margin_top * scale) + 1
    bottom = height - int(margin_bottom * scale) - 1
    lowest = margin_top
    for row in range(top, bottom):
        line = pixels[row * width:(row + 1) * width]
        if min(line) < 160:
            lowest = (row + 1) / scale
    return lowest


def measure_pdf(pdf: bytes | Path, margin_top: float, margin_bottom: float) -> list[Page]:
    """Every page's fill from its word boxes, and from anything else drawn in the text
    area (a tool's boxes to write in are filled space); what is in the margins (header,
    footer, the crisis strip) does not count."""
    if isinstance(pdf, Path):
        pdf = pdf.read_bytes()
    inks = ink_bottoms(pdf, margin_top, margin_bottom)
    result = subprocess.run(["pdftotext", "-bbox-layout", "-", "-"], input=pdf,
                            capture_output=True, check=True)
    text = result.stdout.decode("utf-8", "replace")
    # Only the body: the XHTML head carries nothing we need (and may use entities).
    body = text[text.index("<body>"):text.rindex("</body>") + len("</body>")]
    root = ET.fromstring(body)
    pages = []
    for page in (p for p in root.iter() if p.tag.endswith("page")):
        height = float(page.get("height"))
        top, bottom = margin_top, height - margin_bottom
        lowest, first, first_y, count = top, "", bottom, 0
        for line in page.iter():
            if not line.tag.endswith("line"):
                continue
            words = [w for w in line if w.tag.endswith("word")]
            if not words:
                continue
            y_min = min(float(w.get("yMin")) for w in words)
            y_max = max(float(w.get("yMax")) for w in words)
            if y_min < top - 2 or y_max > bottom + 2:
                continue  # a running header or footer
            if y_min < first_y:
                first, first_y = " ".join(w.text or "" for w in words), y_min
            count += len(words)
            lowest = max(lowest, y_max)
        if len(pages) < len(inks):
            lowest = max(lowest, min(inks[len(pages)], bottom))
        pages.append(Page(min(1.0, (lowest - top) / (bottom - top)), first, count))
    return pages
