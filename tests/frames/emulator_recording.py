"""Record a real call to the emulator as an :class:`~rt_widget.EventLog`, the way the widget does.

An aiortc client plays the browser (the emulator tests' ``RealtimeClient``: audio track, the
``oai-events`` data channel); every event it receives or sends is logged with its arrival or send
time, and the widget's own records are written at the same steps the front end writes them:
``widget.phase`` through the handshake (with ICE and peer-connection states), ``widget.stats``
from ``getStats()`` twice a second. The call has four turns: typed, spoken (a speech WAV through
the emulator's VAD), a tool call and its answer, and a spoken barge-in over a long answer.

    python -m frames.emulator_recording out.jsonl     # from tests/: record a session file
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCSessionDescription
from support.aiortc_client import RealtimeClient, read_wav
from support.speech import speech_wav

from rt_widget import EventLog
from rt_widget.emulator import Emulator
from rt_widget.eventlog import now_ms

SESSION = {
    "type": "realtime",
    "instructions": "You are a friendly tutor.",
    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
    "tools": [{"type": "function", "name": "get_weather", "description": "Weather for a city",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
}
TYPED = "Hello from the frames test"
TOOL_REQUEST = 'Use get_weather with {"city": "Paris"} please'
LONG = ("Tell me everything about lighthouses, keepers, storms, ships and the long nights on the "
        "rocks far from the shore")


class RecordingClient(RealtimeClient):
    """The test client, with every data-channel message logged as the widget logs it."""

    def __init__(self, base_url: str, log: EventLog) -> None:
        super().__init__(base_url)
        self.log = log
        self.pc.on("iceconnectionstatechange", lambda: self.phase(
            f"ice_{self.pc.iceConnectionState}"))
        self.pc.on("connectionstatechange", lambda: self.phase(f"pc_{self.pc.connectionState}"))

    def phase(self, name: str) -> None:
        self.log.append("widget", {"type": "widget.phase", "phase": name}, t_browser_ms=now_ms())

    def _on_message(self, message: str | bytes) -> None:
        t = now_ms()
        super()._on_message(message)
        self.log.append("server", self.events[-1], t_browser_ms=t)

    def send(self, event: dict[str, Any] | str) -> None:
        assert isinstance(event, dict)
        self.log.append("client", event, t_browser_ms=now_ms())
        super().send(event)

    async def sample_stats(self) -> None:
        """A ``widget.stats`` record every 500 ms, from aiortc's getStats()."""
        while True:
            await asyncio.sleep(0.5)
            report = await self.pc.getStats()
            sample: dict[str, Any] = {"type": "widget.stats"}
            for stats in report.values():
                if stats.type == "inbound-rtp":
                    sample.update(packets_received=stats.packetsReceived,
                                  packets_lost=stats.packetsLost,
                                  jitter_ms=stats.jitter / 48.0)  # RTP units at 48 kHz
                elif stats.type == "outbound-rtp":
                    sample.update(packets_sent=stats.packetsSent, bytes_sent=stats.bytesSent)
                elif stats.type == "remote-inbound-rtp" and stats.roundTripTime is not None:
                    sample["rtt_ms"] = stats.roundTripTime * 1000.0
                elif stats.type == "transport":
                    sample["bytes_received"] = stats.bytesReceived
            self.log.append("widget", sample, t_browser_ms=now_ms())


async def _connect(c: RecordingClient, http: aiohttp.ClientSession) -> None:
    """The handshake, step by step, with the phases the front end records."""
    c.phase("start")
    sdp = await c.offer()
    c.phase("offer_created")
    reply = await http.post(
        f"{c.base_url}/realtime/calls",
        data=sdp,
        headers={"Authorization": "Bearer sk-test", "Content-Type": "application/sdp"},
    )
    answer = await reply.text()
    assert reply.status == 201, answer
    c.call_id = reply.headers["Location"].rsplit("/", 1)[1]
    c.phase("answer_received")
    await c.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    c.phase("remote_description_set")
    for _ in range(500):
        if c.channel.readyState == "open":
            break
        await asyncio.sleep(0.01)
    c.phase("channel_open")
    await c.wait_for("session.created")
    c.phase("session_created")


def _type_text(c: RecordingClient, text: str) -> None:
    c.send({"type": "conversation.item.create", "item": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}})
    c.send({"type": "response.create"})


async def _answered(c: RecordingClient, start: int, timeout: float = 30.0) -> dict[str, Any]:
    """The next response.done from event ``start`` on, after its audio stopped playing."""
    done = await c.wait_for("response.done", start=start, timeout=timeout)
    response_id = done["response"]["id"]
    if done["response"]["output"] and done["response"]["output"][0]["type"] == "message":
        await c.wait_for(lambda e: e["type"] == "output_audio_buffer.stopped"
                         and e["response_id"] == response_id, start=start, timeout=timeout)
    return done


async def record_call(emulator: Emulator) -> EventLog:
    """One call of four turns against ``emulator``, as a log."""
    log = EventLog()
    question = read_wav(speech_wav("What is the weather like in Paris today?"))
    interruption = read_wav(speech_wav("Wait, stop.", lead_silence_s=0.1, tail_silence_s=1.0))
    c = RecordingClient(emulator.base_url, log)
    stats = None
    async with aiohttp.ClientSession() as http:
        try:
            await _connect(c, http)
            stats = asyncio.get_running_loop().create_task(c.sample_stats())
            c.send({"type": "session.update", "session": SESSION})
            await c.wait_for("session.updated")

            n = len(c.events)  # 1. typed
            _type_text(c, TYPED)
            await _answered(c, n)

            n = len(c.events)  # 2. spoken, through the emulator's VAD
            c.mic.say(question)
            await _answered(c, n)

            n = len(c.events)  # 3. a tool call, its output, the answer
            _type_text(c, TOOL_REQUEST)
            call = (await _answered(c, n))["response"]["output"][0]
            n = len(c.events)
            c.send({"type": "conversation.item.create", "item": {
                "type": "function_call_output", "call_id": call["call_id"],
                "output": '{"temp_c": 21}'}})
            c.send({"type": "response.create"})
            await _answered(c, n)

            n = len(c.events)  # 4. talking over a long answer
            _type_text(c, LONG)
            await c.wait_for("output_audio_buffer.started", start=n, timeout=10)
            c.mic.say(interruption)
            cut = await c.wait_for("response.done", start=n, timeout=20)
            await c.wait_for(lambda e: e["type"] == "response.done"
                             and e["response"]["id"] != cut["response"]["id"], start=n,
                             timeout=30)
            await asyncio.sleep(0.3)
        finally:
            if stats is not None:
                stats.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await stats
            await c.close()
            c.phase("closed")
    return log


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    with Emulator() as emulator:
        log = asyncio.run(record_call(emulator))
    log.save(Path(argv[0]))
    print(f"{len(log)} records -> {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
