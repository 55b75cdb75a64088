"""The GA session configuration the widget sends when it mints a secret or relays an offer.

``RealtimeWidget(model=..., voice=..., instructions=..., session=...)`` becomes one session dict:
the shorthand arguments first, then ``session`` deep-merged over them, so a full GA session dict
can override or extend anything the shorthands set.

The GA API rejects a whole request (or ``session.update``) that carries one unknown field, and the
beta field names are still common in examples, so they are caught here with the GA name to use.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "marin"

Session = dict[str, Any]

# Beta (or pre-GA) top-level session fields -> where GA expects them.
_BETA_FIELDS: dict[str, str] = {
    "voice": "audio.output.voice",
    "speed": "audio.output.speed",
    "modalities": "output_modalities",
    "input_audio_format": "audio.input.format",
    "output_audio_format": "audio.output.format",
    "input_audio_transcription": "audio.input.transcription",
    "input_audio_noise_reduction": "audio.input.noise_reduction",
    "turn_detection": "audio.input.turn_detection",
    "max_response_output_tokens": "max_output_tokens",
}


def build_session(
    *,
    model: str = DEFAULT_MODEL,
    voice: str | None = DEFAULT_VOICE,
    instructions: str | None = None,
    session: Mapping[str, Any] | None = None,
) -> Session:
    """The session config for ``model``/``voice``/``instructions`` with ``session`` merged over.

    Returns a new dict that shares nothing with ``session``. Raises ``TypeError`` for values of
    the wrong type or that JSON cannot carry, ``ValueError`` for fields GA would reject.
    """
    if not isinstance(model, str) or not model:
        raise TypeError(f"model must be a non-empty string, not {model!r}")
    if voice is not None and (not isinstance(voice, str) or not voice):
        raise TypeError(f"voice must be a non-empty string or None, not {voice!r}")
    if instructions is not None and not isinstance(instructions, str):
        raise TypeError(f"instructions must be a string or None, not {type(instructions).__name__}")

    base: Session = {"type": "realtime", "model": model}
    if instructions is not None:
        base["instructions"] = instructions
    if voice is not None:
        base["audio"] = {"output": {"voice": voice}}
    if session is None:
        return base
    if not isinstance(session, Mapping):
        raise TypeError(f"session must be a dict, not {type(session).__name__}")
    check_session_fields(session, what="session")
    return deep_merge(base, session)


def check_session_fields(fields: Mapping[str, Any], *, what: str) -> None:
    """Reject what GA would reject for a whole request: beta field names, a non-``realtime`` type,
    values JSON cannot encode. ``what`` names the argument in the error message."""
    for key in fields:
        if not isinstance(key, str):
            raise TypeError(f"{what} keys must be strings, not {key!r}")
        if key in _BETA_FIELDS:
            raise ValueError(
                f"{what}: {key!r} is a beta field name; the GA API rejects it. "
                f"Use {_nested_hint(_BETA_FIELDS[key], fields[key])} instead."
            )
    session_type = fields.get("type", "realtime")
    if session_type != "realtime":
        raise ValueError(
            f"{what}: type must be 'realtime' (a speech-to-speech session), not {session_type!r}"
        )
    try:
        json.dumps(fields, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be JSON-serializable: {exc}") from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> Session:
    """``override`` merged into a copy of ``base``: nested dicts merge key by key, anything else
    (lists included) is replaced. Neither argument is modified and the result shares no
    mutable value with them."""
    merged: Session = copy.deepcopy(dict(base))
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _nested_hint(dotted: str, value: Any) -> str:
    """``audio.output.voice`` + ``"cedar"`` -> ``audio={"output": {"voice": "cedar"}}``."""
    head, *rest = dotted.split(".")
    try:
        inner = json.dumps(value)
    except (TypeError, ValueError):
        inner = repr(value)
    for part in reversed(rest):
        inner = f'{{"{part}": {inner}}}'
    return f"{head}={inner}"
