"""Links that work from the health record (issue 27), on the real server: a link of an
Infobutton answer, clicked without a key, gets the rendered handout."""

from __future__ import annotations

import io
import time
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from pypdf import PdfReader
from servers import KEY, start_server
from test_signed_links import ASK, feed_links, split

# -- the real thing: a click from the health record gets the PDF -------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("signed"), "--workers", "1",
                       "--link-lifetime", "90m", key=KEY)
    yield srv
    srv.stop()


def test_a_link_from_the_answer_opens_without_a_key(server):
    with server.client() as ehr:
        answer = ehr.get("/infobutton", params=ASK)
    assert answer.status_code == 200, answer.text
    pdf, html = feed_links(answer)[:2]
    assert urlsplit(pdf).path == "/v1/topics/generalized-anxiety.pdf"
    with server.client(key=None) as clinician:  # a browser: no Authorization header
        opened = clinician.get(pdf)
        assert opened.status_code == 200, opened.text
        assert opened.headers["content-type"] == "application/pdf"
        text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(opened.content)).pages)
        assert "Trastorno de ansiedad generalizada" in text
        page = clinician.get(html)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        # The same path without its signature still needs the key.
        assert clinician.get(urlsplit(pdf).path + "?lang=es").status_code == 401
    # --link-lifetime 90m: the link ends 90 minutes after the answer.
    expires = int(dict(split(pdf)[1])["expires"])
    assert abs(expires - (time.time() + 90 * 60)) < 120


def test_atom_answers_carry_signed_links_too(server):
    with server.client() as ehr:
        answer = ehr.get("/infobutton", params=dict(ASK, knowledgeResponseType="text/xml"))
    atom = "{http://www.w3.org/2005/Atom}"
    hrefs = [link.get("href") for link in ET.fromstring(answer.content).iter(atom + "link")]
    assert hrefs and all({"expires", "sig"} <= dict(split(h)[1]).keys() for h in hrefs)
    with server.client(key=None) as clinician:
        assert clinician.get(hrefs[1]).status_code == 200  # the HTML, no key
