"""Hand-built session logs for the frame tests: GA events with chosen times.

A :class:`Session` collects records; ``at(ms, ...)`` stamps them ``T0 + ms`` so every expected
value in a test can be worked out from the small numbers written next to the events. The event
factories below build GA shapes (``test_fixtures_are_valid_ga`` checks every one of them against
``openai.types.realtime``).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from rt_widget import EventLog

T0 = 1_760_000_000_000.0  # epoch ms of offset 0 in every hand-built session
DATA = Path(__file__).resolve().parent / "data"

_ids = itertools.count(1)


def _event_id() -> str:
    return f"event_{next(_ids):06d}"


class Session:
    """Records in the order they are added; times are ``T0 + ms``."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def at(self, ms: float, *events: dict[str, Any], source: str = "server") -> Session:
        for event in events:
            self.records.append({
                "seq": len(self.records),
                "source": "widget" if event["type"].startswith("widget.") else source,
                "t_browser_ms": T0 + ms,
                "t_kernel_ms": T0 + ms + 4.0,  # the kernel hears of it a little later
                "event": event,
            })
        return self

    def client(self, ms: float, *events: dict[str, Any]) -> Session:
        return self.at(ms, *events, source="client")

    def log(self) -> EventLog:
        return EventLog(self.records)


# -- widget records --------------------------------------------------------------------------------
def phase(name: str, **extra: Any) -> dict[str, Any]:
    return {"type": "widget.phase", "phase": name, **extra}


def stats_sample(**fields: Any) -> dict[str, Any]:
    return {"type": "widget.stats", **fields}


# -- server events ---------------------------------------------------------------------------------
def session_created() -> dict[str, Any]:
    return {"type": "session.created", "event_id": _event_id(),
            "session": {"type": "realtime", "object": "realtime.session", "id": "sess_1",
                        "model": "gpt-realtime", "output_modalities": ["audio"]}}


def speech_started(item: str, audio_start_ms: int) -> dict[str, Any]:
    return {"type": "input_audio_buffer.speech_started", "event_id": _event_id(),
            "item_id": item, "audio_start_ms": audio_start_ms}


def speech_stopped(item: str, audio_end_ms: int) -> dict[str, Any]:
    return {"type": "input_audio_buffer.speech_stopped", "event_id": _event_id(),
            "item_id": item, "audio_end_ms": audio_end_ms}


def committed(item: str, previous: str | None = None) -> dict[str, Any]:
    return {"type": "input_audio_buffer.committed", "event_id": _event_id(), "item_id": item,
            "previous_item_id": previous}


