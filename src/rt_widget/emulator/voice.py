"""The assistant's voice: text to 48 kHz mono int16 PCM for the outbound WebRTC track.

With ``espeak-ng`` installed the emulator speaks the reply (a robotic but intelligible voice,
resampled to the track's 48 kHz); without it, it plays an audible stand-in: one tone burst per
word, so a listener still hears when and how long the assistant "talks". Each session voice name
maps to a different espeak variant, so two voices sound different.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import struct
import subprocess
import zlib
from collections import OrderedDict
from typing import Protocol

import av
import numpy as np

RATE = 48_000
_ESPEAK_WPM = 175  # espeak-ng's default speaking rate, scaled by the session's audio.output.speed

# A distinct espeak-ng variant per GA voice name (female fN, male mN variants ship with espeak-ng).
ESPEAK_VARIANTS = {
    "alloy": "f3",
    "ash": "m3",
    "ballad": "m5",
    "coral": "f2",
    "echo": "m1",
    "sage": "f4",
    "shimmer": "f5",
    "verse": "m2",
    "marin": "f1",
    "cedar": "m4",
}


class Voice(Protocol):
    """Anything that turns text into speech at :data:`RATE`."""

    name: str

    async def synthesize(self, text: str, voice: str, speed: float) -> np.ndarray: ...


def resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Mono int16 ``samples`` from ``rate`` to ``target`` Hz (libswresample, via PyAV)."""
    if rate == target or samples.size == 0:
        return samples.astype(np.int16, copy=False)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=target)
    out = resampler.resample(frame) + resampler.resample(None)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in out]).astype(np.int16, copy=False)


def parse_wav(data: bytes) -> tuple[np.ndarray, int]:
    """Samples and rate of a 16-bit PCM WAV.

    espeak-ng writing to stdout cannot seek back to fill in sizes, so its header claims a huge
    data chunk: everything after the ``data`` header is taken as samples.
    """
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    pos, rate, channels = 12, 0, 1
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt ":
            fmt, channels, rate = struct.unpack("<HHI", data[body : body + 8])
            bits = struct.unpack("<H", data[body + 14 : body + 16])[0]
            if fmt != 1 or bits != 16:
                raise ValueError("only 16-bit PCM WAV is supported")
        elif chunk == b"data":
            raw = data[body : min(len(data), body + size)]
            samples = np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2")
            if channels > 1:
                samples = samples[: samples.size // channels * channels].reshape(-1, channels)
                samples = samples.mean(axis=1).astype(np.int16)
            return samples.astype(np.int16), rate
        pos = body + size + (size & 1)
    raise ValueError("WAV file has no data chunk")


class EspeakVoice:
    """Speech from the ``espeak-ng`` binary, cached per (text, voice, speed)."""

    name = "espeak-ng"

    def __init__(self, binary: str, cache_size: int = 64) -> None:
        self.binary = binary
        self._cache: OrderedDict[tuple[str, str, int], np.ndarray] = OrderedDict()
        self._cache_size = cache_size

    def _run(self, text: str, variant: str, wpm: int) -> np.ndarray:
        # Text goes in on stdin, never as an argument: a reply starting with "-" stays text.
        done = subprocess.run(
            [self.binary, "-v", f"en-us+{variant}", "-s", str(wpm), "--stdout"],
            input=text.encode(),
            capture_output=True,
            timeout=20,
            check=True,
        )
        samples, rate = parse_wav(done.stdout)
        return resample(samples, rate)

    async def synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        variant = ESPEAK_VARIANTS.get(voice, "f3")
        wpm = max(80, min(450, round(_ESPEAK_WPM * speed)))
        key = (text, variant, wpm)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        loop = asyncio.get_running_loop()
        pcm = await loop.run_in_executor(None, functools.partial(self._run, text, variant, wpm))
        self._cache[key] = pcm
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return pcm


class PatternVoice:
    """An audible stand-in for speech: a voiced tone burst per word, pauses at punctuation."""

    name = "pattern"

    WORD_MS = 180
    GAP_MS = 70
    PAUSE_MS = 250  # after , . ! ?

    async def synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        return self.render(text, voice, speed)

    def render(self, text: str, voice: str, speed: float = 1.0) -> np.ndarray:
        words = text.split() or ["..."]
        base = 110.0 if ESPEAK_VARIANTS.get(voice, "f").startswith("m") else 190.0
        pieces: list[np.ndarray] = []
        for word in words:
            n = int(RATE * self.WORD_MS / 1000 / speed)
            t = np.arange(n) / RATE
            # Pitch varies per word (stable across runs) so the pattern sounds like prosody.
            f0 = base * (1.0 + (zlib.crc32(word.lower().encode()) % 40) / 100.0)
            tone = np.sin(2 * np.pi * f0 * t) + 0.5 * np.sin(4 * np.pi * f0 * t)
            burst = 0.25 * tone * np.hanning(n)
            pieces.append((burst * 32767).astype(np.int16))
            gap = self.PAUSE_MS if word[-1] in ",.!?;:" else self.GAP_MS
            pieces.append(np.zeros(int(RATE * gap / 1000 / speed), dtype=np.int16))
        return np.concatenate(pieces)


def make_voice(engine: str = "auto") -> Voice:
    """``auto``: espeak-ng when installed, else the pattern; ``espeak`` insists; ``pattern``."""
    if engine not in ("auto", "espeak", "pattern"):
        raise ValueError(f"unknown voice engine {engine!r}: use 'auto', 'espeak' or 'pattern'")
    binary = shutil.which("espeak-ng")
    if engine == "pattern" or (engine == "auto" and binary is None):
        return PatternVoice()
    if binary is None:
        raise RuntimeError(
            "espeak-ng is not installed (apt-get install -y espeak-ng); "
            "use the voice engine 'pattern' or 'auto' to run without it"
        )
    return EspeakVoice(binary)
