"""Token counts for ``response.done``, in the service's shape, estimated.

There is no tokenizer here: 4 characters of text make a token, a second of input audio 10
tokens, a second of output audio 20. Nothing is cached.
"""

from __future__ import annotations

import json
from typing import Any

from .replies import UserTurn


def estimate_usage(
    instructions: str,
    items: list[dict[str, Any]],
    turns: dict[str, UserTurn],
    output_text: str,
    output_audio_ms: float,
) -> dict[str, Any]:
    text_in = len(instructions) // 4
    audio_in = 0
    for item in items:
        turn = turns.get(item["id"])
        if turn is not None and turn.heard_s is not None:
            audio_in += round(turn.heard_s * 10)
        else:
            text_in += len(json.dumps(item.get("content", item.get("arguments", "")))) // 4
    text_out = (len(output_text) + 3) // 4
    audio_out = round(output_audio_ms / 1000 * 20)
    return {
        "total_tokens": text_in + audio_in + text_out + audio_out,
        "input_tokens": text_in + audio_in,
        "output_tokens": text_out + audio_out,
        "input_token_details": {
            "text_tokens": text_in,
            "audio_tokens": audio_in,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": text_out, "audio_tokens": audio_out},
    }
