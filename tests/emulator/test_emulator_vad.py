"""Energy VAD on synthetic signals and on real (espeak-ng) speech, without WebRTC."""

from __future__ import annotations

import numpy as np
import pytest
from support.aiortc_client import read_wav
from support.speech import speech_wav

from rt_widget.emulator.vad import (
    EnergyVad,
    SpeechStarted,
    SpeechStopped,
    level_dbfs,
    threshold_dbfs,
)

RATE = 48_000


def tone(ms: int, amplitude: float = 0.3, freq: float = 220.0) -> np.ndarray:
    t = np.arange(RATE * ms // 1000) / RATE
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def silence(ms: int) -> np.ndarray:
    return np.zeros(RATE * ms // 1000, dtype=np.int16)


def feed(vad: EnergyVad, signal: np.ndarray, chunk: int = 960) -> list:
    events = []
    for i in range(0, signal.size, chunk):
        events += vad.push(signal[i : i + chunk], RATE)
    return events


def test_levels_and_threshold_mapping() -> None:
    assert level_dbfs(silence(10)) == -100.0
    assert level_dbfs(tone(100, 1.0)) == pytest.approx(-3.01, abs=0.05)  # full-scale sine
    assert (threshold_dbfs(0), threshold_dbfs(0.5), threshold_dbfs(1)) == (-70, -40, -10)


def test_a_turn_reports_padding_and_trailing_silence_like_the_service() -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)
    events = feed(vad, np.concatenate([silence(1000), tone(1200), silence(800)]))
    assert events == [SpeechStarted(700), SpeechStopped(2700, 1200)]


def test_timing_does_not_depend_on_chunk_size() -> None:
    signal = np.concatenate([silence(430), tone(650), silence(700)])
    results = {
        chunk: feed(EnergyVad(0.5, 100, 300), signal, chunk) for chunk in (480, 960, 1234, 7)
    }
    assert len({tuple(r) for r in results.values()}) == 1
    assert results[960] == [SpeechStarted(330), SpeechStopped(1380, 650)]


def test_short_pauses_do_not_end_a_turn_and_clicks_do_not_start_one() -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=400)
    signal = np.concatenate(
        [tone(20), silence(500), tone(300), silence(300), tone(300), silence(500)]
    )
    assert feed(vad, signal) == [SpeechStarted(520), SpeechStopped(1820, 900)]


def test_threshold_decides_what_is_loud() -> None:
    quiet = np.concatenate([tone(500, amplitude=0.003), silence(600)])  # about -53 dBFS
    assert feed(EnergyVad(threshold=0.5), quiet) == []
    assert len(feed(EnergyVad(threshold=0.2), quiet)) == 2


def test_padding_never_reaches_into_the_previous_turn() -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=200)
    events = feed(
        vad, np.concatenate([tone(300), silence(200), silence(100), tone(300), silence(300)])
    )
    assert events[2] == SpeechStarted(500)  # not 300: the first turn ended at 500


def test_stop_and_reset() -> None:
    vad = EnergyVad(threshold=0.5, prefix_padding_ms=0, silence_duration_ms=500)
    assert vad.stop() is None
    feed(vad, tone(200))
    assert vad.in_speech
    assert vad.stop() == SpeechStopped(200, 200)
    feed(vad, tone(200))
    vad.reset()
    assert not vad.in_speech and feed(vad, silence(600)) == []


def test_real_speech_is_one_turn() -> None:
    pcm = read_wav(speech_wav("What is the weather like in Paris today?"))
    events = feed(EnergyVad(), pcm)
    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]
    started, stopped = events
    assert 150 <= started.audio_start_ms <= 300  # 500 ms of lead silence, minus 300 padding
    assert 1.2 <= stopped.speech_ms / 1000 <= 3.0
