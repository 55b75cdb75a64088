"""The protocol engine driven directly (no WebRTC): every flow's events, order and errors.

A real :class:`SpeechTrack` is drained in real time as a peer connection would, and the voice is
the synthesized pattern (short and fast), so timing behaves as on a call.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import Any

import numpy as np
import pytest
from support.aiortc_client import validation_problem
from support.emulator_clients import run

from rt_widget.emulator.audio import SpeechTrack
from rt_widget.emulator.conversation import Conversation
from rt_widget.emulator.knobs import CallKnobs
from rt_widget.emulator.replies import GREETING
from rt_widget.emulator.script import ScriptCursor, load_script
from rt_widget.emulator.session_config import SessionConfig
from rt_widget.emulator.voice import PatternVoice

TEXT = {"type": "realtime", "output_modalities": ["text"]}
MANUAL = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def user_text(text: str, **item: Any) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
            **item,
        },
    }


class Harness:
    """A conversation whose events land in a list, each checked against the SDK's union."""

    def __init__(
        self, session: dict[str, Any] | None = None, script: Any = None, **knobs: Any
    ) -> None:
        self.sent: list[dict[str, Any]] = []
        self.track = SpeechTrack()
        self.conversation = Conversation(
            config=SessionConfig.from_request(session),
            send=self._record,
            speaker=self.track,
            voice=PatternVoice(),
            script=ScriptCursor(load_script(script)),
            knobs=CallKnobs(**knobs),
        )
        self._drain = asyncio.get_running_loop().create_task(self._pull())
        self._arrived = asyncio.Event()
        self.conversation.start()

    def _record(self, event: dict[str, Any]) -> None:
        problem = validation_problem(json.loads(json.dumps(event)))
        assert problem is None, f"{event['type']}: {problem}"
        self.sent.append(event)
        self._arrived.set()

    async def _pull(self) -> None:
        while True:
            await self.track.recv()

    def send(self, event: dict[str, Any] | str) -> None:
        self.conversation.handle_message(event if isinstance(event, str) else json.dumps(event))

    def types(self, start: int = 0) -> list[str]:
        return [e["type"] for e in self.sent[start:]]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.sent if e["type"] == kind]

    async def wait_for(self, kind: str, start: int = 0, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            for e in self.sent[start:]:
                if e["type"] == kind:
                    return e
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind}; got {self.types(start)}")
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), 0.5)

    async def close(self) -> None:
        await self.conversation.aclose()
        self._drain.cancel()
        await asyncio.gather(self._drain, return_exceptions=True)


def scenario(body: Any, *args: Any, **kwargs: Any) -> Any:
    async def go() -> Any:
        h = Harness(*args, **kwargs)
        try:
            return await body(h)
        finally:
            await h.close()

    return run(go())


# -- text and audio responses ----------------------------------------------------------------------


def test_text_turn_in_text_modality() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("What is WebRTC?"))
        h.send({"type": "response.create"})
        done = await h.wait_for("response.done")
        assert h.types() == [
            "session.created",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
            "rate_limits.updated",
            "response.output_item.added",
            "conversation.item.added",
            "response.content_part.added",
            *["response.output_text.delta"] * 5,
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "conversation.item.done",
            "response.done",
        ]
        deltas = "".join(e["delta"] for e in h.of_type("response.output_text.delta"))
        assert deltas == "You said: What is WebRTC?"
        assert h.of_type("response.output_text.done")[0]["text"] == deltas
        r = done["response"]
        assert r["status"] == "completed" and r["output_modalities"] == ["text"]
        assert r["output"][0]["content"] == [{"type": "output_text", "text": deltas}]
        assert (
            r["usage"]["total_tokens"] == r["usage"]["input_tokens"] + r["usage"]["output_tokens"]
        )
        user = h.of_type("conversation.item.done")[0]
        assert h.of_type("conversation.item.added")[1]["previous_item_id"] == user["item"]["id"]

    scenario(body, TEXT)


