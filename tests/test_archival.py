"""Archival PDF/A-3, the embedded manifest, the FHIR DocumentReference and `inspect`."""

import base64
import hashlib
import json
import re
import subprocess

import pytest
from click.testing import CliRunner
from conftest import pdffonts
from pypdf import PdfReader

from handoutkit.cli import main
from handoutkit.content.library import Library

# Builds PDFs end to end, or starts servers, browsers or installs: a slow module
# (`pytest -m "not slow"` leaves it out).
pytestmark = pytest.mark.slow

SPECS = ["psychotherapy", "insomnia:what-is"]


@pytest.fixture
def archival(tmp_path):
    out = tmp_path / "a.pdf"
    fhir = tmp_path / "a.fhir.json"
    result = CliRunner().invoke(main, ["build", *SPECS, "--archival", "--patient", "Ana Díaz",
                                       "--fhir", str(fhir), "--patient-ref", "Patient/123",
                                       "--encounter-ref", "Encounter/456",
                                       "--author-ref", "Practitioner/789", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    return out, fhir


def test_pdfa3_structure(archival):
    out, _ = archival
    reader = PdfReader(out)
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode()
    assert re.search(r'pdfaid:part="3"', xmp) and re.search(r'pdfaid:conformance="A"', xmp)
    assert "<pdfuaid:part>1</pdfuaid:part>" in xmp
    assert "<rdf:li>en</rdf:li>" in xmp  # dc:language
    assert "Your health information" in xmp  # dc:title
    assert "Z71.89" in xmp  # keywords
    assert "Ana" not in xmp
    intent = root["/OutputIntents"][0].get_object()
    assert intent["/S"] == "/GTS_PDFA1" and "sRGB" in intent["/OutputConditionIdentifier"]
    assert "/StructTreeRoot" in root and bool(root["/MarkInfo"]["/Marked"])
    assert "/Encrypt" not in reader.trailer
    assert "/JavaScript" not in str(root.get("/Names", {}))
    for font in pdffonts(out):
        assert font["emb"] == "yes"
    check = subprocess.run(["qpdf", "--check", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_manifest_is_an_associated_file_without_patient_details(archival):
    out, _ = archival
    reader = PdfReader(out)
    assert "/AF" in reader.trailer["/Root"]
    manifest = json.loads(reader.attachments["handouts-manifest.json"][0])
    assert manifest["archival"] is True and manifest["layout"] == "standard"
    assert [t["id"] for t in manifest["topics"]] == ["psychotherapy", "insomnia"]
    insomnia = manifest["topics"][1]
    assert insomnia["sections"] == ["what-is", "crisis"]
    assert insomnia["version"] == Library().topic("insomnia").version
    assert insomnia["lang"] == "en"

    assert insomnia["sha256"] == hashlib.sha256(
        Library().topic("insomnia").path.read_bytes()).hexdigest()
    assert "Ana" not in json.dumps(manifest)


def test_same_source_date_epoch_gives_identical_bytes(tmp_path, monkeypatch):
    runner = CliRunner()
    outputs = []
    for index in range(2):
        out = tmp_path / f"{index}.pdf"
        assert runner.invoke(main, ["build", *SPECS, "--archival", "-o", str(out)]).exit_code == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795737600")  # a day later
    later = tmp_path / "later.pdf"
    assert runner.invoke(main, ["build", *SPECS, "--archival", "-o", str(later)]).exit_code == 0
    assert later.read_bytes() != outputs[0]


def test_fhir_document_reference_validates(archival):
    out, fhir = archival
    data = json.loads(fhir.read_text())
    import fhir.resources
    from fhir.resources.documentreference import DocumentReference

    assert fhir.resources.__fhir_version__ == "4.0.1"  # R4 models
    resource = DocumentReference.parse_obj(data)
    assert resource.status == "current" and resource.docStatus == "final"
    assert resource.type.coding[0].system == "http://loinc.org"
    assert resource.type.coding[0].code == "69730-0"
    assert resource.subject.reference == "Patient/123"
    assert resource.context.encounter[0].reference == "Encounter/456"
    assert resource.author[0].reference == "Practitioner/789"
    attachment = data["content"][0]["attachment"]
    pdf = out.read_bytes()
    assert attachment["contentType"] == "application/pdf" and attachment["language"] == "en"
    assert attachment["size"] == len(pdf)
    assert attachment["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode()
    assert base64.b64decode(attachment["data"]) == pdf
    assert "Psychotherapy" in data["description"] and "insomnia" in data["description"]
    # A packet is listed in the EHR by its topics, not by the printed "Your health information".
    assert attachment["title"] == "; ".join(t["title"] for t in json.loads(
        PdfReader(out).attachments["handouts-manifest.json"][0])["topics"])
    assert "Psychotherapy" in attachment["title"] and ";" in attachment["title"]
    # The models do check: a DocumentReference without content is refused.
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        DocumentReference.parse_obj({k: v for k, v in data.items() if k != "content"})


def test_fhir_url_instead_of_data(tmp_path):
    fhir = tmp_path / "f.json"
    result = CliRunner().invoke(main, ["build", "psychotherapy:what-is", "--fhir", str(fhir),
                                       "--patient-ref", "Patient/1", "--fhir-url",
                                       "https://ehr.example/doc/1", "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 0, result.stderr
    attachment = json.loads(fhir.read_text())["content"][0]["attachment"]
    assert attachment["url"] == "https://ehr.example/doc/1" and "data" not in attachment


def test_fhir_needs_patient_ref(tmp_path):
    result = CliRunner().invoke(main, ["build", "psychotherapy", "--fhir", str(tmp_path / "f"),
                                       "-o", str(tmp_path / "x.pdf")])
    assert result.exit_code == 2 and "--fhir needs --patient-ref" in result.stderr


def test_inspect(archival, tmp_path):
    out, _ = archival
    runner = CliRunner()
    text = runner.invoke(main, ["inspect", str(out)])
    assert text.exit_code == 0
    assert "archival (PDF/A-3)" in text.output
    assert f"insomnia (en) version {Library().topic('insomnia').version}" in text.output
    assert "sections: what-is, crisis" in text.output
    data = json.loads(runner.invoke(main, ["inspect", str(out), "--json"]).output)
    assert data["topics"][0]["id"] == "psychotherapy"
    # Packets merged from cached parts carry the manifest too.
    packet = tmp_path / "p.pdf"
    assert runner.invoke(main, ["build", "ocd:what-is", "ptsd", "-o", str(packet)]).exit_code == 0
    inspected = runner.invoke(main, ["inspect", str(packet), "--json"]).output
    assert json.loads(inspected)["topics"][1]["id"] == "ptsd"


@pytest.mark.parametrize("content, message", [
    (b"hello", "is not a PDF"),
    (b"%PDF-1.7\ngarbage", "cannot be read as a PDF"),
])
def test_inspect_errors(tmp_path, content, message):
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 1 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_inspect_pdf_without_manifest(tmp_path):
    from pypdf import PdfWriter

    path = tmp_path / "plain.pdf"
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.write(path)
    result = CliRunner().invoke(main, ["inspect", str(path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == (f"Error: {path} has no handouts manifest: "
                                     "it was not made by handouts")
