"""Session configuration: GA defaults, strict validation, merging (no WebRTC)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai.types.realtime import RealtimeSessionCreateRequest
from openai.types.realtime.realtime_session_create_response import RealtimeSessionCreateResponse

from rt_widget.emulator.errors import ProtocolError
from rt_widget.emulator.session_config import (
    DEFAULT_INSTRUCTIONS,
    SessionConfig,
    default_config,
    validate_session,
)


def rejected(patch: object) -> ProtocolError:
    with pytest.raises(ProtocolError) as info:
        validate_session(patch)
    return info.value


def test_defaults_are_a_valid_ga_session_that_says_it_is_an_emulator() -> None:
    config = default_config()
    RealtimeSessionCreateRequest.model_validate(config)
    session = SessionConfig().as_session("sess_x", 1_800_000_000)
    RealtimeSessionCreateResponse.model_validate(session)
    assert session["object"] == "realtime.session" and session["id"] == "sess_x"
    assert "emulator" in session["instructions"] and session["instructions"] == DEFAULT_INSTRUCTIONS
    assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"


def test_client_instructions_are_echoed_untouched() -> None:
    text = "  Speak like a pirate.\nNever mention emulators.  "
    config = SessionConfig.from_request({"type": "realtime", "instructions": text})
    assert config.as_session("sess_x", 0)["instructions"] == text


@pytest.mark.parametrize(
    ("patch", "param"),
    [
        ({"type": "realtime", "foo": 1}, "session.foo"),
        ({"type": "realtime", "audio": {"input": {"vad": {}}}}, "session.audio.input.vad"),
        (
            {"type": "realtime", "tools": [{"type": "function", "name": "f", "strict": True}]},
            "session.tools[0].strict",
        ),
        ({"type": "realtime", "input_audio_format": "pcm16"}, "session.input_audio_format"),
    ],
)
def test_an_unknown_field_anywhere_rejects_the_update_naming_it(patch: dict, param: str) -> None:
    e = rejected(patch)
    assert (e.code, e.param) == ("unknown_parameter", param)
    assert e.message == f"Unknown parameter: '{param}'."


@pytest.mark.parametrize(
    ("patch", "code", "param"),
    [
        ({}, "missing_required_parameter", "session.type"),
        ({"type": "realtime", "instructions": 3}, "invalid_type", "session.instructions"),
        (
            {"type": "realtime", "output_modalities": ["audio", "text"]},
            "array_above_max_length",
            "session.output_modalities",
        ),
        (
            {"type": "realtime", "output_modalities": ["video"]},
            "invalid_value",
            "session.output_modalities[0]",
        ),
        (
            {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}},
            },
            "decimal_above_max_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {"type": "realtime", "audio": {"input": {"turn_detection": {"type": "loud"}}}},
            "invalid_value",
            "session.audio.input.turn_detection.type",
        ),
        (
            {"type": "realtime", "audio": {"output": {"speed": 3}}},
            "decimal_above_max_value",
            "session.audio.output.speed",
        ),
        (
            {"type": "realtime", "tools": [{"type": "function"}]},
            "missing_required_parameter",
            "session.tools[0].name",
        ),
        (
            {"type": "realtime", "tool_choice": {"type": "function"}},
            "missing_required_parameter",
            "session.tool_choice.name",
        ),
        (
            {"type": "realtime", "max_output_tokens": 0},
            "integer_below_min_value",
            "session.max_output_tokens",
        ),
        ({"type": "transcription"}, "invalid_value", "session.type"),
    ],
)
def test_invalid_values_name_the_path_and_the_problem(patch: dict, code: str, param: str) -> None:
    e = rejected(patch)
    assert (e.code, e.param) == (code, param), e.message


def test_update_merges_audio_and_replaces_the_rest() -> None:
    config = SessionConfig().updated(
        {
            "type": "realtime",
            "instructions": "A",
            "tools": [{"type": "function", "name": "get_weather"}],
            "audio": {
                "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 900}}
            },
        }
    )
    td = config.config["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 900 and td["threshold"] == 0.5  # merged, not replaced
    assert config.config["audio"]["output"]["voice"] == "alloy"  # untouched sibling
    assert config.function_tools == ["get_weather"]
    again = config.updated({"type": "realtime", "tools": []})
    assert again.function_tools == [] and again.config["instructions"] == "A"


def test_turn_detection_null_means_manual_and_semantic_vad_is_energy_vad() -> None:
    manual = SessionConfig().updated(
        {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    assert manual.turn_detection is None
    semantic = manual.updated(
        {
            "type": "realtime",
            "audio": {
                "input": {
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": "high",
                        "create_response": False,
                    }
                }
            },
        }
    )
    td = semantic.turn_detection
    assert td is not None and td.kind == "semantic_vad"
    assert td.silence_duration_ms == 300 and td.create_response is False
    assert semantic.config["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "high",
        "create_response": False,
        "interrupt_response": True,
    }


def test_a_rejected_update_leaves_the_session_as_it_was() -> None:
    config = SessionConfig()
    before = copy.deepcopy(config.config)
    with pytest.raises(ProtocolError):
        config.updated({"type": "realtime", "instructions": "changed", "bogus": True})
    assert config.config == before


# -- properties ------------------------------------------------------------------------------------

_td = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"type": st.just("server_vad")},
        optional={
            "threshold": st.floats(0, 1),
            "prefix_padding_ms": st.integers(0, 2000),
            "silence_duration_ms": st.integers(0, 3000),
            "create_response": st.booleans(),
            "interrupt_response": st.booleans(),
        },
    ),
    st.fixed_dictionaries(
        {"type": st.just("semantic_vad")},
        optional={"eagerness": st.sampled_from(["low", "medium", "high", "auto"])},
    ),
)
_patches = st.fixed_dictionaries(
    {"type": st.just("realtime")},
    optional={
        "instructions": st.text(max_size=50),
        "output_modalities": st.sampled_from([["audio"], ["text"]]),
        "tools": st.lists(
            st.fixed_dictionaries(
                {
                    "type": st.just("function"),
                    "name": st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                }
            ),
            max_size=3,
        ),
        "tool_choice": st.sampled_from(["auto", "none", "required"]),
        "max_output_tokens": st.one_of(st.integers(1, 4096), st.just("inf")),
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "turn_detection": _td,
                        "transcription": st.one_of(st.none(), st.just({"model": "whisper-1"})),
                    },
                ),
                "output": st.fixed_dictionaries(
                    {},
                    optional={
                        "voice": st.sampled_from(["alloy", "marin", "cedar"]),
                        "speed": st.floats(0.25, 1.5),
                    },
                ),
            },
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_patches, min_size=1, max_size=4))
def test_any_sequence_of_valid_updates_gives_a_valid_ga_session(patches: list[dict]) -> None:
    config = SessionConfig()
    for patch in patches:
        config = config.updated(patch)
    RealtimeSessionCreateResponse.model_validate(config.as_session("sess_x", 0))
    last = patches[-1]
    if "instructions" in last:
        assert config.config["instructions"] == last["instructions"]


@settings(max_examples=100, deadline=None)
@given(_patches, st.from_regex(r"[a-z]{3,10}", fullmatch=True))
def test_any_unknown_top_level_field_is_rejected(patch: dict, key: str) -> None:
    if key in RealtimeSessionCreateRequest.model_fields:
        return
    e = rejected({**patch, key: 1})
    assert e.param == f"session.{key}"
