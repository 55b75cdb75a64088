"""Parsing and checking client events (what arrives on the ``oai-events`` data channel).

Malformed JSON, an unknown ``type`` or a missing or ill-typed required field raises
:class:`ProtocolError`; the engine turns it into an ``error`` event and the call stays up.
"""

from __future__ import annotations

import json
from typing import Any

from . import schema as s
from .errors import ProtocolError

_common = {"type": s.string(), "event_id": s.string()}

_user_part = s.tagged(
    "type",
    {
        "input_text": s.obj({"type": s.string(), "text": s.string()}, required=("text",)),
        "input_audio": s.obj(
            {"type": s.string(), "audio": s.string(), "transcript": s.nullable(s.string())}
        ),
        "input_image": s.obj(
            {
                "type": s.string(),
                "image_url": s.string(),
                "detail": s.literal("auto", "low", "high"),
            }
        ),
    },
)
_assistant_part = s.tagged(
    "type",
    {
        "output_text": s.obj({"type": s.string(), "text": s.string()}, required=("text",)),
        "output_audio": s.obj(
            {"type": s.string(), "audio": s.string(), "transcript": s.nullable(s.string())}
        ),
    },
)
_system_part = s.tagged(
    "type", {"input_text": s.obj({"type": s.string(), "text": s.string()}, required=("text",))}
)
_item_common = {
    "type": s.string(),
    "id": s.string(),
    "object": s.literal("realtime.item"),
    "status": s.literal("completed", "incomplete", "in_progress"),
}


def _message(parts: s.Validator) -> s.Validator:
    return s.obj(
        {**_item_common, "role": s.string(), "content": s.array(parts)},
        required=("role", "content"),
    )


_messages = {
    "user": _message(_user_part),
    "assistant": _message(_assistant_part),
    "system": _message(_system_part),
}
_role = s.literal(*_messages)


def _check_message(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or "role" not in value:
        raise s.missing(f"{path}.role")
    role = _role(value["role"], f"{path}.role")
    checked: dict[str, Any] = _messages[role](value, path)
    return checked


_item = s.tagged(
    "type",
    {
        "message": _check_message,
        "function_call": s.obj(
            {**_item_common, "name": s.string(), "arguments": s.string(), "call_id": s.string()},
            required=("name", "arguments"),
        ),
        "function_call_output": s.obj(
            {**_item_common, "call_id": s.string(), "output": s.string()},
            required=("call_id", "output"),
        ),
    },
)

_response_params = s.obj(
    {
        "conversation": s.nullable(s.string()),
        "input": s.array(_item),
        "instructions": s.string(),
        "output_modalities": s.array(s.literal("text", "audio"), min_items=1, max_items=1),
        "metadata": s.nullable(s.anything()),
        "audio": s.anything(),
        "tools": s.anything(),
        "tool_choice": s.anything(),
        "max_output_tokens": s.either(s.integer(1, 4096), s.literal("inf")),
        "prompt": s.anything(),
        "reasoning": s.anything(),
        "parallel_tool_calls": s.boolean(),
    }
)

# Each client event's own fields. ``session`` is checked in depth by session_config, later, so
# that a bad session.update is reported with its full path.
CLIENT_EVENTS: dict[str, s.Validator] = {
    "session.update": s.obj({**_common, "session": s.anything()}, required=("session",)),
    "input_audio_buffer.append": s.obj({**_common, "audio": s.string()}, required=("audio",)),
    "input_audio_buffer.commit": s.obj(_common),
    "input_audio_buffer.clear": s.obj(_common),
    "output_audio_buffer.clear": s.obj(_common),
    "conversation.item.create": s.obj(
        {**_common, "item": _item, "previous_item_id": s.nullable(s.string())},
        required=("item",),
    ),
    "conversation.item.retrieve": s.obj({**_common, "item_id": s.string()}, required=("item_id",)),
    "conversation.item.delete": s.obj({**_common, "item_id": s.string()}, required=("item_id",)),
    "conversation.item.truncate": s.obj(
        {
            **_common,
            "item_id": s.string(),
            "content_index": s.integer(0),
            "audio_end_ms": s.integer(0),
        },
        required=("item_id", "content_index", "audio_end_ms"),
    ),
    "response.create": s.obj({**_common, "response": _response_params}),
    "response.cancel": s.obj({**_common, "response_id": s.string()}),
}


def parse_client_event(raw: str | bytes) -> dict[str, Any]:
    """The checked event, or :class:`ProtocolError` saying what is wrong and what to send."""
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(
            f"Invalid JSON in client event ({e}). Send each client event as one JSON object "
            "per data channel message.",
            code="invalid_json",
        ) from None
    if not isinstance(event, dict):
        raise ProtocolError(
            f"Invalid client event: expected a JSON object, but got {s.describe(event)}.",
            code="invalid_type",
        )
    if "type" not in event:
        raise s.missing("type")
    kind = event["type"]
    if not isinstance(kind, str) or kind not in CLIENT_EVENTS:
        shown = kind if isinstance(kind, str) else json.dumps(kind)
        raise ProtocolError(
            f"Invalid value: '{shown}'. Supported values are: "
            + ", ".join(f"'{t}'" for t in CLIENT_EVENTS)
            + ".",
            code="invalid_value",
            param="type",
        )
    checked: dict[str, Any] = CLIENT_EVENTS[kind](event, "")
    return checked


def client_event_id(raw: str | bytes) -> str | None:
    """The ``event_id`` of a client event that failed checking, if one can be read from it."""
    try:
        event = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    event_id = event.get("event_id") if isinstance(event, dict) else None
    return event_id if isinstance(event_id, str) else None
