"""Builders of GA server events, in the shapes and field order the service uses.

Every builder returns a fresh dict (items are deep-copied), so an event sent and journaled never
changes when the conversation state it was made from does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import ids
from .errors import ProtocolError


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": ids.event_id(), **fields}


def error(e: ProtocolError, client_event_id: str | None = None) -> dict[str, Any]:
    return event(
        "error",
        error={
            "type": e.type,
            "code": e.code,
            "message": e.message,
            "param": e.param,
            "event_id": client_event_id,
        },
    )


# -- session and input audio -----------------------------------------------------------------------


def session_created(session: dict[str, Any]) -> dict[str, Any]:
    return event("session.created", session=session)


def session_updated(session: dict[str, Any]) -> dict[str, Any]:
    return event("session.updated", session=session)


def speech_started(audio_start_ms: int, item_id: str) -> dict[str, Any]:
    return event(
        "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
    )


def speech_stopped(audio_end_ms: int, item_id: str) -> dict[str, Any]:
    return event("input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id)


def committed(item_id: str, previous_item_id: str | None) -> dict[str, Any]:
    return event("input_audio_buffer.committed", previous_item_id=previous_item_id, item_id=item_id)


def input_cleared() -> dict[str, Any]:
    return event("input_audio_buffer.cleared")


def transcription_delta(item_id: str, delta: str) -> dict[str, Any]:
    return event(
        "conversation.item.input_audio_transcription.delta",
        item_id=item_id,
        content_index=0,
        delta=delta,
    )


def transcription_completed(item_id: str, transcript: str, seconds: float) -> dict[str, Any]:
    return event(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=0,
        transcript=transcript,
        usage={"type": "duration", "seconds": round(seconds, 3)},
    )


# -- conversation items ----------------------------------------------------------------------------


def item_added(item: dict[str, Any], previous_item_id: str | None) -> dict[str, Any]:
    return event(
        "conversation.item.added", previous_item_id=previous_item_id, item=copy.deepcopy(item)
    )


def item_done(item: dict[str, Any], previous_item_id: str | None) -> dict[str, Any]:
    return event(
        "conversation.item.done", previous_item_id=previous_item_id, item=copy.deepcopy(item)
    )


def item_retrieved(item: dict[str, Any]) -> dict[str, Any]:
    return event("conversation.item.retrieved", item=copy.deepcopy(item))


def item_deleted(item_id: str) -> dict[str, Any]:
    return event("conversation.item.deleted", item_id=item_id)


def item_truncated(item_id: str, content_index: int, audio_end_ms: int) -> dict[str, Any]:
    return event(
        "conversation.item.truncated",
        item_id=item_id,
        content_index=content_index,
        audio_end_ms=audio_end_ms,
    )


# -- responses -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """Where a delta belongs: response, item, and indexes."""

    response_id: str
    item_id: str
    output_index: int = 0
    content_index: int = 0

    def fields(self, with_content: bool = True) -> dict[str, Any]:
        f: dict[str, Any] = {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "output_index": self.output_index,
        }
        if with_content:
            f["content_index"] = self.content_index
        return f


def response_created(response: dict[str, Any]) -> dict[str, Any]:
    return event("response.created", response=copy.deepcopy(response))


def response_done(response: dict[str, Any]) -> dict[str, Any]:
    return event("response.done", response=copy.deepcopy(response))


def rate_limits(tokens_remaining: int) -> dict[str, Any]:
    return event(
        "rate_limits.updated",
        rate_limits=[
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {"name": "tokens", "limit": 40000, "remaining": tokens_remaining, "reset_seconds": 0.5},
        ],
    )


def output_item_added(response_id: str, output_index: int, item: dict[str, Any]) -> dict[str, Any]:
    return event(
        "response.output_item.added",
        response_id=response_id,
        output_index=output_index,
        item=copy.deepcopy(item),
    )


def output_item_done(response_id: str, output_index: int, item: dict[str, Any]) -> dict[str, Any]:
    return event(
        "response.output_item.done",
        response_id=response_id,
        output_index=output_index,
        item=copy.deepcopy(item),
    )


def content_part_added(at: Place, part: dict[str, Any]) -> dict[str, Any]:
    return event("response.content_part.added", **at.fields(), part=dict(part))


def content_part_done(at: Place, part: dict[str, Any]) -> dict[str, Any]:
    return event("response.content_part.done", **at.fields(), part=dict(part))


def audio_transcript_delta(at: Place, delta: str) -> dict[str, Any]:
    return event("response.output_audio_transcript.delta", **at.fields(), delta=delta)


def audio_transcript_done(at: Place, transcript: str) -> dict[str, Any]:
    return event("response.output_audio_transcript.done", **at.fields(), transcript=transcript)


def audio_done(at: Place) -> dict[str, Any]:
    return event("response.output_audio.done", **at.fields())


def text_delta(at: Place, delta: str) -> dict[str, Any]:
    return event("response.output_text.delta", **at.fields(), delta=delta)


def text_done(at: Place, text: str) -> dict[str, Any]:
    return event("response.output_text.done", **at.fields(), text=text)


def function_arguments_delta(at: Place, call_id: str, delta: str) -> dict[str, Any]:
    return event(
        "response.function_call_arguments.delta",
        **at.fields(with_content=False),
        call_id=call_id,
        delta=delta,
    )


def function_arguments_done(at: Place, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return event(
        "response.function_call_arguments.done",
        **at.fields(with_content=False),
        call_id=call_id,
        name=name,
        arguments=arguments,
    )


# -- WebRTC output audio buffer --------------------------------------------------------------------


def output_audio_started(response_id: str) -> dict[str, Any]:
    return event("output_audio_buffer.started", response_id=response_id)


def output_audio_stopped(response_id: str) -> dict[str, Any]:
    return event("output_audio_buffer.stopped", response_id=response_id)


def output_audio_cleared(response_id: str) -> dict[str, Any]:
    return event("output_audio_buffer.cleared", response_id=response_id)