def test_audio_response_plays_then_reports_done_then_stopped() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("Hello there"))
        h.send({"type": "response.create"})
        await h.wait_for("output_audio_buffer.stopped")
        types = h.types()
        order = [
            "response.content_part.added",
            "output_audio_buffer.started",
            "response.output_audio_transcript.delta",
            "response.output_audio.done",
            "response.output_audio_transcript.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.done",
            "output_audio_buffer.stopped",
        ]
        positions = [types.index(t) for t in order]
        assert positions == sorted(positions)
        assert types[-1] == "output_audio_buffer.stopped"
        text = "".join(e["delta"] for e in h.of_type("response.output_audio_transcript.delta"))
        assert text == "You said: Hello there"
        rid = h.of_type("response.created")[0]["response"]["id"]
        assert h.of_type("output_audio_buffer.started")[0]["response_id"] == rid
        assert h.of_type("output_audio_buffer.stopped")[0]["response_id"] == rid
        assert h.track.speech_frames_sent > 20  # the speech went out on the track
        usage = h.of_type("response.done")[0]["response"]["usage"]
        assert usage["output_token_details"]["audio_tokens"] > 0

    scenario(body)


def test_greeting_when_nothing_was_said() -> None:
    async def body(h: Harness) -> None:
        h.send({"type": "response.create"})
        await h.wait_for("response.done")
        assert h.of_type("response.output_text.done")[0]["text"] == GREETING

    scenario(body, TEXT)


def test_out_of_band_response_stays_out_of_the_conversation() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("hi"))
        h.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"topic": "x"},
                    "input": [
                        {
                            "type": "message",
                            "role": "user",
                            "content": [{"type": "input_text", "text": "Summarize"}],
                        }
                    ],
                },
            }
        )
        done = await h.wait_for("response.done")
        assert done["response"]["conversation_id"] is None
        assert done["response"]["metadata"] == {"topic": "x"}
        assert len(h.of_type("conversation.item.added")) == 1  # only the user's item
        assert h.of_type("response.output_text.done")[0]["text"] == "You said: Summarize"

    scenario(body)


def test_one_response_at_a_time() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("hi"))
        h.send({"type": "response.create"})
        h.send({"type": "response.create", "event_id": "evt_2"})
        error = await h.wait_for("error")
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert error["error"]["event_id"] == "evt_2"
        await h.wait_for("response.done")
        assert len(h.of_type("response.created")) == 1

    scenario(body, TEXT)


# -- interruption ----------------------------------------------------------------------------------


def test_response_cancel_stops_speech_at_once() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("Please tell me a long story about a lighthouse keeper and the sea"))
        h.send({"type": "response.create"})
        await h.wait_for("response.output_audio_transcript.delta")
        h.send({"type": "response.cancel"})
        done = await h.wait_for("response.done")
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"] == {
            "type": "cancelled",
            "reason": "client_cancelled",
        }
        item = done["response"]["output"][0]
        assert item["status"] == "incomplete"
        assert "story" not in item["content"][0]["transcript"]  # cut off early
        assert h.types()[-1] == "output_audio_buffer.cleared"
        assert h.track.playing is None
        await asyncio.sleep(0.3)
        assert "output_audio_buffer.stopped" not in h.types()
        h.send({"type": "response.cancel"})
        assert (await h.wait_for("error"))["error"]["code"] == "response_cancel_not_active"

    scenario(body)


def test_clearing_the_tail_of_a_finished_response() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("one two three four five six"))
        h.send({"type": "response.create"})
        await h.wait_for("response.done")  # the last words are still playing
        assert h.track.playing is not None
        h.send({"type": "output_audio_buffer.clear"})
        cleared = await h.wait_for("output_audio_buffer.cleared")
        assert cleared["response_id"] == h.of_type("response.done")[0]["response"]["id"]
        assert h.of_type("response.done")[0]["response"]["status"] == "completed"
        await asyncio.sleep(0.3)
        assert "output_audio_buffer.stopped" not in h.types()

    scenario(body, delta_interval_ms=0)


# -- audio turns without WebRTC: manual commit and append ------------------------------------------


def pcm24k_base64(ms: int, amplitude: float = 0.3) -> str:
    t = np.arange(24 * ms) / 24_000
    return base64.b64encode(
        (amplitude * 32767 * np.sin(2 * np.pi * 200 * t)).astype("<i2").tobytes()
    ).decode()


def test_manual_turns_commit_what_was_appended() -> None:
    async def body(h: Harness) -> None:
        h.send({"type": "input_audio_buffer.commit"})
        error = await h.wait_for("error")
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"
        h.send({"type": "input_audio_buffer.append", "audio": pcm24k_base64(700)})
        h.send({"type": "input_audio_buffer.commit"})
        committed = await h.wait_for("input_audio_buffer.committed")
        assert "input_audio_buffer.speech_started" not in h.types()  # no VAD in manual mode
        assert "response.created" not in h.types()  # manual turns wait for response.create
        h.send({"type": "response.create"})
        await h.wait_for("response.done")
        assert h.of_type("response.output_text.done")[0]["text"] == "I heard 0.7 seconds of audio."
        done = h.of_type("conversation.item.done")[0]["item"]
        assert done["id"] == committed["item_id"]
        assert done["content"] == [{"type": "input_audio", "transcript": None}]
        n = len(h.sent)
        h.send({"type": "input_audio_buffer.append", "audio": pcm24k_base64(300)})
        h.send({"type": "input_audio_buffer.clear"})
        h.send({"type": "input_audio_buffer.commit"})
        assert h.types(n) == ["input_audio_buffer.cleared", "error"]

    scenario(body, {**MANUAL, "output_modalities": ["text"]})


