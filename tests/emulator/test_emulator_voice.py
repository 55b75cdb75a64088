"""The assistant's voice: espeak-ng resampled to 48 kHz, or the synthesized pattern."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import numpy as np
import pytest

from rt_widget.emulator.vad import level_dbfs
from rt_widget.emulator.voice import (
    EspeakVoice,
    PatternVoice,
    make_voice,
    parse_wav,
    resample,
)

espeak = shutil.which("espeak-ng")


@pytest.mark.skipif(espeak is None, reason="espeak-ng is not installed")
def test_espeak_speaks_at_48khz() -> None:
    voice = make_voice("espeak")
    assert isinstance(voice, EspeakVoice)
    pcm = asyncio.run(voice.synthesize("I heard 1.4 seconds of audio.", "alloy", 1.0))
    assert pcm.dtype == np.int16
    seconds = pcm.size / 48_000
    assert 1.0 < seconds < 4.0
    assert level_dbfs(pcm) > -35  # speech, not silence
    faster = asyncio.run(voice.synthesize("I heard 1.4 seconds of audio.", "alloy", 1.5))
    assert faster.size < pcm.size * 0.85  # audio.output.speed is honoured
    other = asyncio.run(voice.synthesize("I heard 1.4 seconds of audio.", "cedar", 1.0))
    assert not np.array_equal(other[: min(other.size, pcm.size)], pcm[: min(other.size, pcm.size)])


@pytest.mark.skipif(espeak is None, reason="espeak-ng is not installed")
def test_text_starting_with_a_dash_is_spoken_not_taken_as_an_option() -> None:
    pcm = asyncio.run(make_voice("espeak").synthesize("-v --help", "alloy", 1.0))
    assert pcm.size > 0.2 * 48_000


@pytest.mark.skipif(espeak is None, reason="espeak-ng is not installed")
def test_parse_wav_reads_espeaks_streamed_header() -> None:
    data = subprocess.run(
        [espeak, "--stdout"], input=b"hello", capture_output=True, check=True
    ).stdout
    samples, rate = parse_wav(data)
    assert rate == 22_050 and samples.size > 0.2 * rate


def test_pattern_voice_is_audible_and_as_long_as_the_text() -> None:
    voice = PatternVoice()
    short = voice.render("Hello there.", "alloy")
    long = voice.render("Hello there, this is a much longer reply with many words.", "alloy")
    assert level_dbfs(short) > -30
    assert long.size > 3 * short.size
    assert make_voice("pattern").name == "pattern"


def test_resample_keeps_duration() -> None:
    tone = (np.sin(np.arange(22_050) / 10) * 10_000).astype(np.int16)
    out = resample(tone, 22_050)
    assert abs(out.size - 48_000) <= 48


def test_unknown_engine_is_an_error() -> None:
    with pytest.raises(ValueError, match="voice engine"):
        make_voice("festival")
