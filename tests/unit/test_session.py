"""Session config from the shorthand arguments, with a GA session dict merged over them."""

from __future__ import annotations

import pytest
from openai.types.realtime import RealtimeSessionCreateRequest

from rt_widget.session import build_session, check_session_fields, deep_merge


def test_shorthands() -> None:
    assert build_session(model="gpt-realtime", voice="marin", instructions="Be brief.") == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be brief.",
        "audio": {"output": {"voice": "marin"}},
    }


def test_no_instructions_and_no_voice_leave_the_service_defaults() -> None:
    assert build_session(model="gpt-realtime", voice=None) == {
        "type": "realtime",
        "model": "gpt-realtime",
    }


def test_session_is_deep_merged_over_the_shorthands() -> None:
    transcription = {"model": "gpt-4o-mini-transcribe"}
    session = {
        "audio": {"input": {"transcription": transcription}, "output": {"speed": 1.1}},
        "instructions": "From session.",
    }
    built = build_session(
        model="gpt-realtime", voice="cedar", instructions="From args.", session=session
    )
    assert built == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "From session.",
        "audio": {
            "input": {"transcription": transcription},
            "output": {"voice": "cedar", "speed": 1.1},
        },
    }
    # The result shares nothing with the caller's dict.
    built["audio"]["input"]["transcription"]["model"] = "changed"
    assert transcription["model"] == "gpt-4o-mini-transcribe"


def test_built_sessions_are_valid_ga_session_requests() -> None:
    built = build_session(
        model="gpt-realtime",
        voice="marin",
        instructions="Hi",
        session={
            "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}},
            "output_modalities": ["audio"],
        },
    )
    RealtimeSessionCreateRequest.model_validate(built)


@pytest.mark.parametrize(
    ("field", "ga"),
    [
        ("voice", 'audio={"output": {"voice": "alloy"}}'),
        ("turn_detection", 'audio={"input": {"turn_detection": "alloy"}}'),
        ("modalities", 'output_modalities="alloy"'),
    ],
)
def test_beta_field_names_are_refused_with_the_ga_name(field: str, ga: str) -> None:
    with pytest.raises(ValueError) as caught:
        build_session(model="gpt-realtime", session={field: "alloy"})
    assert "beta field name" in str(caught.value)
    assert ga in str(caught.value)


def test_other_session_types_are_refused() -> None:
    with pytest.raises(ValueError, match="type must be 'realtime'"):
        build_session(model="gpt-realtime", session={"type": "transcription"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"model": ""},
        {"model": 3},
        {"voice": ""},
        {"instructions": 7},
        {"session": ["not", "a", "dict"]},
        {"session": {"tools": [object()]}},
    ],
)
def test_wrong_types(kwargs: dict) -> None:
    with pytest.raises(TypeError):
        build_session(**kwargs)


def test_check_session_fields_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"^update_session\(\): 'voice'"):
        check_session_fields({"voice": "x"}, what="update_session()")


def test_deep_merge_replaces_lists_and_scalars() -> None:
    base = {"tools": [1, 2], "a": {"b": 1, "c": {"d": 1}}}
    assert deep_merge(base, {"tools": [3], "a": {"c": {"e": 2}}}) == {
        "tools": [3],
        "a": {"b": 1, "c": {"d": 1, "e": 2}},
    }
    assert base == {"tools": [1, 2], "a": {"b": 1, "c": {"d": 1}}}
