"""Return values into output text, and cutting text to a byte budget."""

from __future__ import annotations

import datetime
import enum
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from rt_widget.tools import encode_result
from rt_widget.tools.results import STR_FALLBACK_NOTE, truncated


class Mood(enum.Enum):
    GOOD = "good"


class Reply(BaseModel):
    text: str
    mood: Mood


class Measure(BaseModel):
    value: float


@pytest.mark.parametrize(
    ("value", "jsonable"),
    [
        (Reply(text="hi", mood=Mood.GOOD), {"text": "hi", "mood": "good"}),
        ({"when": datetime.date(2025, 1, 2)}, {"when": "2025-01-02"}),
        ({"nan": float("nan")}, {"nan": None}),  # NaN is not JSON
        ([Measure(value=float("inf"))], [{"value": None}]),  # nor inside a model
        ((1, 2), [1, 2]),
        (np.int64(7), 7),
        (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        (pd.DataFrame({"a": [1, 2], "b": ["x", None]}), [{"a": 1, "b": "x"}, {"a": 2, "b": None}]),
        (pd.Series([1.5, float("nan")], index=["p", "q"]), {"p": 1.5, "q": None}),
    ],
    ids=[
        "pydantic",
        "date",
        "nan",
        "nan-in-model",
        "tuple",
        "np-scalar",
        "np-array",
        "dataframe",
        "series",
    ],
)
def test_known_values_become_json(value: Any, jsonable: Any) -> None:
    encoded = encode_result(value)
    assert encoded.jsonable == jsonable
    assert json.loads(encoded.output) == jsonable
    assert encoded.note is None


def test_unknown_values_fall_back_to_str_with_a_note() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    encoded = encode_result({"thing": Thing(), "n": 1})
    assert json.loads(encoded.output) == {"thing": "a thing", "n": 1}
    assert encoded.note == STR_FALLBACK_NOTE


def test_circular_structure_does_not_fail() -> None:
    loop: list[Any] = []
    loop.append(loop)
    encoded = encode_result(loop)
    assert encoded.output == json.dumps("[[...]]") and encoded.note == STR_FALLBACK_NOTE


def test_strings_pass_through() -> None:
    assert encode_result('already "text"').output == 'already "text"'


def test_truncated_leaves_short_text_alone() -> None:
    assert truncated("short", 100) == ("short", False)


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=0, max_size=3_000), limit=st.integers(min_value=200, max_value=4_000))
def test_truncated_always_fits_and_keeps_a_prefix(text: str, limit: int) -> None:
    out, cut = truncated(text, limit)
    assert len(out.encode("utf-8")) <= limit
    if cut:
        prefix = out.split("\n...[truncated by rt_widget", 1)[0]
        assert text.startswith(prefix)
        assert f"the tool returned {len(text):,} characters" in out
    else:
        assert out == text


def test_truncated_is_as_long_as_the_budget_allows() -> None:
    out, cut = truncated("x" * 10_000, 1_000)
    assert cut and 1_000 - 1 <= len(out.encode()) <= 1_000
