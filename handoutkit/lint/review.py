"""Lint's checks of a topic's review status and sources (what goes to patients must be
reviewed by a clinician and say where its facts come from)."""

from __future__ import annotations

import datetime as dt

from ..content.topic import Topic

PENDING = ("pending", "pendiente")  # reviewed_by of a topic no clinician has reviewed yet


def review_findings(topic: Topic, today: dt.date, release: bool) -> list[tuple[str, str, str]]:
    """What the review status says: an overdue review is a warning, and for release (what
    goes to patients) an error, as is a topic not reviewed yet ('Pending ...' or none);
    a topic that does not list its sources gets a warning."""
    found = []
    severity = "error" if release else "warning"
    if topic.review_due and topic.review_due < today:
        found.append((severity, "review", f"review was due on {topic.review_due}"))
    reviewer = (topic.reviewed_by or "").strip()
    if release and (not reviewer or reviewer.lower().startswith(PENDING)):
        found.append(("error", "review", "not reviewed by a clinician yet (reviewed_by: "
                      f"'{reviewer or 'none'}'); record who reviewed it before release"))
    if not topic.sources:
        found.append(("warning", "sources",
                      "no sources: list the public guidance the facts come from, "
                      "with the year (sources: [\"NIMH: Depression (2024)\"])"))
    return found
