"""connection() and stats(): the widget's records of the handshake and of getStats()."""

from __future__ import annotations

import math

import pytest

from rt_widget import EventLog
from rt_widget.messages import STATS_FIELDS

from . import scenarios
from .sessions import T0


def test_connection_waterfall_of_one_call() -> None:
    c = scenarios.speech_turn().log().connection()
    assert list(c.columns[:6]) == ["call", "phase", "t_ms", "t_s", "since_start_ms", "duration_ms"]
    assert list(c["phase"]) == [
        "start", "secret_requested", "secret_received", "mic_requested", "mic_ready",
        "offer_created", "answer_received", "remote_description_set", "ice_checking",
        "ice_connected", "pc_connected", "channel_open", "session_created", "closed",
    ]
    assert set(c["call"]) == {1}
    assert list(c["since_start_ms"]) == [0, 10, 130, 135, 215, 220, 520, 525, 560, 600, 610, 700,
                                         765, 5000]
    assert list(c["t_ms"] - T0) == list(c["since_start_ms"])
    assert list(c["t_s"]) == pytest.approx([0, 0.01, 0.13, 0.135, 0.215, 0.22, 0.52, 0.525, 0.56,
                                            0.6, 0.61, 0.7, 0.765, 5.0])
    # each phase lasts until the next: 10-0, 130-10, 135-130, ...; the last has no end
    assert list(c["duration_ms"][:-1]) == [10, 120, 5, 80, 5, 300, 5, 35, 40, 10, 90, 65, 4235]
    assert math.isnan(c["duration_ms"].iloc[-1])


def test_connection_per_call() -> None:
    c = scenarios.two_calls().log().connection()
    assert list(c["call"]) == [1, 1, 1, 1, 2, 2, 2]
    assert list(c["since_start_ms"]) == [0, 5, 300, 3000, 0, 250, 3000]
    durations = list(c["duration_ms"])
    # a call's last phase has no duration: it does not run into the next call's start
    assert durations[:3] == [5, 295, 2700] and math.isnan(durations[3])
    assert durations[4:6] == [250, 2750] and math.isnan(durations[6])


def test_connection_keeps_the_phase_details() -> None:
    log = EventLog()
    log.append("widget", {"type": "widget.phase", "phase": "start"}, t_browser_ms=T0)
    log.append("widget", {"type": "widget.phase", "phase": "ice_failed", "reason": "timeout"},
               t_browser_ms=T0 + 30)
    c = log.connection()
    assert c["detail"].iloc[0] is None
    assert c["detail"].iloc[1] == {"reason": "timeout"}


def test_connection_of_a_log_without_widget_records_is_empty() -> None:
    c = scenarios.text_turn().log().connection()
    assert len(c) == 0 and "duration_ms" in c.columns


def test_stats_series_and_rates() -> None:
    s = scenarios.speech_turn().log().stats()
    for column in ("call", "t_ms", "t_s", *STATS_FIELDS, "bitrate_in_kbps", "bitrate_out_kbps",
                   "packet_loss_pct"):
        assert column in s.columns, column
    assert list(s["t_s"]) == pytest.approx([1.0, 2.0, 3.0])
    assert list(s["rtt_ms"]) == [40.0] * 3
    assert list(s["bytes_received"]) == [4000, 8000, 500]
    first, second, third = (s.iloc[i] for i in range(3))
    # the first sample has nothing to compare with
    assert math.isnan(first["bitrate_in_kbps"]) and math.isnan(first["packet_loss_pct"])
    # 4000 bytes received in 1000 ms = 32 kbit/s; 40000 bytes sent = 320 kbit/s
    assert second["bitrate_in_kbps"] == pytest.approx(32.0)
    assert second["bitrate_out_kbps"] == pytest.approx(320.0)
    # 2 lost and 48 received in the interval: 2 / 50 = 4 %
    assert second["packet_loss_pct"] == pytest.approx(4.0)
    # counters went backwards (restarted): no rate rather than a negative one
    assert math.isnan(third["bitrate_in_kbps"]) and math.isnan(third["bitrate_out_kbps"])
    # lost stayed at 2 while received dropped: received's delta is negative, so no loss figure
    assert math.isnan(third["packet_loss_pct"])


def test_stats_missing_fields_are_nan() -> None:
    log = EventLog()
    log.append("widget", {"type": "widget.stats", "rtt_ms": 12.5, "jitter_ms": None},
               t_browser_ms=T0)
    s = log.stats()
    assert s["rtt_ms"].iloc[0] == 12.5
    assert math.isnan(s["jitter_ms"].iloc[0]) and math.isnan(s["bytes_sent"].iloc[0])
