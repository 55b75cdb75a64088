"""Audio on the call: the outbound speech track, and inbound frames made mono.

:class:`SpeechTrack` is the one audio track the emulator sends. It is paced in real time (a 20 ms
frame every 20 ms, as a microphone would be), silent when idle, and tells a listener when a
queued utterance's first frame goes out and when its last one has; those moments are the
``output_audio_buffer.started`` and ``.stopped`` events.
"""

from __future__ import annotations

import asyncio
import fractions
from collections import deque
from dataclasses import dataclass
from typing import Protocol

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

RATE = 48_000
FRAME_MS = 20
FRAME_SAMPLES = RATE * FRAME_MS // 1000
_TIME_BASE = fractions.Fraction(1, RATE)
# When the sender falls further behind than this (a stalled loop), restart the clock instead of
# sending a burst of catch-up frames the browser's jitter buffer would drop anyway.
_MAX_LAG_S = 0.1


class PlaybackListener(Protocol):
    def playback_started(self, tag: str) -> None: ...

    def playback_finished(self, tag: str) -> None: ...


@dataclass
class _Utterance:
    tag: str
    pcm: np.ndarray
    pos: int = 0


class SpeechTrack(MediaStreamTrack):
    """The assistant's voice: utterances queued with :meth:`play`, silence in between."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.listener: PlaybackListener | None = None
        self._queue: deque[_Utterance] = deque()
        self._t0: float | None = None
        self._frames = 0
        self.frames_sent = 0
        self.speech_frames_sent = 0

    @property
    def playing(self) -> str | None:
        """Tag of the utterance being played or waiting to be, if any."""
        return self._queue[0].tag if self._queue else None

    def play(self, pcm: np.ndarray, tag: str) -> None:
        """Queue mono int16 PCM at 48 kHz; it starts after whatever is queued before it."""
        self._queue.append(_Utterance(tag, np.ascontiguousarray(pcm, dtype=np.int16)))

    def clear(self) -> list[str]:
        """Stop at once, dropping everything queued; returns the tags that were cut off."""
        tags = [u.tag for u in self._queue]
        self._queue.clear()
        return tags

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._t0 is None:
            self._t0 = now
        else:
            self._frames += 1
            due = self._t0 + self._frames * FRAME_MS / 1000
            if now - due > _MAX_LAG_S:
                self._t0, self._frames = now, 0
            elif due > now:
                await asyncio.sleep(due - now)

    def _next_samples(self) -> np.ndarray:
        out = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        if not self._queue:
            return out
        head = self._queue[0]
        if head.pos == 0 and self.listener is not None:
            self.listener.playback_started(head.tag)
        chunk = head.pcm[head.pos : head.pos + FRAME_SAMPLES]
        out[: chunk.size] = chunk
        head.pos += chunk.size
        self.speech_frames_sent += 1
        if head.pos >= head.pcm.size:
            self._queue.popleft()
            if self.listener is not None:
                self.listener.playback_finished(head.tag)
        return out

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._pace()
        samples = self._next_samples()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self.frames_sent * FRAME_SAMPLES
        frame.time_base = _TIME_BASE
        self.frames_sent += 1
        return frame


def to_mono(frame: av.AudioFrame) -> tuple[np.ndarray, int]:
    """A decoded frame (aiortc gives 48 kHz stereo s16 from Opus) as mono int16 and its rate."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.mean(axis=0) if channels > 1 else data.reshape(-1)
    else:
        flat = data.reshape(-1)
        mono = flat.reshape(-1, channels).mean(axis=1) if channels > 1 else flat
    if np.issubdtype(mono.dtype, np.floating) and frame.format.name.startswith(("flt", "dbl")):
        mono = np.clip(mono * 32767.0, -32768, 32767)
    return np.asarray(mono).astype(np.int16), frame.sample_rate
