"""Frames of real calls to the emulator over WebRTC: one recorded earlier and shipped in data/
(expected values read out of the file by hand; "line N" is the record with seq N, counting from
0), and one made now (checked against the raw log)."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pandas as pd
import pytest

from rt_widget import EventLog

from .sessions import DATA

RECORDED = DATA / "emulator_session.jsonl"
T_START = 1795255713992.3394  # t_browser_ms of the recorded call's "start" phase (line 0)


def nan(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


# -- the shipped recording ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def recorded() -> EventLog:
    return EventLog.load(RECORDED)


def test_recorded_call_turns(recorded: EventLog) -> None:
    t = recorded.turns()
    assert list(t["trigger"]) == ["text", "speech", "text", "tool", "text", "speech"]
    assert list(t["status"]) == ["completed"] * 4 + ["cancelled", "completed"]
    assert list(t["interrupted"]) == [False] * 4 + [True, False]
    assert t["tools"].iloc[2] == "get_weather" and t["tools"].drop(index=2).isna().all()
    typed, spoken, cut = t.iloc[0], t.iloc[1], t.iloc[4]
    assert typed["response_id"] == "resp_K7fATUQSjCic5QZlJvIj1"
    # created line 17 at ...4052.6062, first delta line 23 at ...4106.258,
    # done line 39 at ...6343.9004; audio line 22 ...4105.9307 to line 41 ...6592.3518
    assert typed["time_to_first_delta_ms"] == pytest.approx(53.6518, abs=1e-3)
    assert typed["response_ms"] == pytest.approx(2291.2942, abs=1e-3)
    assert typed["audio_ms"] == pytest.approx(2486.4211, abs=1e-3)
    assert spoken["response_id"] == "resp_TADpOPeXf9EOYfRaeehww"
    # speech_stopped line 49 ...9601.236, committed line 50 ...9601.4314,
    # audio started line 69 ...9640.1333; created line 64 ...9604.5835, done line 85 ...1659.7559
    assert spoken["voice_to_voice_ms"] == pytest.approx(38.8973, abs=1e-3)
    assert spoken["turn_detection_ms"] == pytest.approx(0.1954, abs=1e-3)
    assert spoken["response_ms"] == pytest.approx(2055.1724, abs=1e-3)
    assert spoken["speech_started_s"] == pytest.approx(3.2088, abs=1e-3)  # line 43 - line 0
    assert (spoken["input_tokens"], spoken["input_text_tokens"], spoken["input_audio_tokens"],
            spoken["output_tokens"], spoken["total_tokens"]) == (78, 59, 19, 59, 137)
    # barge-in: audio started line 142 ...6313.9597, cleared line 148 ...6520.5688
    assert (cut["status_reason"], cut["audio_ms"]) == ("turn_detected",
                                                       pytest.approx(206.6091, abs=1e-3))
    assert (cut["input_tokens"], cut["output_tokens"]) == (175, 146)


def test_recorded_call_transcripts(recorded: EventLog) -> None:
    t = recorded.transcripts()
    assert list(t["role"]) == ["user", "assistant"] * 5
    assert list(t["text"]) == [
        "Hello from the frames test",
        "You said: Hello from the frames test",
        "[1.9 seconds of speech; the rt_widget emulator does not transcribe]",
        "I heard 1.9 seconds of audio.",
        'Use get_weather with {"city": "Paris"} please',
        'The get_weather tool returned: {"temp_c": 21}',
        "Tell me everything about lighthouses, keepers, storms, ships and the long nights on "
        "the rocks far from the shore",
        "You ",  # what was said before the user spoke over it (line 145, output_item.done)
        "[0.8 seconds of speech; the rt_widget emulator does not transcribe]",
        "I heard 0.8 seconds of audio.",
    ]
    assert t["final"].all()
    assert list(t.index[t["interrupted"]]) == [7]
    assert list(t["modality"]) == ["text", "audio", "audio", "audio", "text", "audio", "text",
                                   "audio", "audio", "audio"]


def test_recorded_call_connection_and_stats(recorded: EventLog) -> None:
    c = recorded.connection()
    assert list(c["phase"]) == [
        "start", "offer_created", "answer_received", "remote_description_set", "ice_checking",
        "pc_connecting", "ice_completed", "pc_connected", "channel_open", "session_created",
        "ice_closed", "pc_closed", "closed"]
    assert c["since_start_ms"].iloc[-1] == pytest.approx(1795255730283.7007 - T_START)
    assert c["duration_ms"].iloc[:-1].sum() == pytest.approx(c["since_start_ms"].iloc[-1])
    s = recorded.stats()
    assert len(s) == 31
    assert (s["bitrate_in_kbps"].dropna() > 0).all()
    assert (s["packet_loss_pct"].dropna() == 0).all()  # loopback: nothing lost


# -- a call made now ------------------------------------------------------------------------------
def _raw_times(log: EventLog, kind: str, key: str) -> dict[str, float]:
    """{id: first t_browser_ms} of the server events of one type, straight from the records."""
    out: dict[str, float] = {}
    for record in log.of_type(kind):
        event = record["event"]
        ident = event["response"]["id"] if key == "response" else event[key]
        out.setdefault(ident, record["t_browser_ms"])
    return out


def test_a_live_call_to_the_emulator() -> None:
    pytest.importorskip("aiortc")
    recording = pytest.importorskip("frames.emulator_recording")
    from rt_widget.emulator import Emulator

    with Emulator() as emulator:
        log = asyncio.run(asyncio.wait_for(recording.record_call(emulator), 120))

    turns = log.turns()
    assert list(turns["trigger"]) == ["text", "speech", "text", "tool", "text", "speech"]
    assert list(turns["status"]) == ["completed"] * 4 + ["cancelled", "completed"]
    created = _raw_times(log, "response.created", "response")
    done = _raw_times(log, "response.done", "response")
    started = _raw_times(log, "output_audio_buffer.started", "response_id")
    stopped_speech = _raw_times(log, "input_audio_buffer.speech_stopped", "item_id")
    for _, turn in turns.iterrows():
        rid = turn["response_id"]
        assert turn["response_ms"] == pytest.approx(done[rid] - created[rid])
        if turn["trigger"] == "speech":
            expected = started[rid] - stopped_speech[turn["user_item_id"]]
            assert turn["voice_to_voice_ms"] == pytest.approx(expected)
            assert turn["voice_to_voice_ms"] > 0 and turn["speech_ms"] > 500
        else:
            assert nan(turn["voice_to_voice_ms"])
        assert turn["time_to_first_delta_ms"] >= 0
        assert turn["input_tokens"] > 0

    transcripts = log.transcripts()
    assert list(transcripts["role"]) == ["user", "assistant"] * 5
    spoken: dict[str, Any] = {r["event"]["response"]["id"]: r["event"]["response"]["output"]
                              for r in log.of_type("response.done")}
    for _, row in transcripts[transcripts["role"] == "assistant"].iterrows():
        output = spoken[row["response_id"]][0]
        assert row["text"] == output["content"][0]["transcript"]
    assert transcripts["text"].iloc[0] == recording.TYPED
    assert list(transcripts["interrupted"]) == [False] * 7 + [True, False, False]

    connection = log.connection()
    assert connection["phase"].iloc[0] == "start" and connection["phase"].iloc[-1] == "closed"
    assert {"channel_open", "session_created", "pc_connected"} <= set(connection["phase"])
    assert (connection["duration_ms"].dropna() >= 0).all()
    stats = log.stats()
    assert len(stats) >= 10 and stats["bitrate_in_kbps"].median() > 0
    assert len(log.events()) == len(log)
