"""An aiortc client playing the browser's part against the emulator, for the tests.

It offers what a browser offers (an audio track and the ``oai-events`` data channel, BUNDLE),
posts the offer over HTTP, and validates every server event it receives against the openai SDK's
``RealtimeServerEvent`` union as it arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import math
import wave
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from openai.types.realtime import RealtimeServerEvent
from pydantic import TypeAdapter, ValidationError

SERVER_EVENT = TypeAdapter(RealtimeServerEvent)
RATE = 48_000
FRAME = 960  # 20 ms

Predicate = Callable[[dict[str, Any]], bool]


def validation_problem(event: Any) -> str | None:
    """None when ``event`` is a valid GA server event, else what is wrong with it."""
    try:
        SERVER_EVENT.validate_python(event)
    except ValidationError as e:
        return str(e)
    return None


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


class MicTrack(MediaStreamTrack):
    """The client's microphone: queued PCM (48 kHz mono) in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[np.ndarray] = deque()
        self._t0: float | None = None
        self._n = 0
        self.idle = asyncio.Event()
        self.idle.set()

    def say(self, pcm: np.ndarray) -> None:
        for i in range(0, pcm.size, FRAME):
            chunk = np.zeros(FRAME, dtype=np.int16)
            part = pcm[i : i + FRAME]
            chunk[: part.size] = part
            self._queue.append(chunk)
        self.idle.clear()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        else:
            self._n += 1
            wait = self._t0 + self._n * 0.02 - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        samples = self._queue.popleft() if self._queue else np.zeros(FRAME, dtype=np.int16)
        if not self._queue:
            self.idle.set()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = RATE
        frame.pts = self._n * FRAME
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class RealtimeClient:
    """One call to the emulator, as a browser would make it."""

    def __init__(self, base_url: str, validate: bool = True) -> None:
        self.base_url = base_url
        self.validate = validate  # off only to measure throughput
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = MicTrack()
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.invalid: list[tuple[Any, str]] = []
        self.call_id: str | None = None
        self.answer_sdp: str | None = None
        self.audio_frames = 0
        self.loud_frames = 0
        self._arrived = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    # -- connecting --------------------------------------------------------------------------------

    async def offer(self) -> str:
        self.pc.addTrack(self.mic)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def connect(
        self,
        http: aiohttp.ClientSession,
        *,
        token: str = "sk-test",
        form: str = "sdp",
        session: dict[str, Any] | None = None,
        timeout: float = 10.0,
    ) -> RealtimeClient:
        """POST the offer (``form``: "sdp" or "multipart"), apply the answer, await the session."""
        sdp = await self.offer()
        headers = {"Authorization": f"Bearer {token}"}
        url = f"{self.base_url}/realtime/calls"
        if form == "sdp":
            headers["Content-Type"] = "application/sdp"
            reply = await http.post(url, data=sdp, headers=headers)
        else:
            data = aiohttp.FormData(default_to_multipart=True)
            data.add_field("sdp", sdp)
            if session is not None:
                data.add_field("session", json.dumps(session))
            reply = await http.post(url, data=data, headers=headers)
        body = await reply.text()
        if reply.status != 201:
            raise AssertionError(f"POST /realtime/calls -> {reply.status}: {body}")
        self.call_id = reply.headers["Location"].rsplit("/", 1)[1]
        self.answer_sdp = body
        await self.pc.setRemoteDescription(RTCSessionDescription(body, "answer"))
        await self.wait_for("session.created", timeout=timeout)
        return self

    # -- events ------------------------------------------------------------------------------------

    def _on_message(self, message: str | bytes) -> None:
        text = message if isinstance(message, str) else message.decode()
        self.raw.append(text)
        event = json.loads(text)
        problem = validation_problem(event) if self.validate else None
        if problem is not None:
            self.invalid.append((event, problem))
        self.events.append(event)
        self._arrived.set()

    def send(self, event: dict[str, Any] | str) -> None:
        self.channel.send(event if isinstance(event, str) else json.dumps(event))

    def types(self, start: int = 0) -> list[str]:
        return [e["type"] for e in self.events[start:]]

    async def wait_for(
        self, what: str | Predicate, timeout: float = 10.0, start: int = 0
    ) -> dict[str, Any]:
        """The first event from index ``start`` of type ``what`` (or matching it), waiting."""
        pred: Predicate = what if callable(what) else (lambda e: e["type"] == what)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = start
        while True:
            while seen < len(self.events):
                seen += 1
                if pred(self.events[seen - 1]):
                    return self.events[seen - 1]
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"no {what if isinstance(what, str) else 'matching event'} within {timeout} s; "
                    f"got {self.types(start)}"
                )
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def wait_for_count(self, count: int, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.events) < count:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"{len(self.events)} of {count} events within {timeout} s")
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    # -- audio from the emulator -------------------------------------------------------------------

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.get_running_loop().create_task(self._listen(track)))

    async def _listen(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            samples = frame.to_ndarray().astype(np.float64) / 32768
            self.audio_frames += 1
            rms = math.sqrt(float(np.mean(samples * samples)))
            if rms > 0.01:  # -40 dBFS: speech, not the silence of an idle track
                self.loud_frames += 1

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.mic.stop()
