"""Word files made at test time (python-docx), with what a clinic's handouts hold:
headings, nested lists, a table, pictures with and without a description, and, when asked,
a tracked change and a comment (written into document.xml with lxml)."""

from __future__ import annotations

import base64
import copy
import io
import zipfile
from pathlib import Path

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
# A 4x4 PNG, blue.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAQAAAAEAQMAAACTPww9AAAAA1BMVEUAAP+KeNJXAAAAC0lEQVQI12NgQAcAABAAAUvqDJ8AAAAASUVORK5CYII=")


def make_docx(path: Path, *, tracked: bool = False, comment: bool = False,
              crisis_words: bool = True, extras: bool = False) -> Path:
    from docx import Document

    doc = Document()
    doc.add_heading("Feeling Low After a Baby", level=0)  # the Title style
    doc.add_paragraph("Many new parents feel sad or tired after a baby is born. "
                      "This handout says what helps.")
    doc.add_heading("What is postpartum depression?", level=1)
    para = doc.add_paragraph("It is a ")
    para.add_run("common").bold = True
    para.add_run(" illness that ")
    para.add_run("can be treated").italic = True
    para.add_run(". Read more at ")
    run = para.add_run("the national site")
    _link(para, run, "https://www.nimh.nih.gov/health")
    para.add_run(" or ")
    bad = para.add_run("this script")
    _link(para, bad, "javascript:alert(1)")
    para.add_run(".")
    doc.add_heading("What are the signs?", level=1)
    doc.add_paragraph("Feeling sad most of the day", style="List Bullet")
    doc.add_paragraph("Crying often", style="List Bullet")
    doc.add_paragraph("Not sleeping, even when the baby sleeps", style="List Bullet")
    if crisis_words:
        doc.add_paragraph("Thoughts of suicide or of hurting yourself", style="List Bullet")
    doc.add_heading("How is it treated?", level=1)
    doc.add_paragraph("Call your doctor first.", style="List Number")
    doc.add_paragraph("Talk therapy helps most people.", style="List Number")
    table = doc.add_table(rows=3, cols=2)
    for r, row in enumerate([("Treatment", "How long"), ("Talk therapy", "8 to 12 weeks"),
                             ("Medicine", "6 months or more")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.add_heading("Pictures", level=1)
    doc.add_picture(io.BytesIO(PNG))
    doc.add_picture(io.BytesIO(PNG))
    buffer = io.BytesIO()
    doc.save(buffer)
    data = _edit(buffer.getvalue(), tracked=tracked, comment=comment, extras=extras)
    path.write_bytes(data)
    return path


def _link(paragraph, run, url: str) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml.ns import qn

    rel = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = etree.SubElement(paragraph._p, qn("w:hyperlink"))
    link.set(qn("r:id"), rel)
    link.append(run._r)


def _second_level(data: bytes) -> bytes:
    """Word's bullet list 1 with a second level (python-docx's template defines one)."""
    numbering = etree.fromstring(data)
    ns = {"w": W}
    abstract_id = numbering.find("w:num[@w:numId='1']/w:abstractNumId", ns).get(f"{{{W}}}val")
    abstract = numbering.find(f"w:abstractNum[@w:abstractNumId='{abstract_id}']", ns)
    first = abstract.find("w:lvl", ns)
    second = copy.deepcopy(first)
    second.set(f"{{{W}}}ilvl", "1")
    indent = second.find("w:pPr/w:ind", ns)
    if indent is not None:
        indent.set(f"{{{W}}}left", "1080")
    first.addnext(second)
    return etree.tostring(numbering, xml_declaration=True, encoding="UTF-8", standalone=True)


EXTRAS = f"""<w:p xmlns:w="{W}" xmlns:v="urn:schemas-microsoft-com:vml"
  xmlns:o="urn:schemas-microsoft-com:office:office">
<w:r><w:pict><v:shape><v:textbox><w:txbxContent><w:p><w:r><w:t>Boxed tip</w:t></w:r></w:p>
</w:txbxContent></v:textbox></v:shape></w:pict></w:r>
<w:fldSimple w:instr=" PAGE "><w:r><w:t>7</w:t></w:r></w:fldSimple>
<w:r><w:object><o:OLEObject ProgID="Excel.Sheet.12" ShapeID="_x0000_i1025"/></w:object></w:r>
</w:p>"""


def _edit(data: bytes, *, tracked: bool, comment: bool, extras: bool) -> bytes:
    """The package with the first picture described, and a tracked change and a comment
    written into word/document.xml when asked."""
    source = zipfile.ZipFile(io.BytesIO(data))
    document = etree.fromstring(source.read("word/document.xml"))
    ns = {"w": W, "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"}
    doc_prs = document.findall(".//wp:docPr", ns)
    doc_prs[0].set("descr", "A parent holding a baby and smiling")
    doc_prs[1].set("descr", "")
    paragraphs = document.findall(".//w:body/w:p", ns)
    # "Crying often" one level under the item before it (Word's numbering, level 2).
    for paragraph in paragraphs:
        style = paragraph.find("w:pPr/w:pStyle", ns)
        if style is None or style.get(f"{{{W}}}val") != "ListBullet":
            continue
        level = "1" if "Crying often" in "".join(paragraph.itertext()) else "0"
        numbering = etree.SubElement(paragraph.find("w:pPr", ns), f"{{{W}}}numPr")
        etree.SubElement(numbering, f"{{{W}}}ilvl", {f"{{{W}}}val": level})
        etree.SubElement(numbering, f"{{{W}}}numId", {f"{{{W}}}val": "1"})
    target = next(p for p in paragraphs if "Call your doctor" in "".join(p.itertext()))
    files = {"word/numbering.xml": _second_level(source.read("word/numbering.xml"))}
    if tracked:
        ins = etree.SubElement(target, f"{{{W}}}ins", {f"{{{W}}}id": "901",
                                                      f"{{{W}}}author": "Reviewer"})
        run = etree.SubElement(ins, f"{{{W}}}r")
        text = etree.SubElement(run, f"{{{W}}}t")
        text.text = " Or call the clinic."
        text.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
        deleted = etree.SubElement(target, f"{{{W}}}del", {f"{{{W}}}id": "902",
                                                          f"{{{W}}}author": "Reviewer"})
        run = etree.SubElement(deleted, f"{{{W}}}r")
        etree.SubElement(run, f"{{{W}}}delText").text = " Old advice."
    if extras:
        # A text box, a page-number field and an embedded object (an OLE object), under
        # "What are the signs?".
        last_item = [p for p in paragraphs if "ListBullet" in etree.tostring(p, encoding=str)][-1]
        last_item.addnext(etree.fromstring(EXTRAS))
    if comment:
        ref_run = etree.SubElement(target, f"{{{W}}}r")
        etree.SubElement(ref_run, f"{{{W}}}commentReference", {f"{{{W}}}id": "0"})
        files["word/comments.xml"] = (
            f'<w:comments xmlns:w="{W}"><w:comment w:id="0" w:author="Dr Lee">'
            "<w:p><w:r><w:t>Check this dose</w:t></w:r></w:p></w:comment></w:comments>"
        ).encode()
    files["word/document.xml"] = etree.tostring(document, xml_declaration=True,
                                                encoding="UTF-8", standalone=True)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target_zip:
        for item in source.infolist():
            if item.filename in files:
                continue
            target_zip.writestr(item, source.read(item.filename))
        for name, content in files.items():
            target_zip.writestr(name, content)
    return out.getvalue()
