"""Reading conversation items: the text a content part carries, what kind of input an item is."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Content part type -> (modality, field holding its text). GA names first; the bare "audio" and
# "text" are what beta items, and GA's own response.content_part.* parts, call them.
PART_TYPES: Mapping[str, tuple[str, str]] = {
    "input_audio": ("audio", "transcript"),
    "output_audio": ("audio", "transcript"),
    "audio": ("audio", "transcript"),
    "input_text": ("text", "text"),
    "output_text": ("text", "text"),
    "text": ("text", "text"),
}

_UNKNOWN: tuple[str | None, str] = (None, "text")


def part_text(part: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(modality, text) of one content part; text is None when the part carries none yet."""
    kind = part.get("type")
    modality, field = PART_TYPES.get(kind, _UNKNOWN) if isinstance(kind, str) else _UNKNOWN
    text = part.get(field)
    if text is None and modality is None:  # an unknown part type: whichever field is there
        text = part.get("transcript") if field == "text" else part.get("text")
    return modality, text if isinstance(text, str) else None


def parts(item: Mapping[str, Any]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """(content_index, part) for each well-formed part of an item."""
    content = item.get("content")
    if isinstance(content, list):
        for index, part in enumerate(content):
            if isinstance(part, dict):
                yield index, part


def input_kind(item: Mapping[str, Any]) -> str | None:
    """What a conversation item is as an input to the next response.

    ``"tool"`` for a ``function_call_output``; for a user message ``"text"`` if it has typed
    content (text or an image), ``"audio"`` if it only has audio; None for anything else (the
    model's own items, system messages), which is not an input.
    """
    kind = item.get("type")
    if kind == "function_call_output":
        return "tool"
    if kind != "message" or item.get("role") != "user":
        return None
    types = {kind for _, part in parts(item) if isinstance(kind := part.get("type"), str)}
    if types & {"input_text", "input_image"}:
        return "text"
    if "input_audio" in types:
        return "audio"
    return None
