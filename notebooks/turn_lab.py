"""The turn-taking lab of ``04_turn_taking.ipynb``: a scripted user, called into the emulator from
Python, each call recorded as an :class:`~rt_widget.EventLog` the way the widget records one.

Nothing here needs a browser or a microphone. A caller is an aiortc peer connection, the same
kind of peer the emulator itself is: it offers an audio track and the ``oai-events`` data
channel, posts the offer to ``/v1/realtime/calls`` with the session it wants, and then plays a
prepared recording into its audio track in real time (20 ms frames), as a microphone would. Every
data-channel message in both directions is logged with the caller's clock, so ``log.turns()``
works on it unchanged. There is one call per session to compare, a few at a time, and they all
hear the same audio.

The "user" is synthetic on purpose (see :func:`scripted_user`): buzzing syllables with the rhythm
and loudness of speech, a cough, a quiet speaker, a steady room hum. The emulator's turn detection
listens to loudness only, so this is speech as far as it is concerned, and every run hears
exactly the same thing. The real service's VAD is a model trained on voices; the knobs mean the
same there, the exact numbers do not carry over.

    import turn_lab

    user = turn_lab.scripted_user()
    with turn_lab.emulator_process() as url:
        calls = turn_lab.run_calls(url, {"default": {}}, user)
    calls["default"].log.turns()
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from rt_widget import EventLog
from rt_widget.eventlog import now_ms

RATE = 48_000
FRAME = RATE // 50  # 20 ms, as a browser sends
_TIME_BASE = fractions.Fraction(1, RATE)


# -- the user -------------------------------------------------------------------------------------
@dataclass
class Segment:
    """One thing the user does, on the recording's timeline."""

    label: str
    kind: str  # "speech" or "noise"
    start_s: float
    end_s: float
    level_dbfs: float
    note: str = ""


@dataclass
class ScriptedUser:
    """A recording to play into a call (48 kHz mono int16) and what is in it."""

    pcm: np.ndarray
    segments: list[Segment]

    @property
    def duration_s(self) -> float:
        return self.pcm.size / RATE

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([vars(s) for s in self.segments])


def _at_level(x: np.ndarray, dbfs: float) -> np.ndarray:
    """``x`` scaled so that its RMS is ``dbfs`` (dB relative to a full-scale square wave)."""
    rms = float(np.sqrt(np.mean(x**2)))
    return x * (10 ** (dbfs / 20) / rms)


def _syllables(rng: np.random.Generator, words: list[int], pauses: dict[int, float]) -> np.ndarray:
    """Voiced syllables (a buzz at 110-170 Hz with its harmonics, shaped like a vowel's
    loudness), ``words[i]`` syllables per word, 120 ms between words, and a longer pause after
    word ``i`` when ``pauses`` has it."""
    out: list[np.ndarray] = []
    for i, n in enumerate(words):
        for _ in range(n):
            length = int(rng.uniform(0.13, 0.22) * RATE)
            t = np.arange(length) / RATE
            f0 = rng.uniform(110, 170)
            buzz = sum(
                np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 12)
            )
            envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
            out.append(buzz * envelope)
            out.append(np.zeros(int(rng.uniform(0.02, 0.05) * RATE)))  # between syllables
        out.append(np.zeros(int((pauses.get(i, 0.0) or 0.12) * RATE)))
    return np.concatenate(out[:-1])  # no silence after the last word


def scripted_user(seed: int = 7) -> ScriptedUser:
    """About 22 s of a user, the same every time for a given ``seed``:

    - **A**, a plain question at a normal voice (-20 dBFS);
    - a **cough** (-26 dBFS, a quarter of a second) while the assistant answers A;
    - **B**, a sentence with a 650 ms pause in the middle, as when someone thinks mid-sentence;
    - **C**, a quiet speaker far from the microphone (-44 dBFS);
    - under all of it, a steady room hum at -60 dBFS.
    """
    rng = np.random.default_rng(seed)
    parts: list[tuple[float, np.ndarray]] = []  # (start_s, samples)
    segments: list[Segment] = []

    def place(
        label: str, kind: str, start_s: float, x: np.ndarray, dbfs: float, note: str
    ) -> float:
        # the level is set over the voiced part: pauses inside a sentence do not lower it
        voiced = x[np.abs(x) > 1e-9]
        x = x * (10 ** (dbfs / 20) / float(np.sqrt(np.mean(voiced**2))))
        parts.append((start_s, x))
        end_s = start_s + x.size / RATE
        segments.append(Segment(label, kind, round(start_s, 3), round(end_s, 3), dbfs, note))
        return end_s

    # A starts after 2.5 s of room hum: by then every call of a run has finished its handshake
    # (the cryptography of several DTLS handshakes at once can hold up a busy machine).
    end = place(
        "A", "speech", 2.5, _syllables(rng, [2, 1, 3, 1, 2, 2], {}), -20.0, "a plain question"
    )
    cough_len = int(0.25 * RATE)
    cough = rng.normal(size=cough_len) * np.exp(-np.arange(cough_len) / (0.08 * RATE))
    place("cough", "noise", end + 1.2, cough, -26.0, "while the assistant answers A")
    end = place(
        "B",
        "speech",
        end + 4.5,
        _syllables(rng, [1, 2, 2, 1, 3, 2, 1], {2: 0.65}),
        -20.0,
        "650 ms pause mid-sentence",
    )
    end = place(
        "C", "speech", end + 3.5, _syllables(rng, [2, 1, 2, 3], {}), -44.0, "a quiet speaker"
    )
    total = end + 3.0

    pcm = np.zeros(int(total * RATE))
    hum = np.convolve(rng.normal(size=pcm.size), np.ones(24) / 24, mode="same")  # dull, not hiss
    pcm += _at_level(hum, -60.0)
    for start_s, x in parts:
        i = int(start_s * RATE)
        pcm[i : i + x.size] += x
    return ScriptedUser(np.clip(pcm * 32768, -32768, 32767).astype(np.int16), segments)


