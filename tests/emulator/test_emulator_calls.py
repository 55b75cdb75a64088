"""Whole calls over real WebRTC: an aiortc client against the in-process emulator."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from support.aiortc_client import RealtimeClient, read_wav
from support.emulator_clients import Clients, run
from support.speech import speech_wav

from rt_widget.emulator import Emulator
from rt_widget.emulator.conversation import burst_delta
from rt_widget.emulator.sctp_bundling import MAX_CWND, BundlingSctpTransport, adopt

TEXT = {"type": "realtime", "output_modalities": ["text"]}


def say_text(c: RealtimeClient, text: str) -> None:
    c.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            },
        }
    )
    c.send({"type": "response.create"})


async def settled(c: RealtimeClient, emulator: Emulator) -> None:
    """Wait until the client has every event the emulator sent it."""
    for _ in range(200):
        if len(c.events) >= len(emulator.sent_events(c.call_id)):
            return
        await asyncio.sleep(0.02)


def test_text_turn_spoken_over_webrtc(emulator: Emulator, clients: Clients) -> None:
    async def go() -> None:
        async with clients.connected() as c:
            await asyncio.sleep(0.5)
            assert c.audio_frames > 10 and c.loud_frames == 0  # the idle track is silent
            say_text(c, "Hello over WebRTC")
            await c.wait_for("output_audio_buffer.stopped", timeout=20)
            transcript = await c.wait_for("response.output_audio_transcript.done")
            assert transcript["transcript"] == "You said: Hello over WebRTC"
            assert c.loud_frames > 25  # more than half a second of speech reached the client
            await settled(c, emulator)
            assert c.events == emulator.sent_events(c.call_id)  # the record is what went out

    run(go())


def test_vad_turn_from_a_speech_wav(emulator: Emulator, clients: Clients) -> None:
    pcm = read_wav(speech_wav("What is the weather like in Paris today?"))
    session = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}

    async def go() -> None:
        async with clients.connected(form="multipart", session=session) as c:
            c.mic.say(pcm)
            started = await c.wait_for("input_audio_buffer.speech_started", timeout=10)
            stopped = await c.wait_for("input_audio_buffer.speech_stopped", timeout=10)
            committed = await c.wait_for("input_audio_buffer.committed")
            assert started["item_id"] == stopped["item_id"] == committed["item_id"]
            # 0.5 s of lead silence in the WAV, 1.5 s after: speech is ~2 s long.
            assert 1500 <= stopped["audio_end_ms"] - started["audio_start_ms"] <= 3500
            done = await c.wait_for("conversation.item.done")
            assert done["item"]["id"] == committed["item_id"]
            assert done["item"]["content"] == [{"type": "input_audio", "transcript": None}]
            completed = await c.wait_for("conversation.item.input_audio_transcription.completed")
            assert "does not transcribe" in completed["transcript"]
            await c.wait_for("output_audio_buffer.stopped", timeout=20)
            reply = (await c.wait_for("response.output_audio_transcript.done"))["transcript"]
            seconds = float(reply.split()[2])
            assert reply == f"I heard {seconds:.1f} seconds of audio." and 1.2 <= seconds <= 3.0
            types = c.types()
            assert types.index("input_audio_buffer.committed") < types.index("response.created")

    run(go())


def test_speaking_during_a_response_interrupts_it(emulator: Emulator, clients: Clients) -> None:
    pcm = read_wav(speech_wav("Wait, stop.", lead_silence_s=0.1, tail_silence_s=1.0))

    async def go() -> None:
        async with clients.connected() as c:
            say_text(
                c,
                "Tell me everything about lighthouses, keepers, storms, ships and the "
                "long nights on the rocks far from the shore",
            )
            await c.wait_for("output_audio_buffer.started", timeout=10)
            first = (await c.wait_for("response.created"))["response"]["id"]
            c.mic.say(pcm)
            await c.wait_for("input_audio_buffer.speech_started", timeout=10)
            done = await c.wait_for("response.done", timeout=10)
            assert done["response"]["id"] == first
            assert done["response"]["status_details"] == {
                "type": "cancelled",
                "reason": "turn_detected",
            }
            cleared = await c.wait_for("output_audio_buffer.cleared")
            assert cleared["response_id"] == first
            # the user's new turn is answered
            second = await c.wait_for(
                lambda e: e["type"] == "response.done" and e["response"]["id"] != first, timeout=20
            )
            assert second["response"]["status"] == "completed"
            stopped = [
                e["response_id"] for e in c.events if e["type"] == "output_audio_buffer.stopped"
            ]
            assert first not in stopped

    run(go())


async def speech_frames_sent(emulator: Emulator, call_id: str) -> int:
    async with aiohttp.ClientSession() as http, http.get(emulator.admin_url) as r:
        calls = (await r.json())["calls"]
    return int(next(c["speech_frames_sent"] for c in calls if c["id"] == call_id))


def test_cancel_and_clear_stop_the_audio(emulator: Emulator, clients: Clients) -> None:
    async def go() -> None:
        async with clients.connected() as c:
            for stop in ({"type": "response.cancel"}, {"type": "output_audio_buffer.clear"}):
                n = len(c.events)
                say_text(c, "A rather long answer is coming, with many words in it, to cut short")
                await c.wait_for("output_audio_buffer.started", start=n, timeout=10)
                c.send(stop)
                done = await c.wait_for("response.done", start=n)
                assert done["response"]["status"] == "cancelled"
                await c.wait_for("output_audio_buffer.cleared", start=n)
                spoken = await speech_frames_sent(emulator, c.call_id)
                await asyncio.sleep(0.4)
                assert await speech_frames_sent(emulator, c.call_id) == spoken  # stopped at once

    run(go())


def test_function_call_round_trip_over_webrtc(emulator: Emulator, clients: Clients) -> None:
    session = {
        "type": "realtime",
        "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    }

    async def go() -> None:
        async with clients.connected(form="multipart", session=session) as c:
            say_text(c, 'What does get_weather say for {"city": "Paris"}?')
            done = await c.wait_for("response.done", timeout=10)
            item = done["response"]["output"][0]
            assert (item["type"], item["name"], item["arguments"]) == (
                "function_call",
                "get_weather",
                '{"city": "Paris"}',
            )
            assert "output_audio_buffer.started" not in c.types()
            n = len(c.events)
            c.send(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "function_call_output",
                        "call_id": item["call_id"],
                        "output": "22 C and sunny",
                    },
                }
            )
            c.send({"type": "response.create"})
            await c.wait_for("output_audio_buffer.stopped", start=n, timeout=20)
            spoken = await c.wait_for("response.output_audio_transcript.done", start=n)
            assert spoken["transcript"] == "The get_weather tool returned: 22 C and sunny"

    run(go())


def test_malformed_input_over_the_wire(emulator: Emulator, clients: Clients) -> None:
    async def go() -> None:
        async with clients.connected(form="multipart", session=TEXT) as c:
            c.send("this is not json")
            c.send('{"type": "no.such.event", "event_id": "evt_1"}')
            c.send('{"type": "conversation.item.create", "event_id": "evt_2"}')
            for _ in range(100):
                errors = [e for e in c.events if e["type"] == "error"]
                if len(errors) == 3:
                    break
                await asyncio.sleep(0.02)
            assert [e["error"]["code"] for e in errors] == [
                "invalid_json",
                "invalid_value",
                "missing_required_parameter",
            ]
            assert [e["error"]["event_id"] for e in errors] == [None, "evt_1", "evt_2"]
            say_text(c, "still up")
            done = await c.wait_for("response.done")
            assert done["response"]["status"] == "completed"

    run(go())


def test_faults_close_the_data_channel_or_the_peer_connection(
    emulator: Emulator, clients: Clients
) -> None:
    async def go() -> None:
        async with clients.connected(2, form="multipart", session=TEXT) as (a, b):
            emulator.inject_fault(a.call_id, "close_data_channel")
            for _ in range(100):
                if a.channel.readyState == "closed":
                    break
                await asyncio.sleep(0.05)
            assert a.channel.readyState == "closed"
            assert a.call_id in emulator.calls  # the peer connection is still up
            emulator.inject_fault(b.call_id, "close_peer_connection")
            assert b.call_id not in emulator.calls
            for _ in range(100):
                if b.pc.connectionState in ("closed", "failed") or b.channel.readyState == "closed":
                    break
                await asyncio.sleep(0.05)
            assert b.channel.readyState == "closed"
            with pytest.raises(Exception, match="not found"):
                emulator.inject_fault(b.call_id, "close_data_channel")

    run(go())


def test_three_concurrent_calls_are_kept_apart(emulator: Emulator, clients: Clients) -> None:
    async def go() -> None:
        async with clients.connected(3, form="multipart", session=TEXT) as trio:
            for i, c in enumerate(trio):
                say_text(c, f"I am caller number {i}")
            await asyncio.gather(*(c.wait_for("response.done") for c in trio))
            for i, c in enumerate(trio):
                text = (await c.wait_for("response.output_text.done"))["text"]
                assert text == f"You said: I am caller number {i}"
                await settled(c, emulator)
                assert c.events == emulator.sent_events(c.call_id)
            sessions = {c.events[0]["session"]["id"] for c in trio}
            assert len(sessions) == 3 and len({c.call_id for c in trio}) == 3
            assert sorted(emulator.calls) == sorted(c.call_id for c in trio)

    run(go())


def test_a_burst_arrives_complete_and_in_order(emulator: Emulator, clients: Clients) -> None:
    async def go() -> None:
        async with clients.connected(form="multipart", session=TEXT) as c:
            report = emulator.burst(c.call_id, 3000)
            assert report.count == 3000
            await c.wait_for_count(3001, timeout=60)
            burst = c.events[1:]
            assert burst[0]["type"] == "response.created" and burst[-1]["type"] == "response.done"
            deltas = [e["delta"] for e in burst if e["type"] == "response.output_text.delta"]
            # nothing lost or reordered
            assert deltas == [burst_delta(i) for i in range(len(deltas))] and len(deltas) == 2991

    run(go())


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate()}


def _wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_ten_calls_in_a_row_leave_nothing_behind() -> None:
    before = threading.active_count()
    emu = Emulator().start()
    try:
        maker = Clients(emu)

        async def one_call(i: int) -> None:
            async with maker.connected(form="multipart", session=TEXT) as c:
                say_text(c, f"call {i}")
                await c.wait_for("response.done")
                await hangup_over_rest(emu, c)

        idle_tasks = emu.task_count()
        for i in range(10):
            run(one_call(i))
        assert emu.calls == []
        assert len(emu.call_history) == 10
        assert _wait_until(lambda: emu.task_count() <= idle_tasks), emu.task_count()
        # each call had a decoder thread on both sides; they end with the peer connections
        assert _wait_until(lambda: not any(n.endswith("-decoder") for n in _threads())), _threads()
        assert all(not c.invalid for c in maker.made)
    finally:
        emu.stop()
    gc.collect()
    # aiortc's decoder threads end with their peer connections, the executor's with the loop.
    assert _wait_until(lambda: threading.active_count() <= before), _threads()


async def hangup_over_rest(emu: Emulator, c: RealtimeClient) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emu.base_url}/realtime/calls/{c.call_id}/hangup",
            headers={"Authorization": "Bearer sk-test"},
        ) as r,
    ):
        assert r.status == 200


def test_an_event_too_large_for_the_channel_becomes_an_error(
    emulator: Emulator, clients: Clients
) -> None:
    async def go() -> None:
        async with clients.connected(form="multipart", session=TEXT) as c:
            c.send(
                {
                    "type": "session.update",
                    "session": {"type": "realtime", "instructions": "x" * 150_000},
                }
            )
            await c.wait_for("session.updated")
            tool = {"type": "function", "name": "big", "description": "y" * 150_000}
            c.send({"type": "session.update", "session": {"type": "realtime", "tools": [tool]}})
            error = await c.wait_for("error")
            assert error["error"]["code"] == "event_too_large"
            assert "session.updated" in error["error"]["message"]
            say_text(c, "still fine")
            assert (await c.wait_for("response.done"))["response"]["status"] == "completed"

    run(go())


def test_the_sctp_transport_is_adopted_once_and_its_window_capped() -> None:
    async def go() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.createDataChannel("oai-events")
        await pc.setLocalDescription(await pc.createOffer())
        sctp = pc.sctp
        assert sctp is not None and adopt(sctp)
        assert isinstance(sctp, BundlingSctpTransport) and sctp._cwnd == MAX_CWND
        sctp._cwnd = 10 * MAX_CWND  # aiortc growing it
        assert sctp._cwnd == MAX_CWND
        sctp._cwnd = 1200  # aiortc shrinking it after a loss
        assert sctp._cwnd == 1200
        assert not adopt(sctp)  # already adopted: left alone
        await pc.close()

    run(go())
