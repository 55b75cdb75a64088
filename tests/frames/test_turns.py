"""turns(): one row per response. Every expected number is worked out by hand from the times
written in scenarios.py (ms after T0)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from rt_widget import EventLog

from . import scenarios
from .sessions import T0


def nan(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def row(turns: pd.DataFrame, response_id: str) -> pd.Series:
    found = turns[turns["response_id"] == response_id]
    assert len(found) == 1, f"{response_id}: {len(found)} rows"
    return found.iloc[0]


def test_speech_turn() -> None:
    turns = scenarios.speech_turn().log().turns()
    assert list(turns["response_id"]) == ["resp_1"]
    r = turns.iloc[0]
    assert r["call"] == 1
    assert r["trigger"] == "speech"
    assert r["user_item_id"] == "item_u1"
    assert r["status"] == "completed" and nan(r["status_reason"]) and not r["interrupted"]
    # the steps, in ms after T0
    assert r["speech_started_ms"] == T0 + 1200
    assert r["speech_stopped_ms"] == T0 + 2700
    assert r["committed_ms"] == T0 + 2710
    assert r["response_created_ms"] == T0 + 2730
    assert r["first_delta_ms"] == T0 + 2850
    assert r["audio_started_ms"] == T0 + 2960
    assert r["response_done_ms"] == T0 + 3150
    assert r["audio_stopped_ms"] == T0 + 4560
    # the call started at its "start" phase, T0 + 0
    assert r["speech_started_s"] == pytest.approx(1.2)
    assert r["audio_started_s"] == pytest.approx(2.96)
    assert r["audio_stopped_s"] == pytest.approx(4.56)
    # 2960 - 2700, 2710 - 2700, 2850 - 2730, 3150 - 2730, 2400 - 900 (audio clock), 4560 - 2960
    assert r["voice_to_voice_ms"] == 260
    assert r["turn_detection_ms"] == 10
    assert r["time_to_first_delta_ms"] == 120
    assert r["response_ms"] == 420
    assert r["speech_ms"] == 1500
    assert r["audio_ms"] == 1600
    # usage(input_text=120, input_audio=30, cached=64, output_text=10, output_audio=40)
    assert (r["input_tokens"], r["output_tokens"], r["total_tokens"]) == (150, 50, 200)
    assert (r["input_text_tokens"], r["input_audio_tokens"], r["cached_tokens"]) == (120, 30, 64)
    assert (r["output_text_tokens"], r["output_audio_tokens"]) == (10, 40)
    assert nan(r["tools"])


def test_text_turn() -> None:
    r = row(scenarios.text_turn().log().turns(), "resp_2")
    assert r["call"] == 0  # no widget records: call 0
    assert (r["trigger"], r["user_item_id"]) == ("text", "item_u2")
    for spoken in ("speech_started_ms", "speech_stopped_ms", "committed_ms", "audio_started_ms",
                   "audio_stopped_ms", "voice_to_voice_ms", "turn_detection_ms", "speech_ms",
                   "audio_ms"):
        assert nan(r[spoken]), spoken
    assert r["time_to_first_delta_ms"] == 90  # 150 - 60
    assert r["response_ms"] == 170  # 230 - 60
    # the call's earliest record is the client's item.create at offset 0
    assert r["response_created_s"] == pytest.approx(0.06)
    assert (r["input_tokens"], r["output_tokens"], r["output_audio_tokens"]) == (50, 12, 0)


def test_tool_turn() -> None:
    turns = scenarios.tool_turn().log().turns()
    assert list(turns["response_id"]) == ["resp_3", "resp_4"]
    call, answer = row(turns, "resp_3"), row(turns, "resp_4")
    assert (call["trigger"], call["user_item_id"], call["tools"]) == (
        "speech", "item_u3", "get_weather")
    assert call["first_delta_ms"] == T0 + 1000  # the first arguments delta
    assert call["time_to_first_delta_ms"] == 70  # 1000 - 930
    assert call["turn_detection_ms"] == 10  # 910 - 900
    assert nan(call["voice_to_voice_ms"])  # a function call makes no sound
    assert call["response_ms"] == 110  # 1040 - 930
    assert (answer["trigger"], answer["user_item_id"]) == ("tool", "item_o1")
    assert nan(answer["speech_stopped_ms"]) and nan(answer["voice_to_voice_ms"])
    assert answer["time_to_first_delta_ms"] == 150  # 1500 - 1350
    assert answer["response_ms"] == 400  # 1750 - 1350
    assert answer["audio_ms"] == 1300  # 2900 - 1600
    assert answer["cached_tokens"] == 128


def test_interrupted_turn() -> None:
    turns = scenarios.interrupted_turn().log().turns()
    cut, after = row(turns, "resp_5"), row(turns, "resp_6")
    assert (cut["status"], cut["status_reason"], cut["interrupted"]) == (
        "cancelled", "turn_detected", True)
    assert cut["voice_to_voice_ms"] == 200  # 1000 - 800
    # no output_audio_buffer.stopped: the audio stopped when it was cleared, at 1510
    assert cut["audio_stopped_ms"] == T0 + 1510
    assert cut["audio_ms"] == 510
    assert (cut["output_audio_tokens"], cut["output_text_tokens"]) == (10, 5)
    assert (after["trigger"], after["user_item_id"], after["interrupted"]) == (
        "speech", "item_u6", False)
    assert after["speech_started_ms"] == T0 + 1500  # the barge-in itself
    assert after["voice_to_voice_ms"] == 300  # 2600 - 2300


def test_late_transcription_does_not_disturb_the_turn() -> None:
    r = row(scenarios.late_transcription().log().turns(), "resp_7")
    assert (r["trigger"], r["user_item_id"], r["status"]) == ("speech", "item_u7", "completed")
    assert r["voice_to_voice_ms"] == 200  # 1100 - 900
    assert nan(r["input_tokens"])  # response.done without usage


def test_two_calls() -> None:
    turns = scenarios.two_calls().log().turns()
    assert list(turns["call"]) == [1, 2]
    first, second = row(turns, "resp_a"), row(turns, "resp_b")
    # the second call reuses item_x: each response gets its own call's speech
    assert first["speech_stopped_ms"] == T0 + 1500 and first["voice_to_voice_ms"] == 200
    assert second["speech_stopped_ms"] == T0 + 11_000 and second["voice_to_voice_ms"] == 300
    # seconds since each call's start (T0 and T0 + 10 s)
    assert first["speech_started_s"] == pytest.approx(0.5)
    assert second["speech_started_s"] == pytest.approx(0.5)
    assert second["response_done_s"] == pytest.approx(1.4)


def test_two_responses_for_one_user_turn() -> None:
    turns = scenarios.two_responses_one_turn().log().turns()
    first, second = row(turns, "resp_8a"), row(turns, "resp_8b")
    assert (first["trigger"], first["user_item_id"]) == ("speech", "item_u8")
    assert first["voice_to_voice_ms"] == 200  # 900 - 700
    # the second answers the same turn, asked for by the client; it borrows no speech times
    assert (second["trigger"], second["user_item_id"]) == ("manual", "item_u8")
    assert nan(second["speech_stopped_ms"]) and nan(second["voice_to_voice_ms"])
    assert second["time_to_first_delta_ms"] == 50  # 1700 - 1650


def test_push_to_talk_is_manual() -> None:
    r = row(scenarios.push_to_talk().log().turns(), "resp_9")
    assert (r["trigger"], r["user_item_id"]) == ("manual", "item_u9")
    assert r["committed_ms"] == T0 + 120
    assert nan(r["speech_stopped_ms"]) and nan(r["turn_detection_ms"])
    assert nan(r["voice_to_voice_ms"])


def test_an_out_of_band_response_takes_no_turn() -> None:
    turns = scenarios.out_of_band_response().log().turns()
    assert list(turns["response_id"]) == ["resp_oob", "resp_10"]
    oob, answer = row(turns, "resp_oob"), row(turns, "resp_10")
    assert (oob["trigger"], oob["out_of_band"]) == ("manual", True)
    assert nan(oob["user_item_id"]) and nan(oob["speech_stopped_ms"])
    assert (answer["trigger"], answer["user_item_id"], answer["out_of_band"]) == (
        "speech", "item_u10", False)
    assert answer["voice_to_voice_ms"] == 150  # 750 - 600
    assert not turns["out_of_band"].iloc[1:].any()


def test_missing_steps_give_nan() -> None:
    """Cut the speech turn right after the first transcript delta: what has not happened is NaN,
    what has is unchanged."""
    records = scenarios.speech_turn().records
    cut = next(i for i, r in enumerate(records) if r["event"]["type"].endswith("transcript.delta"))
    r = EventLog(records[: cut + 1]).turns().iloc[0]
    assert r["status"] == "in_progress"
    assert r["time_to_first_delta_ms"] == 120 and r["turn_detection_ms"] == 10
    for later in ("audio_started_ms", "response_done_ms", "audio_stopped_ms", "voice_to_voice_ms",
                  "response_ms", "audio_ms"):
        assert nan(r[later]), later
    assert r["input_tokens"] is pd.NA


def test_out_of_order_times_give_nan_not_negative() -> None:
    """Records in their usual order but stamped against it (a clock step, records relayed late):
    a difference that would be negative is NaN."""
    session = scenarios.speech_turn()
    for record in session.records:
        kind = record["event"]["type"]
        if kind == "output_audio_buffer.started":
            record["t_browser_ms"] = T0 + 2600  # before speech_stopped (2700)
        elif kind == "response.output_audio_transcript.delta":
            record["t_browser_ms"] = T0 + 2700  # before response.created (2730)
    r = session.log().turns().iloc[0]
    assert nan(r["voice_to_voice_ms"])
    assert nan(r["time_to_first_delta_ms"])
    assert r["turn_detection_ms"] == 10  # untouched steps still measured
    assert r["response_ms"] == 420


def test_events_out_of_log_order() -> None:
    """response.done logged before response.created, and deltas before both: the steps are still
    matched by response id, and the trigger still read (the commit precedes the creation)."""
    records = scenarios.speech_turn().records
    kinds = [r["event"]["type"] for r in records]
    created = records[kinds.index("response.created")]
    done = records[kinds.index("response.done")]
    others = [r for r in records if r is not created and r is not done]
    at = next(i for i, r in enumerate(others) if r["event"]["type"].endswith("transcript.delta"))
    reordered = [*others[:at], done, *others[at : at + 1], created, *others[at + 1 :]]
    r = EventLog(reordered).turns().iloc[0]
    assert (r["trigger"], r["status"]) == ("speech", "completed")
    assert r["response_ms"] == 420 and r["time_to_first_delta_ms"] == 120
