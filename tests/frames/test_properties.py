"""Property-based tests: whatever happened to a log (shuffled, cut, records lost or repeated, odd
clocks), the frames build, and no duration is ever negative."""

from __future__ import annotations

import copy
import math
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rt_widget import EventLog, frames

from .scenarios import ALL
from .sessions import recorded

# Every session the other tests use, and the real recorded calls.
BASES: dict[str, list[dict[str, Any]]] = {name: make().records for name, make in ALL.items()}
BASES["beta_webrtc"] = list(recorded("beta_webrtc_3turns_events.jsonl"))
BASES["ga_fragments"] = list(recorded("ga_websocket_fragments_events.jsonl"))

DURATIONS = {
    "connection": ["since_start_ms", "duration_ms"],
    "turns": ["voice_to_voice_ms", "turn_detection_ms", "time_to_first_delta_ms", "response_ms",
              "speech_ms", "audio_ms"],
    "stats": ["bitrate_in_kbps", "bitrate_out_kbps", "packet_loss_pct"],
}
TRIGGERS = {"speech", "text", "tool", "manual"}

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def build_all(records: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    log = EventLog(records)
    built = {name: getattr(frames, name)(log) for name in
             ("events", "transcripts", "turns", "connection", "stats")}
    check_invariants(log, built)
    return built


def check_invariants(log: EventLog, built: dict[str, pd.DataFrame]) -> None:
    assert len(built["events"]) == len(log)
    for name, frame in built.items():
        for column in DURATIONS.get(name, []):
            values = frame[column].to_numpy(dtype=float)
            assert not (values < 0).any(), f"{name}.{column} negative: {values}"
        for column in frame.columns:
            if column.endswith("_s"):  # seconds since the call's earliest record
                values = frame[column].to_numpy(dtype=float)
                assert not (values < 0).any(), f"{name}.{column} negative: {values}"
    turns = built["turns"]
    assert set(turns["trigger"].dropna()) <= TRIGGERS
    assert turns["interrupted"].dtype == bool
    text = built["transcripts"]["text"]
    assert all(isinstance(v, str) for v in text.dropna())
    assert set(built["transcripts"]["role"]) <= {"user", "assistant"}
    pct = built["stats"]["packet_loss_pct"].to_numpy(dtype=float)
    assert not (pct > 100).any()


def with_clock(records: list[dict[str, Any]], offsets: list[float | None]) -> list[dict[str, Any]]:
    """A copy with each record's browser time moved (or removed: None), kernel time kept."""
    out = []
    for record, offset in zip(records, offsets, strict=False):
        record = dict(record)
        if offset is None:
            record["t_browser_ms"] = None
        elif record["t_browser_ms"] is not None:
            record["t_browser_ms"] = record["t_browser_ms"] + offset
        out.append(record)
    return out


base_names = st.sampled_from(sorted(BASES))


@SETTINGS
@given(name=base_names, data=st.data())
def test_shuffled_logs(name: str, data: st.DataObject) -> None:
    records = data.draw(st.permutations(BASES[name]))
    build_all(records)


@SETTINGS
@given(name=base_names, data=st.data())
def test_cut_logs_and_lost_records(name: str, data: st.DataObject) -> None:
    records = BASES[name]
    start = data.draw(st.integers(0, len(records)))
    end = data.draw(st.integers(start, len(records)))
    kept = data.draw(st.lists(st.booleans(), min_size=end - start, max_size=end - start))
    build_all([r for r, keep in zip(records[start:end], kept, strict=True) if keep])


@SETTINGS
@given(name=base_names, data=st.data())
def test_repeated_records_anywhere(name: str, data: st.DataObject) -> None:
    records = list(BASES[name])
    for _ in range(data.draw(st.integers(1, 20))):
        record = data.draw(st.sampled_from(records))
        records.insert(data.draw(st.integers(0, len(records))), record)
    build_all(records)


@SETTINGS
@given(name=base_names, data=st.data())
def test_odd_clocks(name: str, data: st.DataObject) -> None:
    """Browser times jittered by up to a few seconds either way, or missing (kernel time used)."""
    records = BASES[name]
    offsets = data.draw(st.lists(
        st.one_of(st.none(), st.floats(-3000, 3000, allow_nan=False)),
        min_size=len(records), max_size=len(records)))
    build_all(with_clock(records, offsets))


@SETTINGS
@given(name=st.sampled_from(sorted(ALL)), data=st.data())
def test_a_repeated_event_changes_nothing(name: str, data: st.DataObject) -> None:
    """A server or client event delivered twice (same event_id, later in the same call) is
    ignored: turns and transcripts are exactly those of the clean log."""
    records = BASES[name]
    clean = build_all(records)
    starts = [i for i, r in enumerate(records) if r["event"].get("phase") == "start"]
    after: dict[int, list[dict[str, Any]]] = {}  # index in records -> copies to put after it
    for _ in range(data.draw(st.integers(1, 10))):
        i = data.draw(st.integers(0, len(records) - 1))
        if "event_id" not in records[i]["event"]:
            continue  # widget records have no id: repeating them is another story
        call_end = min([s for s in starts if s > i], default=len(records))
        j = data.draw(st.integers(i, call_end - 1))
        after.setdefault(j, []).append(copy.deepcopy(records[i]))
    repeated = []
    for j, record in enumerate(records):
        repeated.append(record)
        repeated.extend(after.get(j, []))
    noisy = build_all(repeated)
    pd.testing.assert_frame_equal(noisy["turns"], clean["turns"])
    pd.testing.assert_frame_equal(noisy["transcripts"], clean["transcripts"])


@pytest.mark.parametrize("name", [*sorted(ALL), "beta_webrtc"])
def test_a_cut_log_never_gives_a_different_number(name: str) -> None:
    """Cut a well-ordered log anywhere: every number of a turn is either the one the whole log
    gives, or NaN (not known yet). A missing step never produces a wrong number."""
    records = BASES[name]
    full = build_all(records)["turns"].set_index("response_id")
    numeric = [c for c in full.columns if c.endswith(("_ms", "_s", "_tokens"))]
    for cut in range(len(records) + 1):
        part = build_all(records[:cut])["turns"].set_index("response_id")
        for response_id, row in part.iterrows():
            for column in numeric:
                value = row[column]
                if pd.isna(value):
                    continue
                expected = full.loc[response_id, column]
                assert not pd.isna(expected) and math.isclose(value, expected), (
                    f"cut at {cut}: {response_id}.{column} = {value}, whole log {expected}")
            if pd.notna(row["trigger"]):
                assert row["trigger"] == full.loc[response_id, "trigger"], f"cut at {cut}"
