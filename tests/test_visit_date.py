"""A visit date that is not a real day is refused at every door, before anything is built:
the command line (exit 1), a job-list row, the service (422 naming the field)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from handoutkit.checks import date_problem
from handoutkit.cli import main


@pytest.mark.parametrize("value", ["2026-13-45", "2026-02-29", "2/30/2026", "31.04.2026",
                                   "26-11-26"])
def test_impossible_dates_are_refused(value):
    assert "is not a real date" in date_problem(value)


@pytest.mark.parametrize("value", ["2026-11-26", "2024-02-29", "11/26/2026", "26.11.2026",
                                   "next Tuesday", "Nov 26"])
def test_real_dates_and_words_print(value):
    assert date_problem(value) is None


def test_the_command_line_refuses_with_exit_code_1(tmp_path):
    out = tmp_path / "x.pdf"
    result = CliRunner().invoke(main, ["build", "psychotherapy", "--visit-date", "2026-13-45",
                                       "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip() == ("Error: the visit date '2026-13-45' is not a real date "
                                     "(write it as YYYY-MM-DD, like 2026-11-26)")
    assert not out.exists()


def test_a_job_list_row_and_the_service_refuse_it(tmp_path):
    from handoutkit.batch.joblist import parse_row
    from handoutkit.request import RequestError

    with pytest.raises(RequestError, match="not a real date"):
        parse_row(2, {"output": "a.pdf", "topics": "ocd", "visit_date": "2026-13-45"}, tmp_path)
    from test_serve_hardening import make_client

    answer = make_client(tmp_path).post("/v1/documents", json={
        "specs": ["ocd"], "personal": {"visit_date": "2026-13-45"}})
    assert answer.status_code == 422 and answer.json()["field"] == "visit_date"
    assert "not a real date" in answer.json()["detail"]
