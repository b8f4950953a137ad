"""PDF plumbing: HTML laid out by WeasyPrint, checked on the page, parts cached and joined."""
