"""A topic file as text: its header lines edited in place (comments and order kept),
its body, and atomic writes of the result."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from handoutkit.content.header import split_front_matter
from handoutkit.deliver import write_atomic
from handoutkit.errors import LibraryError


def read_text(path: Path) -> str:
    """A topic file's text (a byte order mark dropped)."""
    try:
        return path.read_text(encoding="utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise LibraryError(f"{path}: the file is not UTF-8 text") from None
    except OSError as exc:
        raise LibraryError(f"{path}: cannot be read ({exc.strerror})") from None


def split(text: str, path: Path) -> tuple[str, str]:
    """(header lines without the '---' lines, body)."""
    header, body, _ = split_front_matter(text, path)
    return header, body


def yaml_value(value) -> str:
    """A header value as YAML: text in double quotes (JSON's quoting is valid YAML), lists
    and tables in flow style, dates and flags as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    try:  # plain when YAML reads it back as the same text, as authors write it
        if "\n" not in text and ": " not in text and yaml.safe_load(f"k: {text}") == {"k": text}:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text, ensure_ascii=False)


def set_fields(text: str, path: Path, values: dict) -> str:
    """The topic's text with header fields set (a value of None removes the field). A field
    already there is replaced where it is (with its indented continuation lines); a new
    one goes at the end of the header."""
    header, body = split(text, path)
    lines = header.splitlines(keepends=True)
    for name, value in values.items():
        start = next((i for i, line in enumerate(lines)
                      if re.match(rf"{re.escape(name)}\s*:", line)), None)
        new = [] if value is None else [f"{name}: {yaml_value(value)}\n"]
        if start is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.extend(new)
            continue
        end = start + 1
        while end < len(lines) and lines[end][:1] in (" ", "\t", "-") and lines[end].strip():
            end += 1
        lines[start:end] = new
    return "---\n" + "".join(lines) + "---\n" + body


def write_text(path: Path, text: str) -> Path:
    """Write a topic file atomically (readers see the old file or the whole new one)."""
    return write_atomic(path, text.encode("utf-8"))


def writable_root(library) -> Path:
    """The library folder content operations write to: the clinic's, or a source
    checkout's; never the library installed inside the tool."""
    root = library.roots[0]
    if root == library.bundled and root.name == "library" and root.parent.name == "handoutkit":
        raise LibraryError("the bundled library is part of the installed tool; "
                           "pass --library DIR (see 'handouts init')")
    return root
