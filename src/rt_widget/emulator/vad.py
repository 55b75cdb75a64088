"""Energy-based turn detection, standing in for the service's ``server_vad``.

The input is cut into 10 ms frames; a frame is speech when its RMS level reaches a threshold in
dBFS mapped linearly from the session's ``threshold`` (0..1): 0 -> -70 dBFS (anything above a
quiet room), 0.5 -> -40 dBFS, 1 -> -10 dBFS (only shouting). Speech starts after 30 ms of
consecutive loud frames, and the reported start goes back ``prefix_padding_ms`` as the service's
does; it stops after ``silence_duration_ms`` without a loud frame, and the reported end includes
that silence, again as the service's does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

FRAME_MS = 10
MIN_SPEECH_MS = 30  # a click or a pop is not a turn
FLOOR_DBFS = -100.0


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dB relative to full scale (a full-scale square is 0)."""
    if samples.size == 0:
        return FLOOR_DBFS
    x = samples.astype(np.float64) / 32768.0
    rms = math.sqrt(float(np.mean(x * x)))
    return max(FLOOR_DBFS, 20.0 * math.log10(rms)) if rms > 0 else FLOOR_DBFS


def threshold_dbfs(threshold: float) -> float:
    return -70.0 + 60.0 * threshold


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int  # includes the prefix padding


@dataclass(frozen=True)
class SpeechStopped:
    audio_end_ms: int  # includes the trailing silence
    speech_ms: int  # first loud frame to last loud frame: what a listener would call its length


VadEvent = SpeechStarted | SpeechStopped


class _State(Enum):
    IDLE = "idle"
    ONSET = "onset"  # loud, but not yet long enough to be speech
    SPEECH = "speech"


class EnergyVad:
    """Feed it audio with :meth:`push`; it answers with speech start and stop events."""

    def __init__(
        self,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        start_ms: int = 0,
    ) -> None:
        self.threshold_dbfs = threshold_dbfs(threshold)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = max(silence_duration_ms, FRAME_MS)
        self.now_ms = start_ms  # end of the audio processed so far, on the call's input timeline
        self._floor_ms = start_ms  # a turn's padding never reaches back into the previous turn
        self._state = _State.IDLE
        self._run_start = 0
        self._run_ms = 0
        self._speech_start = 0
        self._last_loud_end = 0
        self._silence_ms = 0
        self._pending = np.zeros(0, dtype=np.int16)
        self._pending_rate = 0

    @property
    def in_speech(self) -> bool:
        return self._state is _State.SPEECH

    def push(self, samples: np.ndarray, rate: int) -> list[VadEvent]:
        """Process mono int16 ``samples`` at ``rate`` Hz; returns the events they complete."""
        if rate != self._pending_rate:
            self._pending, self._pending_rate = np.zeros(0, dtype=np.int16), rate
        buf = np.concatenate((self._pending, samples)) if self._pending.size else samples
        step = rate * FRAME_MS // 1000
        whole = (buf.size // step) * step
        out: list[VadEvent] = []
        for i in range(0, whole, step):
            e = self._frame(level_dbfs(buf[i : i + step]) >= self.threshold_dbfs)
            if e is not None:
                out.append(e)
        self._pending = buf[whole:].copy()
        return out

    def _frame(self, loud: bool) -> VadEvent | None:
        start, self.now_ms = self.now_ms, self.now_ms + FRAME_MS
        if self._state is _State.SPEECH:
            if loud:
                self._last_loud_end, self._silence_ms = self.now_ms, 0
                return None
            self._silence_ms += FRAME_MS
            if self._silence_ms >= self.silence_duration_ms:
                return self.stop()
            return None
        if not loud:
            self._state = _State.IDLE
            return None
        if self._state is _State.IDLE:
            self._state, self._run_start, self._run_ms = _State.ONSET, start, 0
        self._run_ms += FRAME_MS
        if self._run_ms < MIN_SPEECH_MS:
            return None
        self._state = _State.SPEECH
        self._speech_start, self._last_loud_end, self._silence_ms = self._run_start, self.now_ms, 0
        return SpeechStarted(max(self._floor_ms, self._run_start - self.prefix_padding_ms))

    def stop(self) -> SpeechStopped | None:
        """End the current turn now (a manual commit during speech); None when not in speech."""
        if self._state is not _State.SPEECH:
            return None
        self._state = _State.IDLE
        self._floor_ms = self.now_ms
        return SpeechStopped(self.now_ms, self._last_loud_end - self._speech_start)

    def reset(self) -> None:
        """Forget any speech in progress (``input_audio_buffer.clear``)."""
        self._state = _State.IDLE
        self._floor_ms = self.now_ms
