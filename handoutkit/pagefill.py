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
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .errors import LibraryError

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
    problems: list[str] = field(default_factory=list)

    def check(self, min_fill: float = MIN_FILL, min_last: float = MIN_LAST_FILL) -> list[str]:
        """The pages below the limits, as one line each ([] when every page is right)."""
        problems = []
        last = len(self.pages)
        for number, page in enumerate(self.pages, 1):
            limit = min_last if number == last else min_fill
            if page.fill < limit:
                problems.append(f"page {number}/{last} is {page.fill:.0%} full "
                                f"(at least {limit:.0%})")
        if (self.about_heading and len(self.pages) > 1
                and self.pages[-1].first_line.startswith(self.about_heading)):
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


def measure_pdf(pdf: bytes | Path, margin_top: float, margin_bottom: float) -> list[Page]:
    """Every page's fill from its word boxes; words in the margins (header, footer, the
    crisis strip) do not count."""
    source = str(pdf) if isinstance(pdf, Path) else "-"
    result = subprocess.run(["pdftotext", "-bbox-layout", source, "-"],
                            input=None if isinstance(pdf, Path) else pdf,
                            capture_output=True, check=True)
    text = result.stdout.decode("utf-8", "replace")
    # Only the body: the XHTML head carries nothing we need (and may use entities).
    body = text[text.index("<body>"):text.rindex("</body>") + len("</body>")]
    root = ET.fromstring(body)
    pages = []
    for page in root.iter():
        if not page.tag.endswith("page"):
            continue
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
        pages.append(Page(min(1.0, (lowest - top) / (bottom - top)), first, count))
    return pages
