"""The protocol engine: one session's conversation, independent of WebRTC.

:class:`Conversation` takes client events (text) and input audio (mono PCM), and emits GA server
events through a ``send`` callable; it speaks through a :class:`Speaker` (the outbound track). The
transport (:mod:`.call`) only wires these to a peer connection, so the engine can be driven
directly too.

What the assistant says is decided in :mod:`.replies`; how it says it (events, pacing, audio,
interruption) here.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from . import events, ids
from .client_events import client_event_id, parse_client_event
from .errors import ProtocolError
from .knobs import TEXT_DELTA_MS, CallKnobs
from .log import log
from .replies import Speech, ToolCall, UserTurn, plan_reply
from .script import ScriptCursor
from .session_config import SESSION_LIFETIME_S, SessionConfig
from .usage import estimate_usage
from .vad import EnergyVad, SpeechStarted, SpeechStopped
from .voice import Voice

INPUT_RATE = 24_000  # input_audio_buffer.append carries audio/pcm at 24 kHz
MIN_COMMIT_MS = 100.0


class Speaker(Protocol):
    """Where speech goes: :class:`~rt_widget.emulator.audio.SpeechTrack` on a call."""

    listener: Any

    def play(self, pcm: np.ndarray, tag: str) -> None: ...

    def clear(self) -> list[str]: ...

    @property
    def playing(self) -> str | None: ...


_BURST_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def burst_delta(i: int) -> str:
    """The text of a burst's ``i``-th delta: ``i`` in two base-62 digits (mod 3844), so that
    a lost, repeated or reordered delta shows, and a long burst's text stays short."""
    return _BURST_ALPHABET[i // 62 % 62] + _BURST_ALPHABET[i % 62]


@dataclass
class ActiveResponse:
    """The response in progress; at most one per conversation, as on the service."""

    id: str
    response: dict[str, Any]
    modalities: list[str]
    out_of_band: bool
    params: dict[str, Any]
    task: asyncio.Task[None] | None = None
    item: dict[str, Any] | None = None
    item_done: bool = False
    previous_item_id: str | None = None
    text: str = ""
    audio_ms: float = 0.0
    started: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    audio_finished: bool = False


class Conversation:
    def __init__(
        self,
        *,
        config: SessionConfig,
        send: Callable[[dict[str, Any]], None],
        speaker: Speaker,
        voice: Voice,
        script: ScriptCursor,
        knobs: CallKnobs,
        session_id: str | None = None,
        label: str = "",
    ) -> None:
        self.config = config
        self.knobs = knobs
        self.session_id = session_id or ids.session_id()
        self.expires_at = int(time.time()) + SESSION_LIFETIME_S
        self.conversation_id = ids.conversation_id()
        self._send = send
        self._speaker = speaker
        speaker.listener = self
        self._voice = voice
        self._script = script
        self._label = label or self.session_id
        self._items: list[dict[str, Any]] = []
        self._turns: dict[str, UserTurn] = {}
        self._audio_ms: dict[str, float] = {}  # assistant item id -> length of its speech
        self._active: ActiveResponse | None = None
        self._voice_used = False
        self._input_ms = 0.0  # all input audio so far, the timeline of audio_start_ms/audio_end_ms
        self._buffer_start_ms = 0.0  # where the uncommitted input audio buffer begins
        self._speech_item_id: str | None = None
        self._vad: EnergyVad | None = None
        self._started = False  # no turns before session.created: audio may flow before the channel

    # -- the outside world -------------------------------------------------------------------------

    def start(self) -> None:
        """The data channel is open: announce the session, start listening for turns."""
        self._started = True
        self._reset_vad()
        self._emit(events.session_created(self.session_object()))

    async def aclose(self) -> None:
        """The call is over: stop quietly (nobody is listening any more)."""
        a, self._active = self._active, None
        self._speaker.clear()
        if a is not None and a.task is not None:
            a.task.cancel()
            await asyncio.gather(a.task, return_exceptions=True)

    def session_object(self) -> dict[str, Any]:
        return self.config.as_session(self.session_id, self.expires_at)

    @property
    def active_response_id(self) -> str | None:
        return self._active.id if self._active else None

    def handle_message(self, raw: str | bytes) -> None:
        """One data channel message: a client event, or something to complain about."""
        try:
            event = parse_client_event(raw)
        except ProtocolError as e:
            log.info("%s: rejected a client event: %s", self._label, e)
            self._emit(events.error(e, client_event_id(raw)))
            return
        handler = getattr(self, "_on_" + event["type"].replace(".", "_"))
        try:
            handler(event)
        except ProtocolError as e:
            log.info("%s: %s failed: %s", self._label, event["type"], e)
            self._emit(events.error(e, event.get("event_id")))

    def feed_audio(self, samples: np.ndarray, rate: int) -> None:
        """Input audio (mono int16), from the call's track or ``input_audio_buffer.append``."""
        if self._vad is not None and self._started:
            for e in self._vad.push(samples, rate):
                if isinstance(e, SpeechStarted):
                    self._speech_started(e)
                else:
                    self._speech_stopped(e, auto=True)
        self._input_ms += samples.size * 1000.0 / rate

    # -- speaker callbacks (the outbound track calls these as frames go out) -----------------------

    def playback_started(self, tag: str) -> None:
        self._emit(events.output_audio_started(tag))
        a = self._active
        if a is not None and a.id == tag and not a.started.done():
            a.started.set_result(None)

    def playback_finished(self, tag: str) -> None:
        a = self._active
        if a is not None and a.id == tag:
            a.audio_finished = True  # reported after response.done, as the service orders them
        else:
            self._emit(events.output_audio_stopped(tag))

    # -- client events -----------------------------------------------------------------------------

    def _on_session_update(self, event: dict[str, Any]) -> None:
        updated = self.config.updated(event["session"])
        if self._voice_used and updated.voice != self.config.voice:
            raise ProtocolError(
                "Cannot update a conversation's voice if assistant audio is present.",
                code="cannot_update_voice",
                param="session.audio.output.voice",
            )
        detection_changed = updated.turn_detection != self.config.turn_detection
        self.config = updated
        if detection_changed:
            self._reset_vad()
        self._emit(events.session_updated(self.session_object()))

    def _on_input_audio_buffer_append(self, event: dict[str, Any]) -> None:
        fmt = self.config.config["audio"]["input"]["format"]["type"]
        if fmt != "audio/pcm":
            raise ProtocolError(
                f"The rt_widget emulator decodes input_audio_buffer.append only as audio/pcm "
                f"(24 kHz, 16-bit); this session's input format is {fmt}.",
                code="invalid_value",
                param="audio",
            )
        try:
            raw = base64.b64decode(event["audio"], validate=True)
        except ValueError:
            raise ProtocolError(
                "Invalid 'audio': expected base64-encoded 16-bit PCM.",
                code="invalid_value",
                param="audio",
            ) from None
        self.feed_audio(np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2"), INPUT_RATE)

    def _on_input_audio_buffer_commit(self, event: dict[str, Any]) -> None:
        if self._vad is not None and self._vad.in_speech:
            stopped = self._vad.stop()
            assert stopped is not None
            self._speech_stopped(stopped, auto=False)
            return
        buffered = self._input_ms - self._buffer_start_ms
        if buffered < MIN_COMMIT_MS:
            raise ProtocolError(
                "Error committing input audio buffer: buffer too small. Expected at least "
                f"{MIN_COMMIT_MS:.0f}ms of audio, but buffer only has {buffered:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        self._commit_audio(ids.item_id(), buffered / 1000.0)

    def _on_input_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self._buffer_start_ms = self._input_ms
        self._speech_item_id = None
        if self._vad is not None:
            self._vad.reset()
        self._emit(events.input_cleared())

    def _on_output_audio_buffer_clear(self, event: dict[str, Any]) -> None:
        self._interrupt("client_cancelled")

    def _on_conversation_item_create(self, event: dict[str, Any]) -> None:
        item = self._normalize_item(event["item"])
        if any(i["id"] == item["id"] for i in self._items):
            raise ProtocolError(
                f"Item with id '{item['id']}' already exists in the conversation; "
                "leave out item.id to have one assigned.",
                code="invalid_value",
                param="item.id",
            )
        previous = self._last_item_id()
        self._items.append(item)
        if item["type"] == "message" and item["role"] == "user":
            turn = self._script.next_turn()
            typed = " ".join(
                c.get("text") or c.get("transcript") or "" for c in item["content"]
            ).strip()
            self._turns[item["id"]] = UserTurn(
                typed=typed or None, reply=turn.assistant if turn else None
            )
        self._emit(events.item_added(item, previous))
        self._emit(events.item_done(item, previous))

    def _on_conversation_item_retrieve(self, event: dict[str, Any]) -> None:
        self._emit(events.item_retrieved(self._find_item(event["item_id"])))

    def _on_conversation_item_delete(self, event: dict[str, Any]) -> None:
        item = self._find_item(event["item_id"])
        self._items.remove(item)
        self._emit(events.item_deleted(item["id"]))

    def _on_conversation_item_truncate(self, event: dict[str, Any]) -> None:
        item = self._find_item(event["item_id"], param="item_id")
        if item.get("role") != "assistant" or item["id"] not in self._audio_ms:
            raise ProtocolError(
                "Only assistant messages with audio can be truncated.",
                code="invalid_value",
                param="item_id",
            )
        if event["content_index"] >= len(item["content"]):
            raise ProtocolError(
                f"Invalid 'content_index': the item has {len(item['content'])} content part(s).",
                code="invalid_value",
                param="content_index",
            )
        length = self._audio_ms[item["id"]]
        end = event["audio_end_ms"]
        if end > length:
            raise ProtocolError(
                f"audio_end_ms ({end}) is beyond the end of the item's audio ({length:.0f} ms).",
                code="invalid_value",
                param="audio_end_ms",
            )
        part = item["content"][event["content_index"]]
        transcript = part.get("transcript") or ""
        part["transcript"] = transcript[: round(len(transcript) * end / length)] if length else ""
        self._audio_ms[item["id"]] = float(end)
        self._emit(events.item_truncated(item["id"], event["content_index"], end))

    def _on_response_create(self, event: dict[str, Any]) -> None:
        if self._active is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self._active.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        self._start_response(event.get("response", {}))

    def _on_response_cancel(self, event: dict[str, Any]) -> None:
        wanted = event.get("response_id")
        if self._active is not None and wanted in (None, self._active.id):
            self._cancel("client_cancelled")
        elif self._speaker.playing is not None and wanted in (None, self._speaker.playing):
            self._clear_audio()  # the response is done, but its speech was still playing
        else:
            raise ProtocolError(
                "Cancellation failed: no active response found.",
                code="response_cancel_not_active",
            )

    # -- turns from audio --------------------------------------------------------------------------

    def _reset_vad(self) -> None:
        td = self.config.turn_detection
        self._speech_item_id = None
        self._vad = (
            None
            if td is None or not self._started
            else EnergyVad(
                td.threshold, td.prefix_padding_ms, td.silence_duration_ms, round(self._input_ms)
            )
        )

    def _speech_started(self, e: SpeechStarted) -> None:
        self._speech_item_id = ids.item_id()
        self._emit(events.speech_started(e.audio_start_ms, self._speech_item_id))
        td = self.config.turn_detection
        if td is not None and td.interrupt_response:
            self._interrupt("turn_detected")

    def _speech_stopped(self, e: SpeechStopped, auto: bool) -> None:
        item_id = self._speech_item_id or ids.item_id()
        self._speech_item_id = None
        self._emit(events.speech_stopped(e.audio_end_ms, item_id))
        self._commit_audio(item_id, e.speech_ms / 1000.0)
        td = self.config.turn_detection
        if auto and td is not None and td.create_response:
            if self._active is None:
                self._start_response({})
            else:
                log.info(
                    "%s: turn ended during %s; not starting another", self._label, self._active.id
                )

    def _commit_audio(self, item_id: str, seconds: float) -> None:
        previous = self._last_item_id()
        self._buffer_start_ms = self._input_ms
        self._emit(events.committed(item_id, previous))
        turn = self._script.next_turn()
        item: dict[str, Any] = {
            "id": item_id,
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._items.append(item)
        self._turns[item_id] = UserTurn(
            transcript=turn.user if turn else None,
            heard_s=seconds,
            reply=turn.assistant if turn else None,
        )
        self._emit(events.item_added(item, previous))
        self._emit(events.item_done(item, previous))
        if self.config.transcription is not None:
            transcript = (turn.user if turn and turn.user else None) or (
                f"[{seconds:.1f} seconds of speech; the rt_widget emulator does not transcribe]"
            )
            for piece in _words(transcript):
                self._emit(events.transcription_delta(item_id, piece))
            self._emit(events.transcription_completed(item_id, transcript, seconds))
            item["content"][0]["transcript"] = transcript

    # -- responses ---------------------------------------------------------------------------------

    def _start_response(self, params: dict[str, Any]) -> ActiveResponse:
        rid = ids.response_id()
        out_of_band = params.get("conversation") == "none"
        modalities = list(params.get("output_modalities") or self.config.output_modalities)
        response = {
            "object": "realtime.response",
            "id": rid,
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": None if out_of_band else self.conversation_id,
            "output_modalities": modalities,
            "max_output_tokens": params.get(
                "max_output_tokens", self.config.config.get("max_output_tokens", "inf")
            ),
            "audio": self.config.audio_output_shape,
            "usage": None,
            "metadata": params.get("metadata"),
        }
        a = ActiveResponse(rid, response, modalities, out_of_band, params)
        self._active = a
        a.task = asyncio.get_running_loop().create_task(self._run(a), name=f"response {rid}")
        return a

    async def _run(self, a: ActiveResponse) -> None:
        try:
            self._emit(events.response_created(a.response))
            self._emit(events.rate_limits(tokens_remaining=40000 - self._usage(a)["total_tokens"]))
            if self.knobs.response_delay_ms:
                await asyncio.sleep(self.knobs.response_delay_ms / 1000)
            plan = self._plan(a.params)
            if isinstance(plan, ToolCall):
                await self._call_tool(a, plan)
            elif "audio" in a.modalities:
                await self._speak(a, plan.text)
            else:
                await self._write(a, plan.text)
        except asyncio.CancelledError:
            raise  # _cancel has already reported it
        except Exception as e:  # a bug must not leave the client waiting for response.done
            log.exception("%s: response %s failed", self._label, a.id)
            if self._active is a:
                self._finish(
                    a,
                    "failed",
                    {
                        "type": "failed",
                        "error": {
                            "type": "server_error",
                            "code": None,
                            "message": f"rt_widget emulator error: {e}",
                        },
                    },
                )

    def _open_item(self, a: ActiveResponse, item: dict[str, Any]) -> None:
        a.item = item
        self._emit(events.output_item_added(a.id, 0, item))
        if not a.out_of_band:
            a.previous_item_id = self._last_item_id()
            self._items.append(item)
            self._emit(events.item_added(item, a.previous_item_id))

    def _close_item(self, a: ActiveResponse, status: str) -> None:
        assert a.item is not None
        a.item["status"] = status
        a.item_done = True
        self._emit(events.output_item_done(a.id, 0, a.item))
        if not a.out_of_band:
            self._emit(events.item_done(a.item, a.previous_item_id))

    async def _speak(self, a: ActiveResponse, text: str) -> None:
        item: dict[str, Any] = {
            "id": ids.item_id(),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._open_item(a, item)
        at = events.Place(a.id, item["id"])
        self._emit(events.content_part_added(at, {"type": "audio", "transcript": ""}))
        pcm = await self._voice.synthesize(text, self.config.voice, self.config.speed)
        a.audio_ms = pcm.size * 1000.0 / 48_000
        self._audio_ms[item["id"]] = a.audio_ms
        self._voice_used = True
        self._speaker.play(pcm, a.id)
        await a.started
        await self._paced(a, _words(text), a.audio_ms, events.audio_transcript_delta, at)
        self._emit(events.audio_done(at))
        self._emit(events.audio_transcript_done(at, text))
        self._emit(events.content_part_done(at, {"type": "audio", "transcript": text}))
        item["content"] = [{"type": "output_audio", "transcript": text}]
        self._close_item(a, "completed")
        self._finish(a, "completed")

    async def _write(self, a: ActiveResponse, text: str) -> None:
        item: dict[str, Any] = {
            "id": ids.item_id(),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._open_item(a, item)
        at = events.Place(a.id, item["id"])
        self._emit(events.content_part_added(at, {"type": "text", "text": ""}))
        await self._paced(a, _words(text), None, events.text_delta, at)
        self._emit(events.text_done(at, text))
        self._emit(events.content_part_done(at, {"type": "text", "text": text}))
        item["content"] = [{"type": "output_text", "text": text}]
        self._close_item(a, "completed")
        self._finish(a, "completed")

    async def _call_tool(self, a: ActiveResponse, plan: ToolCall) -> None:
        call_id = ids.function_call_id()
        item: dict[str, Any] = {
            "id": ids.item_id(),
            "type": "function_call",
            "status": "in_progress",
            "name": plan.name,
            "call_id": call_id,
            "arguments": "",
        }
        self._open_item(a, item)
        at = events.Place(a.id, item["id"])
        pieces = [plan.arguments[i : i + 12] for i in range(0, len(plan.arguments), 12)]

        def delta(place: events.Place, piece: str) -> dict[str, Any]:
            return events.function_arguments_delta(place, call_id, piece)

        await self._paced(a, pieces, None, delta, at)
        item["arguments"] = plan.arguments
        self._emit(events.function_arguments_done(at, call_id, plan.name, plan.arguments))
        self._close_item(a, "completed")
        self._finish(a, "completed")

    async def _paced(
        self,
        a: ActiveResponse,
        pieces: list[str],
        speech_ms: float | None,
        make: Callable[[events.Place, str], dict[str, Any]],
        at: events.Place,
    ) -> None:
        """Emit deltas: along the speech (each as its words play), or at the delta interval."""
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        total = sum(len(p) for p in pieces) or 1
        before = 0
        for i, piece in enumerate(pieces):
            if self.knobs.delta_interval_ms is not None:
                offset = i * self.knobs.delta_interval_ms / 1000
            elif speech_ms is not None:
                offset = speech_ms / 1000 * before / total
            else:
                offset = i * TEXT_DELTA_MS / 1000
            wait = t0 + offset - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            before += len(piece)
            a.text += piece
            self._emit(make(at, piece))

    def _finish(
        self, a: ActiveResponse, status: str, details: dict[str, Any] | None = None
    ) -> None:
        """Report the response as over; it is no longer the active one."""
        if self._active is a:
            self._active = None
        a.response["status"] = status
        a.response["status_details"] = details
        a.response["output"] = [a.item] if a.item is not None else []
        a.response["usage"] = self._usage(a)
        self._emit(events.response_done(a.response))
        if a.audio_finished:
            self._emit(events.output_audio_stopped(a.id))

    def _cancel(self, reason: str) -> None:
        """Stop the active response now: its done events, then the audio cut off."""
        a = self._active
        assert a is not None
        self._active = None
        if a.task is not None:
            a.task.cancel()
        if a.item is not None and not a.item_done:
            if a.item["type"] == "message" and a.text:
                kind = "output_audio" if "audio" in a.modalities else "output_text"
                key = "transcript" if kind == "output_audio" else "text"
                a.item["content"] = [{"type": kind, key: a.text}]
            self._close_item(a, "incomplete")
        self._finish(a, "cancelled", {"type": "cancelled", "reason": reason})
        self._clear_audio()

    def _interrupt(self, reason: str) -> None:
        if self._active is not None:
            self._cancel(reason)
        else:
            self._clear_audio()

    def _clear_audio(self) -> None:
        for tag in dict.fromkeys(self._speaker.clear()):
            self._emit(events.output_audio_cleared(tag))

    # -- emulator knobs ----------------------------------------------------------------------------

    def burst(self, count: int, interval_ms: float = 0.0) -> int:
        """Emit a complete text response of exactly ``count`` events.

        For throughput and latency tests: every event is a valid GA server event (deltas of two
        characters, :func:`burst_delta`, inside a proper response). The done events carry the
        whole text, 2 characters per delta: they fit in one data channel message up to about
        130,000 events for a browser (256 KiB), 32,000 for an aiortc peer (64 KiB); beyond that
        the call reports them as too large (an ``error`` event) instead of sending them. With ``interval_ms`` 0 they are all sent now,
        without pacing or awaiting. Otherwise a task sends one event every ``interval_ms``
        (the first at once; the item's added and done pairs go together, as in a real
        response), the response is the active one meanwhile, and this returns at once.
        """
        envelope = 9  # created, item added x2, part added, text done, part done, item done x2, done
        if count < envelope + 1:
            raise ValueError(f"a burst has at least {envelope + 1} events")
        if not 0 <= interval_ms <= 60_000:  # also refuses NaN
            raise ValueError("interval_ms must be between 0 and 60000")
        if self._active is not None:
            raise RuntimeError(f"response {self._active.id} is in progress; burst when idle")
        rid = ids.response_id()
        a = ActiveResponse(
            rid,
            {
                "object": "realtime.response",
                "id": rid,
                "status": "in_progress",
                "status_details": None,
                "output": [],
                "conversation_id": self.conversation_id,
                "output_modalities": ["text"],
                "max_output_tokens": "inf",
                "audio": self.config.audio_output_shape,
                "usage": None,
                "metadata": {"burst": str(count)},
            },
            ["text"],
            False,
            {},
        )
        steps = self._burst_steps(a, count - envelope, paced=interval_ms > 0)
        if interval_ms > 0:
            self._active = a
            loop = asyncio.get_running_loop()
            start = loop.time()
            next(steps)  # the first event now
            a.task = loop.create_task(
                self._pace(steps, interval_ms / 1000, start), name=f"paced burst {rid}"
            )
        else:
            for _ in steps:
                pass
        return count

    def _burst_steps(self, a: ActiveResponse, deltas: int, paced: bool) -> Iterator[None]:
        """Emits a burst's events, pausing (yield) after each step."""
        self._emit(events.response_created(a.response))
        yield
        item: dict[str, Any] = {
            "id": ids.item_id(),
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        self._open_item(a, item)
        yield
        at = events.Place(a.id, item["id"])
        self._emit(events.content_part_added(at, {"type": "text", "text": ""}))
        yield
        for i in range(deltas):
            piece = burst_delta(i)
            if paced:  # a cancelled paced burst reports the text sent so far
                a.text += piece  # (appending is quadratic; a paced burst is short)
            self._emit(events.text_delta(at, piece))
            yield
        text = "".join(burst_delta(i) for i in range(deltas))
        a.text = text
        self._emit(events.text_done(at, text))
        yield
        self._emit(events.content_part_done(at, {"type": "text", "text": text}))
        yield
        item["content"] = [{"type": "output_text", "text": text}]
        self._close_item(a, "completed")
        yield
        self._finish(a, "completed")

    @staticmethod
    async def _pace(steps: Iterator[None], interval_s: float, start: float) -> None:
        """Runs step n (the first was run at ``start``) at ``start + n * interval_s``, on the
        loop's clock: a late step does not shift the ones after it."""
        loop = asyncio.get_running_loop()
        done = object()
        n = 0
        while True:
            n += 1
            delay = start + n * interval_s - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if next(steps, done) is done:
                return

    # -- helpers -----------------------------------------------------------------------------------

    def _plan(self, params: dict[str, Any]) -> Speech | ToolCall:
        items = (
            [self._normalize_item(i) for i in params["input"]] if "input" in params else self._items
        )
        return plan_reply(items, self._turns, params, self.config)

    def _usage(self, a: ActiveResponse) -> dict[str, Any]:
        return estimate_usage(
            self.config.config.get("instructions", ""),
            self._items,
            self._turns,
            a.text,
            a.audio_ms,
        )

    def _emit(self, event: dict[str, Any]) -> None:
        self._send(event)

    def _last_item_id(self) -> str | None:
        return self._items[-1]["id"] if self._items else None

    def _find_item(self, item_id: str, param: str = "item_id") -> dict[str, Any]:
        for item in self._items:
            if item["id"] == item_id:
                return item
        raise ProtocolError(
            f"Item with item_id '{item_id}' not found in the conversation.",
            code="item_not_found",
            param=param,
        )

    def _normalize_item(self, item: dict[str, Any]) -> dict[str, Any]:
        """A client item as the conversation keeps it: with an id, a status, and call ids."""
        out = {
            "id": item.get("id") or ids.item_id(),
            **{k: v for k, v in item.items() if k != "id"},
        }
        out.setdefault("status", "completed")
        out.pop("object", None)
        if out["type"] == "function_call":
            out.setdefault("call_id", ids.function_call_id())
        return out


def _words(text: str) -> list[str]:
    """Deltas as the service cuts them, roughly: a word with the space after it."""
    return re.findall(r"\S+\s*", text) or [text]
