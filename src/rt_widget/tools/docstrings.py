"""Read a tool's description and its parameters' descriptions from a docstring.

Three styles are understood, and may even be mixed in one docstring:

Google::

    Args:
        city (str): The city.
        unit: "c" or "f".
            Continuation lines are indented further.

NumPy::

    Parameters
    ----------
    city : str
        The city.

Sphinx::

    :param city: The city.
    :param str unit: "c" or "f".

The description is everything before the first section or field: the summary line and any
paragraphs after it, since those usually say *when* to call the tool, which is what the model needs.
A small parser of our own rather than a dependency: only two things are needed from a docstring.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

# Google-style section headers ("Args:"). Only the parameter sections are parsed; the others just
# end the description and the section before them.
_GOOGLE_PARAM_SECTIONS = frozenset(
    {
        "args",
        "arguments",
        "parameters",
        "params",
        "keyword args",
        "keyword arguments",
        "kwargs",
        "other parameters",
    }
)
_GOOGLE_OTHER_SECTIONS = frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "examples",
        "example",
        "notes",
        "note",
        "attributes",
        "see also",
        "references",
        "warning",
        "warnings",
        "todo",
        "methods",
    }
)
_GOOGLE_HEADER = re.compile(r"^(?P<indent>\s*)(?P<title>[A-Za-z][A-Za-z ]*?)\s*:\s*$")
_GOOGLE_ENTRY = re.compile(
    r"^\*{0,2}(?P<name>[A-Za-z_]\w*)\s*(?:\([^)]*\))?\s*:(?:\s+(?P<desc>.*))?$"
)

# NumPy-style: a section title underlined with dashes.
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_NUMPY_PARAM_SECTIONS = frozenset(
    {"parameters", "other parameters", "keyword arguments", "keyword args", "params"}
)
_NUMPY_ENTRY = re.compile(
    r"^(?P<names>\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::.*)?$"
)

# Sphinx / reST field lists. ``:param name:`` and ``:param type name:`` carry descriptions.
_SPHINX_FIELD = re.compile(r"^\s*:(?P<field>[A-Za-z]+)(?P<args>[^:]*):(?P<desc>.*)$")
_SPHINX_PARAM_FIELDS = frozenset({"param", "parameter", "arg", "argument", "key", "keyword"})


@dataclass(frozen=True)
class Docstring:
    """What a tool needs from a docstring."""

    description: str = ""
    params: dict[str, str] = field(default_factory=dict)


def parse_docstring(doc: str | None) -> Docstring:
    """Split ``doc`` into the free-text description and ``{parameter name: description}``."""
    if not doc or not doc.strip():
        return Docstring()
    lines = inspect.cleandoc(doc).splitlines()
    first_section = _first_section_line(lines)
    description = "\n".join(lines[:first_section]).strip()
    params: dict[str, str] = {}
    # Later styles only fill names the earlier ones did not describe.
    for parser in (_google_params, _numpy_params, _sphinx_params):
        for name, text in parser(lines).items():
            if text and name not in params:
                params[name] = text
    return Docstring(description=description, params=params)


def _first_section_line(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if _is_google_header(line) or _is_numpy_header(lines, i) or _SPHINX_FIELD.match(line):
            return i
    return len(lines)


def _is_google_header(line: str) -> bool:
    m = _GOOGLE_HEADER.match(line)
    if not m:
        return False
    title = m.group("title").lower()
    return title in _GOOGLE_PARAM_SECTIONS or title in _GOOGLE_OTHER_SECTIONS


def _is_numpy_header(lines: list[str], i: int) -> bool:
    return (
        i + 1 < len(lines)
        and bool(lines[i].strip())
        and not _NUMPY_UNDERLINE.match(lines[i])
        and bool(_NUMPY_UNDERLINE.match(lines[i + 1]))
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _join(parts: list[str]) -> str:
    """Collapse a multi-line description into one line of text."""
    return " ".join(p.strip() for p in parts if p.strip())


def _google_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        m = _GOOGLE_HEADER.match(lines[i])
        if not m or m.group("title").lower() not in _GOOGLE_PARAM_SECTIONS:
            i += 1
            continue
        header_indent = len(m.group("indent"))
        i += 1
        # The section's body: blank lines and lines indented deeper than the header.
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > header_indent):
            body.append(lines[i])
            i += 1
        entry_indent = min((_indent(line) for line in body if line.strip()), default=0)
        name: str | None = None
        parts: list[str] = []
        for line in body:
            entry = _GOOGLE_ENTRY.match(line.strip()) if _indent(line) == entry_indent else None
            if entry:
                if name is not None:
                    params[name] = _join(parts)
                name, parts = entry.group("name"), [entry.group("desc") or ""]
            elif name is not None:
                parts.append(line)
        if name is not None:
            params[name] = _join(parts)
    return params


def _numpy_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    i = 0
    while i < len(lines):
        if not (_is_numpy_header(lines, i) and lines[i].strip().lower() in _NUMPY_PARAM_SECTIONS):
            i += 1
            continue
        base = _indent(lines[i])
        i += 2  # the title and its underline
        names: list[str] = []
        parts: list[str] = []
        while i < len(lines) and not _is_numpy_header(lines, i):
            line = lines[i]
            if line.strip() and _indent(line) <= base:
                entry = _NUMPY_ENTRY.match(line.strip())
                if entry is None:
                    break  # something that is not a parameter line: the section is over
                params.update(dict.fromkeys(names, _join(parts)))
                names = [n.strip().lstrip("*") for n in entry.group("names").split(",")]
                parts = []
            elif names:
                parts.append(line)
            i += 1
        params.update(dict.fromkeys(names, _join(parts)))
    return params


def _sphinx_params(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    name: str | None = None
    parts: list[str] = []
    field_indent = 0

    def flush() -> None:
        if name is not None:
            params[name] = _join(parts)

    for line in lines:
        m = _SPHINX_FIELD.match(line)
        if m:
            flush()
            name, parts = None, []
            args = m.group("args").split()
            if m.group("field").lower() in _SPHINX_PARAM_FIELDS and args:
                # ":param name:" or ":param type name:": the name is the last word.
                name = args[-1].lstrip("*")
                parts = [m.group("desc")]
                field_indent = _indent(line)
        elif name is not None:
            if line.strip() and _indent(line) <= field_indent:
                flush()  # text back at the field's margin ends the field
                name, parts = None, []
            else:
                parts.append(line)
    flush()
    return params
