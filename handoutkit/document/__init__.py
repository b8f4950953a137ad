"""One document's HTML: topics, brand and wording assembled into a layout."""