# -- one call -------------------------------------------------------------------------------------
@dataclass
class Call:
    """One finished call: its log, and when each segment of the user really went out (epoch ms on
    the same clock as the log's ``t_browser_ms``)."""

    name: str
    session: dict[str, Any]
    log: EventLog
    segments: pd.DataFrame
    push_to_talk: bool = False
    errors: list[str] = field(default_factory=list)


def _microphone(user: ScriptedUser, on_frame: Callable[[int], None]) -> Any:
    """An aiortc audio track that plays ``user`` in real time, then silence; ``on_frame(n)`` is
    called as frame ``n`` goes out."""
    import av
    from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

    class Microphone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.t0: float | None = None

        async def recv(self) -> av.AudioFrame:
            if self.readyState != "live":
                raise MediaStreamError
            loop = asyncio.get_running_loop()
            if self.t0 is None:
                self.t0 = loop.time()
            wait = self.t0 + self.n * FRAME / RATE - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            chunk = user.pcm[self.n * FRAME : (self.n + 1) * FRAME]
            samples = np.zeros(FRAME, dtype=np.int16)
            samples[: chunk.size] = chunk
            on_frame(self.n)
            frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = RATE, self.n * FRAME, _TIME_BASE
            self.n += 1
            return frame

    return Microphone()


