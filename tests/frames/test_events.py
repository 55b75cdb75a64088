"""events(): one row per record; and the EventLog methods, live and after save/load."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from rt_widget import EventLog, frames

from . import scenarios
from .sessions import T0, recorded


def test_one_row_per_record_with_its_fields() -> None:
    log = scenarios.speech_turn().log()
    e = log.events()
    assert len(e) == len(log)
    assert list(e.columns[:5]) == ["seq", "call", "source", "type", "original_type"]
    for column in ("seq", "source", "type", "t_browser_ms", "t_kernel_ms", "event_id", "item_id",
                   "response_id", "size_bytes", "event"):
        assert column in e.columns
    assert isinstance(e["type"].dtype, pd.CategoricalDtype)
    assert isinstance(e["source"].dtype, pd.CategoricalDtype)
    assert list(e["seq"]) == list(range(len(log)))
    assert e["event"].iloc[0] is log[0]["event"]  # the log's own dict

    created = e[e["type"] == "response.created"].iloc[0]
    assert created["response_id"] == "resp_1"  # from response.id
    assert created["source"] == "server" and created["call"] == 1
    added = e[e["type"] == "response.output_item.added"].iloc[0]
    assert (added["item_id"], added["response_id"]) == ("item_a1", "resp_1")  # item.id
    delta = e[e["type"] == "response.output_audio_transcript.delta"].iloc[0]
    assert delta["item_id"] == "item_a1" and delta["event_id"].startswith("event_")
    assert pd.isna(e["original_type"]).all()  # nothing renamed in a GA log


def test_times_prefer_the_browser_clock() -> None:
    log = EventLog()
    log.append("widget", {"type": "widget.phase", "phase": "start"}, t_browser_ms=T0,
               t_kernel_ms=T0 + 3)
    log.append("server", {"type": "session.created", "event_id": "e1"}, t_browser_ms=None,
               t_kernel_ms=T0 + 250)
    log.append("client", {"type": "response.create"}, t_browser_ms=T0 + 500, t_kernel_ms=T0 + 520)
    e = log.events()
    assert list(e["t_ms"]) == [T0, T0 + 250, T0 + 500]
    assert list(e["t_s"]) == pytest.approx([0.0, 0.25, 0.5])
    assert math.isnan(e["t_browser_ms"].iloc[1]) and math.isnan(e["t_browser_s"].iloc[1])
    # the kernel clock counts from the call's earliest kernel time, T0 + 3
    assert list(e["t_kernel_s"]) == pytest.approx([0.0, 0.247, 0.517])
    assert e["t_browser_s"].iloc[2] == pytest.approx(0.5)
    assert list(e["source"]) == ["widget", "server", "client"]
    assert pd.isna(e["event_id"].iloc[2])


def test_size_is_the_compact_utf8_json() -> None:
    log = EventLog()
    log.append("server", {"type": "x", "t": "é"}, t_browser_ms=T0)
    log.append("server", {"type": "y", "n": [1, 2.5, None, True]}, t_browser_ms=T0)
    # {"type":"x","t":"é"} is 20 characters, and é takes two bytes in UTF-8
    # {"type":"y","n":[1,2.5,null,true]} is 34 characters, all ASCII
    assert list(log.events()["size_bytes"]) == [21, 34]


def test_beta_names_read_as_ga() -> None:
    e = recorded("beta_webrtc_3turns_events.jsonl").events()
    renamed = e[e["original_type"].notna()]
    pairs = set(zip(renamed["original_type"], renamed["type"], strict=True))
    assert pairs == {
        ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
        ("response.audio_transcript.done", "response.output_audio_transcript.done"),
        ("response.audio.done", "response.output_audio.done"),
        ("conversation.item.created", "conversation.item.added"),
    }
    # counted by hand in the file: 48 transcript deltas, 6 items created, 3 of each done
    counts = renamed["original_type"].value_counts()
    assert counts["response.audio_transcript.delta"] == 48
    assert counts["conversation.item.created"] == 6
    assert counts["response.audio_transcript.done"] == 3
    assert counts["response.audio.done"] == 3
    assert "response.audio_transcript.delta" not in set(e["type"])


def test_calls_are_numbered_by_start_phases() -> None:
    e = scenarios.two_calls().log().events()
    starts = e.index[(e["type"] == "widget.phase")
                     & e["event"].map(lambda ev: ev.get("phase") == "start")]
    assert list(e.loc[starts, "call"]) == [1, 2]
    assert set(e["call"]) == {1, 2}
    second = e[e["call"] == 2]
    assert second["t_s"].iloc[0] == 0.0 and second["t_s"].min() == 0.0


def test_records_before_any_start_are_call_zero() -> None:
    session = scenarios.text_turn()
    session.at(1000, {"type": "widget.phase", "phase": "start"})
    session.at(1100, {"type": "widget.phase", "phase": "secret_requested"})
    e = session.log().events()
    assert list(e["call"]) == [0] * (len(e) - 2) + [1, 1]
    assert list(e["t_s"].iloc[-2:]) == pytest.approx([0.0, 0.1])


def test_eventlog_methods_match_the_functions_and_survive_save_load(tmp_path) -> None:
    log = scenarios.interrupted_turn().log()
    path = tmp_path / "session.jsonl"
    log.save(path)
    loaded = EventLog.load(path)
    for name in ("events", "transcripts", "turns", "connection", "stats"):
        live = getattr(log, name)()
        pd.testing.assert_frame_equal(live, getattr(frames, name)(log))
        pd.testing.assert_frame_equal(live, getattr(loaded, name)(), check_exact=True)


def test_each_call_returns_a_new_frame() -> None:
    log = scenarios.speech_turn().log()
    first = log.turns()
    first.loc[0, "status"] = "changed"
    assert log.turns().loc[0, "status"] == "completed"


def test_a_plain_list_of_records_works() -> None:
    records = scenarios.text_turn().records
    assert len(frames.events(records)) == len(records)
    assert list(frames.turns(iter(records))["response_id"]) == ["resp_2"]


def test_malformed_events_do_not_raise() -> None:
    """Files from elsewhere: odd types and shapes give NaN, not exceptions."""
    log = EventLog()
    for event in ({"type": None}, {"type": ["a"]}, {}, {"type": "response.done", "response": 3},
                  {"type": "response.created", "response": {"id": 7}},
                  {"type": "conversation.item.added", "item": {"id": "i", "content": "x"}},
                  {"type": "response.output_audio_transcript.delta", "item_id": "i",
                   "delta": None, "content_index": "0"},
                  {"type": "widget.stats", "rtt_ms": "fast", "bytes_received": True},
                  {"type": "widget.phase", "phase": 5},
                  {"type": "conversation.item.added", "previous_item_id": ["x"],
                   "item": {"id": "j", "type": "message", "role": "user",
                            "content": [{"type": ["input_text"], "text": "hi"}, 7]}},
                  {"type": "response.content_part.done", "item_id": "i", "part": {"type": {}}},
                  {"type": "input_audio_buffer.committed", "item_id": ["k"]}):
        log.append("server", event, t_browser_ms=T0)
    for name in ("events", "transcripts", "turns", "connection", "stats"):
        getattr(log, name)()
    assert len(log.events()) == 12
    assert json.dumps(log.events()["size_bytes"].tolist())