def test_server_vad_on_appended_audio_with_transcription_from_the_script() -> None:
    session = {
        "type": "realtime",
        "output_modalities": ["text"],
        "audio": {
            "input": {
                "transcription": {"model": "whisper-1"},
                "turn_detection": {
                    "type": "server_vad",
                    "silence_duration_ms": 200,
                    "prefix_padding_ms": 100,
                },
            }
        },
    }
    script = [{"user": "What's the weather?", "assistant": "Sunny and warm."}]

    async def body(h: Harness) -> None:
        silence = base64.b64encode(bytes(2 * 24 * 300)).decode()
        for chunk in (silence, pcm24k_base64(600), silence):
            h.send({"type": "input_audio_buffer.append", "audio": chunk})
        await h.wait_for("response.done")
        started = h.of_type("input_audio_buffer.speech_started")[0]
        stopped = h.of_type("input_audio_buffer.speech_stopped")[0]
        assert started["audio_start_ms"] == 200 and stopped["audio_end_ms"] == 1100
        assert started["item_id"] == stopped["item_id"]
        completed = h.of_type("conversation.item.input_audio_transcription.completed")[0]
        assert completed["transcript"] == "What's the weather?"
        deltas = h.of_type("conversation.item.input_audio_transcription.delta")
        assert "".join(d["delta"] for d in deltas) == "What's the weather?"
        assert h.of_type("response.output_text.done")[0]["text"] == "Sunny and warm."
        types = h.types()
        assert types.index("conversation.item.input_audio_transcription.completed") < types.index(
            "response.created"
        )

    scenario(body, session, script)


# -- function tools --------------------------------------------------------------------------------


def test_function_call_round_trip() -> None:
    session = {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}

    async def body(h: Harness) -> None:
        h.send(user_text('Use get_weather with {"city": "Paris", "unit": "C"} please'))
        h.send({"type": "response.create"})
        done = await h.wait_for("response.done")
        call = done["response"]["output"][0]
        assert call["type"] == "function_call" and call["name"] == "get_weather"
        assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "C"}
        deltas = h.of_type("response.function_call_arguments.delta")
        assert "".join(d["delta"] for d in deltas) == call["arguments"]
        args_done = h.of_type("response.function_call_arguments.done")[0]
        assert args_done["call_id"] == call["call_id"] and args_done["name"] == "get_weather"
        assert "response.output_text.delta" not in h.types()
        n = len(h.sent)
        h.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": '{"temperature": 21}',
                },
            }
        )
        h.send({"type": "response.create"})
        await h.wait_for("response.done", start=n)
        assert h.of_type("response.output_text.done")[0]["text"] == (
            'The get_weather tool returned: {"temperature": 21}'
        )

    scenario(body, session)


@pytest.mark.parametrize(
    ("tool_choice", "text", "expected"),
    [
        ("auto", "What is the weather in Oslo?", None),  # no tool named
        ("auto", "call GET WEATHER now", "get_weather"),  # named with spaces, any case
        ("none", "Use get_weather", None),
        ("required", "anything at all", "get_weather"),
        ({"type": "function", "name": "get_time"}, "Use get_weather", "get_time"),
        ("auto", "first get_time then get_weather", "get_time"),  # the earliest named
    ],
)
def test_which_tool_is_called(tool_choice: Any, text: str, expected: str | None) -> None:
    session = {
        "type": "realtime",
        "output_modalities": ["text"],
        "tool_choice": tool_choice,
        "tools": [WEATHER_TOOL, {"type": "function", "name": "get_time"}],
    }

    async def body(h: Harness) -> None:
        h.send(user_text(text))
        h.send({"type": "response.create"})
        item = (await h.wait_for("response.done"))["response"]["output"][0]
        assert (item["name"] if item["type"] == "function_call" else None) == expected
        if expected:
            assert item["arguments"] == "{}"

    scenario(body, session)


