"""Descriptions from Google, NumPy and Sphinx docstrings."""

from __future__ import annotations

from rt_widget.tools import parse_docstring


def test_google_style() -> None:
    doc = """Look up the weather.

    Call this whenever the user asks about weather.

    Args:
        city (str): The city, e.g. "Paris".
        unit: Temperature unit.
            Either "c" or "f".
        *extra: Ignored.
        **options: Passed on.

    Returns:
        A summary.
    """
    parsed = parse_docstring(doc)
    assert parsed.description == (
        "Look up the weather.\n\nCall this whenever the user asks about weather."
    )
    assert parsed.params == {
        "city": 'The city, e.g. "Paris".',
        "unit": 'Temperature unit. Either "c" or "f".',
        "extra": "Ignored.",
        "options": "Passed on.",
    }


def test_google_description_on_the_next_line_and_other_section_names() -> None:
    doc = """Summary.

    Arguments:
        query:
            What to search for.
        limit (int, optional): How many.

    Raises:
        ValueError: never a parameter.
    """
    parsed = parse_docstring(doc)
    assert parsed.params == {"query": "What to search for.", "limit": "How many."}


def test_numpy_style() -> None:
    doc = """Find rows.

    Longer explanation
    on two lines.

    Parameters
    ----------
    column : str
        The column.
    low, high : float, optional
        The bounds,
        inclusive.
    flag
        No type given.

    Returns
    -------
    int
        Not a parameter.
    """
    parsed = parse_docstring(doc)
    assert parsed.description == "Find rows.\n\nLonger explanation\non two lines."
    assert parsed.params == {
        "column": "The column.",
        "low": "The bounds, inclusive.",
        "high": "The bounds, inclusive.",
        "flag": "No type given.",
    }


def test_sphinx_style() -> None:
    doc = """Convert an amount.

    :param amount: How much,
        in the source currency.
    :type amount: float
    :param str currency: ISO code.
    :returns: the converted amount
    :rtype: float
    """
    parsed = parse_docstring(doc)
    assert parsed.description == "Convert an amount."
    assert parsed.params == {"amount": "How much, in the source currency.", "currency": "ISO code."}


def test_summary_only_and_empty() -> None:
    assert parse_docstring("  Just a summary.  ").description == "Just a summary."
    assert parse_docstring("One line.").params == {}
    assert parse_docstring(None).description == ""
    assert parse_docstring("   ").params == {}


def test_first_style_wins_for_a_name_described_twice() -> None:
    doc = """Both.

    Args:
        x: from Google.

    :param x: from Sphinx.
    :param y: only Sphinx.
    """
    assert parse_docstring(doc).params == {"x": "from Google.", "y": "only Sphinx."}


def test_prose_ending_a_numpy_section_is_not_a_parameter() -> None:
    doc = """Summary.

    Parameters
    ----------
    a : int
        The a.

    Some closing remark that is not a parameter.
    """
    assert parse_docstring(doc).params == {"a": "The a."}
