"""One WebRTC call: an aiortc peer connection wired to a :class:`Conversation`.

The browser offers an audio track and the ``oai-events`` data channel. The call answers with one
audio track of its own (:class:`SpeechTrack`), feeds the browser's decoded audio to the engine,
and carries events both ways on the data channel. Nothing here knows the protocol.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from . import events, sctp_bundling
from .audio import SpeechTrack, to_mono
from .conversation import Conversation
from .errors import ProtocolError
from .journal import EventJournal
from .knobs import CallKnobs
from .log import log
from .script import ScriptCursor, Turn
from .session_config import SessionConfig
from .voice import Voice

CHANNEL_LABEL = "oai-events"


class Call:
    def __init__(
        self,
        call_id: str,
        *,
        config: SessionConfig,
        session_id: str,
        voice: Voice,
        script: list[Turn],
        knobs: CallKnobs,
        on_closed: Callable[[Call], None],
    ) -> None:
        self.id = call_id
        self.started_at = time.time()
        self.knobs = knobs
        self.journal = EventJournal(call_id)
        # No STUN server: aiortc's default is Google's, which an offline machine cannot reach,
        # and host candidates are all a local peer needs.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.track = SpeechTrack()
        self.channel: RTCDataChannel | None = None
        self.conversation = Conversation(
            config=config,
            send=self._send,
            speaker=self.track,
            voice=voice,
            script=ScriptCursor(script),
            knobs=knobs,
            session_id=session_id,
            label=call_id,
        )
        self.closed = False
        self._on_closed = on_closed
        self._tasks: set[asyncio.Task[None]] = set()
        self._feeding_audio = False
        self._dropped = 0
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    async def answer(self, offer_sdp: str) -> str:
        """Apply the browser's offer and return the answer (ICE gathered, no trickle)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        if self.pc.sctp is not None:
            sctp_bundling.adopt(self.pc.sctp)
        audio = next((t for t in self.pc.getTransceivers() if t.kind == "audio"), None)
        if audio is not None:
            self.pc.addTrack(self.track)  # reuses the offered audio transceiver: sendrecv
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        if audio is None or audio.currentDirection not in ("sendrecv", "sendonly"):
            # Nobody pulls the speech track: play it into the void, in real time, so responses
            # still take as long as their speech and report output_audio_buffer.* events.
            self._spawn(self._drain(self.track), "speech drain")
        return self.pc.localDescription.sdp

    # -- events from the peer connection -----------------------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label != CHANNEL_LABEL or self.channel is not None:
            log.info(
                "%s: ignoring data channel %r (only one %r is used)",
                self.id,
                channel.label,
                CHANNEL_LABEL,
            )
            return
        self.channel = channel
        channel.on("message", self.conversation.handle_message)
        channel.on("close", lambda: log.info("%s: data channel closed", self.id))
        log.info("%s: data channel open", self.id)
        self.conversation.start()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and not self._feeding_audio:
            self._feeding_audio = True
            self._spawn(self._feed(track), "input audio")
        else:  # a second audio track or video: decoded frames must still be taken off the queue
            self._spawn(self._drain(track), f"{track.kind} drain")

    def _on_connection_state(self) -> None:
        state = self.pc.connectionState
        log.info("%s: peer connection %s", self.id, state)
        if state in ("failed", "closed") and not self.closed:
            self._spawn(self.close(f"peer connection {state}"), "close")

    # -- media and events --------------------------------------------------------------------------

    async def _feed(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            assert isinstance(frame, av.AudioFrame)  # an audio track's frames
            samples, rate = to_mono(frame)
            self.conversation.feed_audio(samples, rate)

    @staticmethod
    async def _drain(track: MediaStreamTrack) -> None:
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return

    def _send(self, event: dict[str, Any]) -> None:
        channel = self.channel
        if channel is None or channel.readyState != "open":
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "%s: data channel not open; dropping %s and later events",
                    self.id,
                    event["type"],
                )
            return
        text = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        try:
            channel.send(text)
        except ValueError as e:  # larger than the browser's a=max-message-size
            log.warning("%s: %s not sent: %s", self.id, event["type"], e)
            if event["type"] != "error":
                too_large = ProtocolError(
                    f"The server event {event['type']} ({len(text)} bytes) is larger than the "
                    "data channel's maximum message size, so it was not sent. Keep session "
                    "instructions and items smaller.",
                    code="event_too_large",
                )
                self._send(events.error(too_large))
            return
        self.journal.append(text)

    def _spawn(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.id} {what}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: %s failed: %r", self.id, task.get_name(), task.exception())

    # -- faults and the end ------------------------------------------------------------------------

    def close_data_channel(self) -> None:
        if self.channel is not None:
            self.channel.close()

    def burst(self, count: int, interval_ms: float = 0.0) -> int:
        return self.conversation.burst(count, interval_ms)

    async def close(self, reason: str = "hangup") -> None:
        """End the call: stop responding, close the peer connection, stop every task."""
        if self.closed:
            return
        self.closed = True
        log.info("%s: ending call (%s)", self.id, reason)
        await self.conversation.aclose()
        self.track.stop()
        await self.pc.close()
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._on_closed(self)