def test_a_scripted_reply_follows_the_tool_output() -> None:
    session = {"type": "realtime", "output_modalities": ["text"], "tools": [WEATHER_TOOL]}
    script = [{"assistant": "It is mild in Paris."}]

    async def body(h: Harness) -> None:
        h.send(user_text("get_weather for Paris"))
        h.send({"type": "response.create"})
        call = (await h.wait_for("response.done"))["response"]["output"][0]
        n = len(h.sent)
        h.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": "mild",
                },
            }
        )
        h.send({"type": "response.create"})
        await h.wait_for("response.done", start=n)
        assert h.of_type("response.output_text.done")[0]["text"] == "It is mild in Paris."

    scenario(body, session, script)


# -- conversation items ----------------------------------------------------------------------------


def test_retrieve_delete_and_truncate_items() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("hello", id="item_mine"))
        h.send({"type": "conversation.item.retrieve", "item_id": "item_mine"})
        retrieved = await h.wait_for("conversation.item.retrieved")
        assert retrieved["item"]["content"][0]["text"] == "hello"
        h.send(user_text("again", id="item_mine"))
        assert (await h.wait_for("error"))["error"]["param"] == "item.id"
        h.send({"type": "response.create"})
        done = await h.wait_for("response.done")
        assistant = done["response"]["output"][0]["id"]
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": assistant,
                "content_index": 0,
                "audio_end_ms": 300,
            }
        )
        truncated = await h.wait_for("conversation.item.truncated")
        assert truncated["audio_end_ms"] == 300
        n = len(h.sent)
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": assistant,
                "content_index": 0,
                "audio_end_ms": 60_000,
            }
        )
        h.send(
            {
                "type": "conversation.item.truncate",
                "item_id": "item_mine",
                "content_index": 0,
                "audio_end_ms": 10,
            }
        )
        h.send({"type": "conversation.item.delete", "item_id": "item_mine"})
        h.send({"type": "conversation.item.delete", "item_id": "item_mine"})
        await h.wait_for("conversation.item.deleted", start=n)
        errors = [e["error"]["code"] for e in h.sent[n:] if e["type"] == "error"]
        assert errors == ["invalid_value", "invalid_value", "item_not_found"]

    scenario(body, delta_interval_ms=0)


# -- session.update and malformed input ------------------------------------------------------------


def test_session_update_merges_and_rejects_unknown_fields_whole() -> None:
    async def body(h: Harness) -> None:
        h.send(
            {"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}}
        )
        updated = await h.wait_for("session.updated")
        assert updated["session"]["instructions"] == "Be brief."
        assert updated["session"]["id"] == h.sent[0]["session"]["id"]
        n = len(h.sent)
        h.send(
            {
                "type": "session.update",
                "event_id": "evt_bad",
                "session": {"type": "realtime", "instructions": "changed", "temperature": 0.8},
            }
        )
        error = await h.wait_for("error", start=n)
        assert error["error"] == {
            "type": "invalid_request_error",
            "code": "unknown_parameter",
            "message": "Unknown parameter: 'session.temperature'.",
            "param": "session.temperature",
            "event_id": "evt_bad",
        }
        h.send({"type": "session.update", "session": {"type": "realtime"}})
        again = await h.wait_for("session.updated", start=n)
        assert again["session"]["instructions"] == "Be brief."  # the bad update changed nothing

    scenario(body)


def test_the_voice_cannot_change_once_the_assistant_has_spoken() -> None:
    async def body(h: Harness) -> None:
        h.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "marin"}}},
            }
        )
        await h.wait_for("session.updated")
        h.send({"type": "response.create"})
        await h.wait_for("response.done")
        h.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}},
            }
        )
        assert (await h.wait_for("error"))["error"]["code"] == "cannot_update_voice"

    scenario(body, delta_interval_ms=0)


