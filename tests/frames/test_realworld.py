"""Frames of real recorded calls (copied from ../shared/realworld/ into data/).

Those files are bare server events: ``recorded()`` stamps line i at ``T0 + 10 * i`` ms, so a
latency below is 10 ms times the distance between two lines. The expected literals were read out
of the files by hand (line numbers count from 0, blank lines excluded).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from .sessions import recorded

BETA = "beta_webrtc_3turns_events.jsonl"
GA = "ga_websocket_fragments_events.jsonl"


def nan(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


@pytest.fixture(scope="module")
def beta() -> dict[str, pd.DataFrame]:
    log = recorded(BETA)
    assert len(log) == 99
    return {"turns": log.turns(), "transcripts": log.transcripts()}


def test_beta_call_responses_statuses_and_triggers(beta: dict[str, pd.DataFrame]) -> None:
    t = beta["turns"]
    assert list(t["response_id"]) == [
        "resp_Azlw7lbJzlhW7iEomb00t",  # the greeting the client asked for
        "resp_AzlwF7CVNcKelcIOECR33",
        "resp_AzlwJ26l9LarAEdw41C66",  # cancelled: the user spoke again (line 57)
        "resp_AzlwKj24TCThD6sk18uTS",
    ]
    assert list(t["status"]) == ["completed", "completed", "cancelled", "completed"]
    assert nan(t["status_reason"].iloc[0]) and t["status_reason"].iloc[2] == "turn_detected"
    assert list(t["interrupted"]) == [False, False, True, False]
    assert list(t["trigger"]) == ["manual", "speech", "speech", "speech"]
    assert nan(t["user_item_id"].iloc[0])
    assert list(t["user_item_id"].iloc[1:]) == [
        "item_AzlwEw01Kvr1DYs7K7rN9", "item_AzlwJisejpLdAoXdNwm2Z", "item_AzlwJXoYxsF57rqAXF6Rc"]
    assert set(t["call"]) == {0}


def test_beta_call_usage(beta: dict[str, pd.DataFrame]) -> None:
    t = beta["turns"].set_index("response_id")
    expected = {
        # response id: input, output, total, input audio, input text, cached, output audio, text
        "resp_Azlw7lbJzlhW7iEomb00t": (111, 55, 166, 0, 111, 0, 37, 18),
        "resp_AzlwF7CVNcKelcIOECR33": (187, 79, 266, 48, 139, 128, 55, 24),
        "resp_AzlwJ26l9LarAEdw41C66": (0, 0, 0, 0, 0, 0, 0, 0),
        "resp_AzlwKj24TCThD6sk18uTS": (295, 157, 452, 114, 181, 192, 117, 40),
    }
    columns = ["input_tokens", "output_tokens", "total_tokens", "input_audio_tokens",
               "input_text_tokens", "cached_tokens", "output_audio_tokens", "output_text_tokens"]
    for response_id, numbers in expected.items():
        assert tuple(int(v) for v in t.loc[response_id, columns]) == numbers, response_id


def test_beta_call_latencies(beta: dict[str, pd.DataFrame]) -> None:
    t = beta["turns"].set_index("response_id")
    second = t.loc["resp_AzlwF7CVNcKelcIOECR33"]
    # speech_stopped line 25, committed 26, created 28, first delta 33, audio started 38,
    # response.done 50, audio stopped 51; VAD audio 6688 -> 7712 ms
    assert second["turn_detection_ms"] == 10
    assert second["voice_to_voice_ms"] == 130
    assert second["time_to_first_delta_ms"] == 50
    assert second["response_ms"] == 220
    assert second["audio_ms"] == 130
    assert second["speech_ms"] == 1024
    cancelled = t.loc["resp_AzlwJ26l9LarAEdw41C66"]
    # created line 56, done 58; it never spoke
    assert cancelled["response_ms"] == 20
    assert nan(cancelled["first_delta_ms"]) and nan(cancelled["voice_to_voice_ms"])
    assert cancelled["speech_ms"] == 352  # 12256 - 11904
    last = t.loc["resp_AzlwKj24TCThD6sk18uTS"]
    # speech_stopped 59, created 62, first delta 67, audio started 72, done 98, no audio stop
    assert (last["voice_to_voice_ms"], last["time_to_first_delta_ms"]) == (130, 50)
    assert last["response_ms"] == 360
    assert nan(last["audio_stopped_ms"]) and nan(last["audio_ms"])
    assert last["speech_ms"] == 640  # 12992 - 12352


def test_beta_call_transcripts(beta: dict[str, pd.DataFrame]) -> None:
    t = beta["transcripts"]
    assert list(t["role"]) == ["assistant", "user", "assistant", "user", "user", "assistant"]
    assistant = t[t["role"] == "assistant"]
    assert list(assistant["text"]) == [
        "Hey there! How can I help you today?",
        "I'm doing great, thanks for asking! How about you?",
        "I'm here to help with whatever you need. You can think of me as your friendly, digital "
        "assistant. What's on your mind?",
    ]
    assert assistant["final"].all() and not assistant["interrupted"].any()
    assert list(assistant["response_id"]) == [
        "resp_Azlw7lbJzlhW7iEomb00t", "resp_AzlwF7CVNcKelcIOECR33", "resp_AzlwKj24TCThD6sk18uTS"]
    # the session had input_audio_transcription: null, so the user's turns have no text
    user = t[t["role"] == "user"]
    assert user["text"].isna().all() and not user["final"].any()
    assert list(user["item_id"]) == [
        "item_AzlwEw01Kvr1DYs7K7rN9", "item_AzlwJisejpLdAoXdNwm2Z", "item_AzlwJXoYxsF57rqAXF6Rc"]


@pytest.fixture(scope="module")
def ga() -> dict[str, pd.DataFrame]:
    log = recorded(GA)
    assert len(log) == 27
    return {"turns": log.turns(), "transcripts": log.transcripts(), "events": log.events()}


def test_ga_fragments_turns(ga: dict[str, pd.DataFrame]) -> None:
    t = ga["turns"].set_index("response_id")
    assert list(t.index) == ["resp_CsZyL5IuqSgPEut0cI82K", "resp_Ct1OZ5ukpGEZNeUWx1iOH",
                             "resp_Ct1OkhbgNQBuFX2HeE0P9"]
    done = t.loc["resp_CsZyL5IuqSgPEut0cI82K"]  # only its response.done is in the file
    assert done["status"] == "completed" and nan(done["trigger"])
    columns = ["input_tokens", "output_tokens", "total_tokens", "input_audio_tokens",
               "input_text_tokens", "cached_tokens", "output_audio_tokens", "output_text_tokens"]
    assert tuple(int(v) for v in done[columns]) == (132, 188, 320, 73, 59, 64, 147, 41)
    first = t.loc["resp_Ct1OZ5ukpGEZNeUWx1iOH"]
    # speech line 5-7, created 10, its first delta comes late in the file, at line 23
    assert (first["trigger"], first["user_item_id"]) == ("speech", "item_Ct1OXLqYLre7VW2Bz9Eoy")
    assert first["status"] == "in_progress" and nan(first["response_done_ms"])
    assert first["time_to_first_delta_ms"] == 130
    assert first["speech_ms"] == 2572  # 3808 - 1236
    second = t.loc["resp_Ct1OkhbgNQBuFX2HeE0P9"]
    assert (second["trigger"], second["user_item_id"]) == ("speech", "item_Ct1OhVepyDFpDovHrgmNp")
    assert second["time_to_first_delta_ms"] == 40  # lines 16 -> 20
    assert second["speech_ms"] == 2764  # 14720 - 11956


def test_ga_fragments_transcripts_in_conversation_order(ga: dict[str, pd.DataFrame]) -> None:
    t = ga["transcripts"]
    # The second session's items appear shuffled (item_Ct1OkN... at line 17 before item_Ct1OZd4...
    # at line 21); previous_item_id puts them back: user, its answer, user, its answer.
    assert list(t["item_id"]) == [
        "item_CsZyLdZ3sHZ2DniSNrTKs",
        "item_Ct1OXLqYLre7VW2Bz9Eoy",
        "item_Ct1OZd4ZkrcbhoRueeC2O",
        "item_Ct1OhVepyDFpDovHrgmNp",
        "item_Ct1OkNEvGW5s0xZERnV95",
    ]
    assert list(t["role"]) == ["assistant", "user", "assistant", "user", "assistant"]
    first = t.iloc[0]
    # Line 1 (output_item.done) gives this item the Spanish answer; line 24, a pasted fragment,
    # carries the English story under the same ids. The first final record wins.
    assert first["text"] == ("Claro, dime qué es lo que tienes en mente. ¿Te gustaría conversar "
                             "sobre algo en particular? Estoy aquí para ayudarte.")
    assert first["final"]
    story = t.iloc[2]
    assert story["text"].startswith("Sure! I'd be happy to tell you a short bedtime story.")
    assert story["text"].endswith("Good night, and sweet dreams.")
    assert story["final"]  # from response.content_part.done (line 25)
    unfinished = t.iloc[4]
    assert (unfinished["text"], unfinished["final"]) == ("The", False)


def test_ga_fragments_events(ga: dict[str, pd.DataFrame]) -> None:
    e = ga["events"]
    assert e["original_type"].isna().all()  # GA names throughout
    assert e["type"].value_counts()["response.output_audio_transcript.delta"] == 2
    assert (e["size_bytes"] > 0).all()
