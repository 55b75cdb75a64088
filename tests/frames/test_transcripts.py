"""transcripts(): one row per utterance, in conversation order; answers worked out by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rt_widget import EventLog

from . import scenarios
from .sessions import T0


def nan(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def rows(frame: pd.DataFrame) -> list[tuple]:
    """(role, item_id, text, final, interrupted) per row, missing text as None."""
    return [(role, item, None if nan(text) else text, final, interrupted)
            for role, item, text, final, interrupted in frame[
                ["role", "item_id", "text", "final", "interrupted"]].itertuples(index=False)]


def test_speech_turn() -> None:
    t = scenarios.speech_turn().log().transcripts()
    assert rows(t) == [
        ("user", "item_u1", "What's the weather?", True, False),
        ("assistant", "item_a1", "It is sunny.", True, False),
    ]
    user, assistant = t.iloc[0], t.iloc[1]
    assert (user["modality"], user["call"]) == ("audio", 1)
    assert nan(user["response_id"]) and assistant["response_id"] == "resp_1"
    assert user["started_ms"] == T0 + 1200  # speech_started
    assert user["done_ms"] == T0 + 3050  # transcription completed
    assert assistant["started_ms"] == T0 + 2850  # first delta
    assert assistant["done_ms"] == T0 + 3100  # transcript done
    assert (user["started_s"], assistant["done_s"]) == (pytest.approx(1.2), pytest.approx(3.1))


def test_only_deltas_are_not_final() -> None:
    """Cut after the first assistant delta and the first user transcription delta."""
    records = scenarios.speech_turn().records
    kinds = [r["event"]["type"] for r in records]
    cut = kinds.index("conversation.item.input_audio_transcription.delta")
    t = EventLog(records[: cut + 1]).transcripts()
    assert rows(t) == [
        ("user", "item_u1", "What's the ", False, False),
        ("assistant", "item_a1", "It is ", False, False),
    ]
    assert nan(t["done_ms"].iloc[0]) and nan(t["done_s"].iloc[1])


def test_text_turn() -> None:
    t = scenarios.text_turn().log().transcripts()
    assert rows(t) == [
        ("user", "item_u2", "What is WebRTC?", True, False),
        ("assistant", "item_a2", "A way for browsers to talk.", True, False),
    ]
    assert list(t["modality"]) == ["text", "text"]
    assert list(t["started_ms"]) == [T0 + 40, T0 + 150]
    assert list(t["done_ms"]) == [T0 + 40, T0 + 200]
    assert list(t["call"]) == [0, 0]


def test_tool_turn_has_no_rows_for_function_items() -> None:
    t = scenarios.tool_turn().log().transcripts()
    # the spoken question was not transcribed (no transcription in the session): a row, no text
    assert rows(t) == [
        ("user", "item_u3", None, False, False),
        ("assistant", "item_a4", "It's 21 degrees.", True, False),
    ]


def test_barge_in_marks_the_cut_answer() -> None:
    t = scenarios.interrupted_turn().log().transcripts()
    assert rows(t) == [
        ("user", "item_u5", None, False, False),
        # response.done carries what was said before the cut
        ("assistant", "item_a5", "Well, the answer", True, True),
        ("user", "item_u6", None, False, False),
        ("assistant", "item_a6", "Sorry, go on.", True, False),
    ]
    assert t["response_id"].iloc[1] == "resp_5"


@pytest.mark.parametrize("keep", ["cleared", "response.done", "truncated"])
def test_each_barge_in_signal_alone_marks_it(keep: str) -> None:
    """Any one of the three signals is enough: the cleared audio buffer, the cancelled response,
    the truncated item."""
    signals = {"cleared": "output_audio_buffer.cleared", "response.done": "response.done",
               "truncated": "conversation.item.truncated"}
    drop = {kind for name, kind in signals.items() if name != keep}
    records = [r for r in scenarios.interrupted_turn().records
               if not (r["event"]["type"] in drop and "resp_6" not in str(r["event"]))]
    t = EventLog(records).transcripts()
    cut = t[t["item_id"] == "item_a5"].iloc[0]
    assert cut["interrupted"]
    if keep != "response.done":
        assert (cut["text"], cut["final"]) == ("Well, the answer", False)  # the deltas


def test_late_transcription_keeps_conversation_order() -> None:
    t = scenarios.late_transcription().log().transcripts()
    assert rows(t) == [
        ("user", "item_u7", "Can you help me?", True, False),
        ("assistant", "item_a7", "Sure.", True, False),
    ]
    assert t["done_ms"].iloc[0] == T0 + 2500  # after the answer was done (1150)
    assert t["started_ms"].iloc[0] == T0 + 100


def test_two_calls() -> None:
    t = scenarios.two_calls().log().transcripts()
    assert list(t[["call", "role", "item_id"]].itertuples(index=False, name=None)) == [
        (1, "user", "item_x"), (1, "assistant", "item_a8"),
        (2, "user", "item_x"), (2, "assistant", "item_a9"),
    ]
    assert list(t["text"].iloc[[1, 3]]) == ["One.", "Two."]
    assert list(t["started_s"]) == pytest.approx([0.5, 1.6, 0.5, 1.1])


def test_final_sources_outrank_deltas_whatever_their_order() -> None:
    """A delta arriving after the done event does not change the final text."""
    s = scenarios.speech_turn()
    late = dict(s.records[[r["event"]["type"] for r in s.records].index(
        "response.output_audio_transcript.delta")]["event"])
    late["event_id"] = "event_late"
    late["delta"] = " (late)"
    s.at(4000, late)
    t = s.log().transcripts()
    assert t["text"].iloc[1] == "It is sunny." and t["final"].iloc[1]