@pytest.mark.parametrize(
    ("message", "code", "param"),
    [
        ("{not json", "invalid_json", None),
        ("[1, 2]", "invalid_type", None),
        ('{"event_id": "e"}', "missing_required_parameter", "type"),
        ('{"type": "response.explode"}', "invalid_value", "type"),
        ('{"type": "conversation.item.create"}', "missing_required_parameter", "item"),
        (
            '{"type": "conversation.item.create", "item": {"type": "message", "role": "user"}}',
            "missing_required_parameter",
            "item.content",
        ),
        (
            '{"type": "conversation.item.create", "item": {"type": "message", "role": "robot", '
            '"content": []}}',
            "invalid_value",
            "item.role",
        ),
        ('{"type": "input_audio_buffer.append", "audio": 5}', "invalid_type", "audio"),
        ('{"type": "input_audio_buffer.append", "audio": "***"}', "invalid_value", "audio"),
        (
            '{"type": "response.create", "response": {"modalities": ["text"]}}',
            "unknown_parameter",
            "response.modalities",
        ),
    ],
)
def test_malformed_client_events_get_an_error_and_the_call_goes_on(
    message: str, code: str, param: str | None
) -> None:
    async def body(h: Harness) -> None:
        h.send(message)
        error = await h.wait_for("error")
        assert (error["error"]["code"], error["error"]["param"]) == (code, param)
        assert error["error"]["message"]
        h.send(user_text("still here?"))
        h.send({"type": "response.create"})
        await h.wait_for("response.done")

    scenario(body, TEXT)


# -- knobs -----------------------------------------------------------------------------------------


def test_response_delay_and_delta_pace() -> None:
    async def body(h: Harness) -> None:
        h.send(user_text("a b c d"))
        t0 = time.monotonic()
        h.send({"type": "response.create"})
        await h.wait_for("response.output_item.added")
        assert time.monotonic() - t0 >= 0.25  # the added delay (a lower bound never flakes)
        t1 = time.monotonic()
        await h.wait_for("response.done")
        assert time.monotonic() - t1 >= 5 * 0.05  # "You said: a b c d" is 6 deltas

    scenario(body, TEXT, response_delay_ms=250, delta_interval_ms=50)


def test_burst_is_one_complete_valid_response_of_exactly_n_events() -> None:
    async def body(h: Harness) -> None:
        n = len(h.sent)
        assert h.conversation.burst(500) == 500
        burst = h.sent[n:]
        assert len(burst) == 500
        assert burst[0]["type"] == "response.created" and burst[-1]["type"] == "response.done"
        text = "".join(e["delta"] for e in burst if e["type"] == "response.output_text.delta")
        assert burst[-1]["response"]["output"][0]["content"][0]["text"] == text
        with pytest.raises(ValueError):
            h.conversation.burst(5)
        h.send(user_text("hi"))
        h.send({"type": "response.create"})
        with pytest.raises(RuntimeError):
            h.conversation.burst(100)
        await h.wait_for("response.done", start=n + 500)

    scenario(body, TEXT)


def test_paced_burst_sends_one_event_per_interval_as_the_active_response() -> None:
    async def body(h: Harness) -> None:
        n = len(h.sent)
        t0 = time.monotonic()
        assert h.conversation.burst(20, interval_ms=25) == 20
        assert len(h.sent) == n + 1  # the first at once, the rest from a task
        assert h.conversation.active_response_id is not None
        with pytest.raises(RuntimeError):
            h.conversation.burst(20)
        done = await h.wait_for("response.done", start=n)
        elapsed = time.monotonic() - t0
        burst = h.sent[n:]
        assert len(burst) == 20 and burst[-1] is done
        assert burst[0]["type"] == "response.created"
        text = "".join(e["delta"] for e in burst if e["type"] == "response.output_text.delta")
        assert done["response"]["output"][0]["content"][0]["text"] == text == "000102030405060708090A"
        # 18 steps after the first (the item's added and done pairs are one step each), 25 ms
        # apart on a fixed schedule: never sooner (a lower bound never flakes).
        assert elapsed >= 17 * 0.025
        assert h.conversation.active_response_id is None
        with pytest.raises(ValueError):
            h.conversation.burst(20, interval_ms=-1)
        with pytest.raises(ValueError):
            h.conversation.burst(20, interval_ms=float("nan"))

    scenario(body, TEXT)


def test_a_paced_burst_can_be_cancelled_midway() -> None:
    async def body(h: Harness) -> None:
        n = len(h.sent)
        h.conversation.burst(200, interval_ms=10)
        await h.wait_for("response.output_text.delta", start=n)
        await asyncio.sleep(0.05)
        h.send({"type": "response.cancel"})
        done = await h.wait_for("response.done", start=n)
        assert done["response"]["status"] == "cancelled"
        sent = [e["delta"] for e in h.sent[n:] if e["type"] == "response.output_text.delta"]
        assert 0 < len(sent) < 191
        assert done["response"]["output"][0]["content"][0]["text"] == "".join(sent)
        count = len(h.sent)
        await asyncio.sleep(0.1)
        assert len(h.sent) == count  # the task is gone: nothing after response.done

    scenario(body, TEXT)