async def _call(
    base_url: str,
    api_key: str,
    name: str,
    session: Mapping[str, Any],
    user: ScriptedUser,
    push_to_talk: bool,
    release_delay_s: float,
) -> Call:
    """Make one call, play the user into it, hang up; everything in a :class:`Call`."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    log = EventLog()
    session = {"type": "realtime", **session}
    if push_to_talk:  # the panel's push-to-talk: no turn detection, the button makes the turns
        audio = dict(session.get("audio") or {})
        audio["input"] = {**(audio.get("input") or {}), "turn_detection": None}
        session["audio"] = audio
    result = Call(name, session, log, pd.DataFrame(), push_to_talk)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    channel = pc.createDataChannel("oai-events")
    opened = asyncio.Event()
    drains: list[asyncio.Task[None]] = []

    def phase(name: str, **detail: Any) -> None:
        log.append("widget", {"type": "widget.phase", "phase": name, **detail}, now_ms())

    def send(event: dict[str, Any]) -> None:
        log.append("client", event, now_ms())
        channel.send(json.dumps(event))

    def received(message: str | bytes) -> None:
        t = now_ms()
        event = json.loads(message)
        log.append("server", event, t)
        if event.get("type") == "error":
            result.errors.append(event["error"].get("message", ""))

    # Frame numbers where something happens: a segment starts or ends; push-to-talk presses
    # 200 ms before a speech segment and releases release_delay_s after it.
    def frame_of(seconds: float) -> int:
        return round(seconds * RATE / FRAME)

    stamps: dict[int, list[tuple[str, str]]] = {}
    for s in user.segments:
        stamps.setdefault(frame_of(s.start_s), []).append((s.label, "start"))
        stamps.setdefault(frame_of(s.end_s), []).append((s.label, "end"))
    presses: dict[int, list[dict[str, Any]]] = {}
    if push_to_talk:
        for s in user.segments:
            if s.kind == "speech":
                presses.setdefault(frame_of(s.start_s - 0.2), []).append(
                    {"type": "input_audio_buffer.clear"}
                )
                presses.setdefault(frame_of(s.end_s + release_delay_s), []).extend(
                    [{"type": "input_audio_buffer.commit"}, {"type": "response.create"}]
                )
    sent_at: dict[tuple[str, str], float] = {}

    def on_frame(n: int) -> None:
        for key in stamps.get(n, ()):
            sent_at[key] = now_ms()
        if opened.is_set():
            for event in presses.get(n, ()):
                send(event)

    async def drain(track: Any) -> None:  # the assistant's voice: received, not listened to
        from aiortc.mediastreams import MediaStreamError

        try:
            while True:
                await track.recv()
        except MediaStreamError:
            pass

    channel.on("message", received)
    channel.on("open", lambda: (phase("channel_open"), opened.set()))
    pc.on("track", lambda track: drains.append(asyncio.ensure_future(drain(track))))

    phase("start", trigger="kernel", signaling="relay")
    try:
        # The microphone starts at the first frame the connection asks for, i.e. when media flows.
        pc.addTrack(_microphone(user, on_frame))
        await pc.setLocalDescription(await pc.createOffer())
        phase("offer_created")
        async with httpx.AsyncClient(timeout=10) as http:
            # The unified interface: offer and session in one request, with the key; no secret.
            reply = await http.post(
                f"{base_url.rstrip('/')}/realtime/calls",
                headers={"Authorization": f"Bearer {api_key}"},
                files={
                    "sdp": (None, pc.localDescription.sdp, "application/sdp"),
                    "session": (None, json.dumps(session), "application/json"),
                },
            )
            if reply.status_code != 201:
                raise RuntimeError(
                    f"{name}: POST /realtime/calls -> {reply.status_code}: {reply.text[:300]}"
                )
            phase("answer_received", call_id=reply.headers["Location"].rsplit("/", 1)[-1])
            await pc.setRemoteDescription(RTCSessionDescription(reply.text, "answer"))
            await asyncio.wait_for(opened.wait(), 10)
            # the user's recording (which ends with 3 s of room hum for the last answer to start)
            await asyncio.sleep(user.duration_s + 1.0)
            call_id = reply.headers["Location"].rsplit("/", 1)[-1]
            await http.post(
                f"{base_url.rstrip('/')}/realtime/calls/{call_id}/hangup",
                headers={"Authorization": f"Bearer {api_key}"},
            )
            phase("hung_up", call_id=call_id)
    finally:
        await pc.close()
        for task in drains:
            task.cancel()
        phase("closed")

    result.segments = pd.DataFrame(
        [
            {
                **vars(s),
                "start_ms": sent_at.get((s.label, "start"), np.nan),
                "end_ms": sent_at.get((s.label, "end"), np.nan),
            }
            for s in user.segments
        ]
    )
    return result


def run_calls(
    base_url: str,
    sessions: Mapping[str, Mapping[str, Any]],
    user: ScriptedUser,
    *,
    api_key: str = "turn-lab",
    push_to_talk: tuple[str, ...] = (),
    release_delay_s: float = 0.25,
    at_once: int = 4,
) -> dict[str, Call]:
    """One call per entry of ``sessions`` (name -> GA session fields), each hearing ``user``;
    the calls named in ``push_to_talk`` run with turn detection off and the push-to-talk
    button's events instead (press 200 ms before each speech segment, release
    ``release_delay_s`` after it). Blocks until every call has ended and returns them by name.

    The calls run ``at_once`` at a time, each round taking about the length of the recording plus
    a few seconds. A call costs this process about a tenth of a CPU core (Opus, SRTP and the
    rest of WebRTC, in Python): four at once keep real time even on a busy 2-core machine, while
    seven at once were measured falling hundreds of milliseconds behind there.

    The calls run on an event loop of their own in a separate thread, so this works the same in a
    notebook cell (which already has a running loop) and in a script.
    """
    if at_once < 1:
        raise ValueError(f"at_once must be at least 1, not {at_once}")
    names = list(sessions)

    async def one_round(round_names: list[str]) -> list[Call]:
        return await asyncio.gather(*(
            _call(base_url, api_key, name, sessions[name], user, name in push_to_talk,
                  release_delay_s)
            for name in round_names
        ))  # fmt: skip

    async def all_rounds() -> list[Call]:
        done: list[Call] = []
        for i in range(0, len(names), at_once):
            done += await one_round(names[i : i + at_once])
        return done

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["calls"] = asyncio.run(all_rounds())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="turn-lab", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return {call.name: call for call in outcome["calls"]}


# -- an emulator of its own -----------------------------------------------------------------------
@contextlib.contextmanager
def emulator_process(voice: str = "pattern", timeout: float = 60.0) -> Iterator[str]:
    """``python -m rt_widget.emulator`` in a process of its own, on a free port; yields its base
    URL and stops it on exit.

    In a process of its own, the emulator does not compete with the callers (which run in this
    one) for Python's global interpreter lock, so neither side's timing suffers from the other's
    work. ``voice="pattern"``: replies are tone bursts, quick to make and the same every time.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "rt_widget.emulator", "--port", "0", "--voice", voice,
         "--log-level", "WARNING"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:  # all of its output, so that a full pipe never blocks it
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="turn-lab-emulator-output", daemon=True).start()
    try:
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise RuntimeError(f"the emulator did not start within {timeout} s") from None
            if line is None:
                raise RuntimeError(f"the emulator exited before serving: {''.join(seen)}")
            seen.append(line)
            found = re.search(r"serving (http://\S+/v1)", line)
            if found:
                break
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