def user_audio_item(item: str) -> dict[str, Any]:
    return {"id": item, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_audio", "transcript": None}]}


def user_text_item(item: str, text: str) -> dict[str, Any]:
    return {"id": item, "object": "realtime.item", "type": "message", "status": "completed",
            "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant_item(item: str, status: str = "in_progress", transcript: str | None = None,
                   text: str | None = None) -> dict[str, Any]:
    content = []
    if transcript is not None:
        content.append({"type": "output_audio", "transcript": transcript})
    if text is not None:
        content.append({"type": "output_text", "text": text})
    return {"id": item, "object": "realtime.item", "type": "message", "status": status,
            "role": "assistant", "content": content}


def function_call_item(item: str, call_id: str, name: str, arguments: str,
                       status: str = "completed") -> dict[str, Any]:
    return {"id": item, "object": "realtime.item", "type": "function_call", "status": status,
            "call_id": call_id, "name": name, "arguments": arguments}


def function_output_item(item: str, call_id: str, output: str) -> dict[str, Any]:
    return {"id": item, "object": "realtime.item", "type": "function_call_output",
            "status": "completed", "call_id": call_id, "output": output}


def item_added(item: dict[str, Any], previous: str | None = None) -> dict[str, Any]:
    return {"type": "conversation.item.added", "event_id": _event_id(), "item": item,
            "previous_item_id": previous}


def item_done(item: dict[str, Any], previous: str | None = None) -> dict[str, Any]:
    return {"type": "conversation.item.done", "event_id": _event_id(), "item": item,
            "previous_item_id": previous}


def transcription_delta(item: str, delta: str) -> dict[str, Any]:
    return {"type": "conversation.item.input_audio_transcription.delta", "event_id": _event_id(),
            "item_id": item, "content_index": 0, "delta": delta}


def transcription_completed(item: str, transcript: str) -> dict[str, Any]:
    return {"type": "conversation.item.input_audio_transcription.completed",
            "event_id": _event_id(), "item_id": item, "content_index": 0,
            "transcript": transcript,
            "usage": {"type": "tokens", "input_tokens": 20, "output_tokens": 5,
                      "total_tokens": 25}}


def response_created(response: str, out_of_band: bool = False) -> dict[str, Any]:
    """An out-of-band response (``conversation: "none"``) has ``conversation_id: null``."""
    return {"type": "response.created", "event_id": _event_id(),
            "response": {"object": "realtime.response", "id": response, "status": "in_progress",
                         "status_details": None, "output": [], "usage": None,
                         "conversation_id": None if out_of_band else "conv_1"}}


def usage(input_text: int, input_audio: int, cached: int, output_text: int,
          output_audio: int) -> dict[str, Any]:
    return {"total_tokens": input_text + input_audio + output_text + output_audio,
            "input_tokens": input_text + input_audio,
            "output_tokens": output_text + output_audio,
            "input_token_details": {"text_tokens": input_text, "audio_tokens": input_audio,
                                    "image_tokens": 0, "cached_tokens": cached,
                                    "cached_tokens_details": {"text_tokens": cached,
                                                              "audio_tokens": 0,
                                                              "image_tokens": 0}},
            "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio}}


def response_done(response: str, output: list[dict[str, Any]], status: str = "completed",
                  reason: str | None = None, tokens: dict[str, Any] | None = None
                  ) -> dict[str, Any]:
    details = None if reason is None else {"type": status, "reason": reason}
    return {"type": "response.done", "event_id": _event_id(),
            "response": {"object": "realtime.response", "id": response, "status": status,
                         "status_details": details, "output": output, "usage": tokens}}


def output_item_added(response: str, item: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {"type": "response.output_item.added", "event_id": _event_id(),
            "response_id": response, "output_index": index, "item": item}


def output_item_done(response: str, item: dict[str, Any], index: int = 0) -> dict[str, Any]:
    return {"type": "response.output_item.done", "event_id": _event_id(),
            "response_id": response, "output_index": index, "item": item}


def transcript_delta(response: str, item: str, delta: str) -> dict[str, Any]:
    return {"type": "response.output_audio_transcript.delta", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "content_index": 0,
            "delta": delta}


def transcript_done(response: str, item: str, transcript: str) -> dict[str, Any]:
    return {"type": "response.output_audio_transcript.done", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "content_index": 0,
            "transcript": transcript}


def text_delta(response: str, item: str, delta: str) -> dict[str, Any]:
    return {"type": "response.output_text.delta", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "content_index": 0,
            "delta": delta}


def text_done(response: str, item: str, text: str) -> dict[str, Any]:
    return {"type": "response.output_text.done", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "content_index": 0,
            "text": text}


def arguments_delta(response: str, item: str, call_id: str, delta: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "call_id": call_id,
            "delta": delta}


def arguments_done(response: str, item: str, call_id: str, arguments: str,
                   name: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.done", "event_id": _event_id(),
            "response_id": response, "item_id": item, "output_index": 0, "call_id": call_id,
            "arguments": arguments, "name": name}


def audio_buffer(state: str, response: str) -> dict[str, Any]:
    """``output_audio_buffer.started`` / ``.stopped`` / ``.cleared`` (WebRTC only)."""
    return {"type": f"output_audio_buffer.{state}", "event_id": _event_id(),
            "response_id": response}


def truncated(item: str, audio_end_ms: int) -> dict[str, Any]:
    return {"type": "conversation.item.truncated", "event_id": _event_id(), "item_id": item,
            "content_index": 0, "audio_end_ms": audio_end_ms}


# -- client events ---------------------------------------------------------------------------------
def create_item(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "event_id": _event_id(), "item": item}


def create_response() -> dict[str, Any]:
    return {"type": "response.create", "event_id": _event_id()}


def commit_audio() -> dict[str, Any]:
    return {"type": "input_audio_buffer.commit", "event_id": _event_id()}


def cancel_response() -> dict[str, Any]:
    return {"type": "response.cancel", "event_id": _event_id()}


# -- recorded files --------------------------------------------------------------------------------
def recorded(name: str, step_ms: float = 10.0) -> EventLog:
    """A file of bare server events (as ../shared/realworld/ has them) as a log: the service sends
    no times, so the events get ``T0 + i * step_ms`` in recorded order."""
    log = EventLog()
    with open(DATA / name, encoding="utf-8") as f:
        events = [json.loads(line) for line in f if line.strip()]
    for i, event in enumerate(events):
        log.append("server", event, t_browser_ms=T0 + i * step_ms, t_kernel_ms=T0 + i * step_ms)
    return log
