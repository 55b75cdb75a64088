"""rt_widget.plot: each chart from a log or from its frame; a clear message without matplotlib."""

from __future__ import annotations

import sys

import pytest

from rt_widget import EventLog, plot

from . import scenarios
from .sessions import recorded

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_turn_latency_from_a_log_and_from_its_frame() -> None:
    log = scenarios.interrupted_turn().log()
    ax = plot.turn_latency(log)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "call 0 · speech (cancelled)", "call 0 · speech"]
    # resp_5: speech stopped 800 -> committed 810 -> created 830 -> first delta 900 -> audio 1000
    widths = [round(p.get_width()) for p in ax.patches]
    assert widths[:4] == [10, 20, 70, 100]
    assert sum(widths[:4]) == 200  # its voice-to-voice latency
    assert any(t.get_text() == "200 ms" for t in ax.texts)
    again = plot.turn_latency(log.turns())
    assert [round(p.get_width()) for p in again.patches] == widths


def test_turn_latency_of_a_real_call() -> None:
    ax = plot.turn_latency(recorded("beta_webrtc_3turns_events.jsonl"))
    assert len(ax.get_yticklabels()) == 4


def test_connection_waterfall() -> None:
    log = scenarios.two_calls().log()
    ax = plot.connection_waterfall(log)  # the last call by default
    assert [t.get_text() for t in ax.get_yticklabels()] == ["start", "channel_open", "closed"]
    assert [round(p.get_width()) for p in ax.patches] == [250, 2750, 0]
    assert "call 2" in ax.get_title()
    first = plot.connection_waterfall(log.connection(), call=1)
    assert [round(p.get_x()) for p in first.patches] == [0, 5, 300, 3000]


def test_stats_timeseries() -> None:
    fig = plot.stats_timeseries(scenarios.speech_turn().log())
    assert len(fig.axes) == len(plot.DEFAULT_STATS)
    rtt = fig.axes[0].lines[0]
    assert list(rtt.get_xdata()) == pytest.approx([1.0, 2.0, 3.0])
    fig = plot.stats_timeseries(scenarios.speech_turn().log().stats(), columns=["rtt_ms"])
    assert [ax.get_ylabel() for ax in fig.axes] == ["rtt_ms"]


def test_a_frame_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="turns"):
        plot.turn_latency(scenarios.speech_turn().log().stats())


def test_without_matplotlib_the_error_says_what_to_install(monkeypatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r"pip install \"rt_widget\[plot\]\""):
        plot.turn_latency(scenarios.speech_turn().log())


def test_charts_of_an_empty_log_do_not_fail() -> None:
    log = EventLog()
    assert plot.turn_latency(log).get_title() == "Turn latency"
    assert plot.connection_waterfall(log).get_title() == "Connection"
    assert len(plot.stats_timeseries(log).axes) == len(plot.DEFAULT_STATS)
