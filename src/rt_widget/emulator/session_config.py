"""The GA session configuration: defaults, validation, merging, and typed views for the engine.

A session is kept as the JSON the service would echo (``session.created`` / ``session.updated``);
the engine reads it through :class:`SessionConfig`'s properties. Validation follows the service:
``type`` is required, and one unknown or ill-typed field rejects the whole update, leaving the
session as it was.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from . import schema as s
from .errors import ProtocolError

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "alloy"
# The service fills in its own default instructions when none are given; the emulator's say
# what it is. Instructions a client sets are echoed untouched.
DEFAULT_INSTRUCTIONS = (
    "You are the rt_widget emulator, a local stand-in for the OpenAI Realtime API. "
    "There is no language model here: replies repeat what the user said."
)
SESSION_LIFETIME_S = 3600  # the service ends a session after 60 minutes

SERVER_VAD_DEFAULTS: dict[str, Any] = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "idle_timeout_ms": None,
    "create_response": True,
    "interrupt_response": True,
}
SEMANTIC_VAD_DEFAULTS: dict[str, Any] = {
    "type": "semantic_vad",
    "eagerness": "auto",
    "create_response": True,
    "interrupt_response": True,
}
# semantic_vad is treated as energy VAD; its eagerness picks how long a pause ends a turn.
EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 500, "auto": 500, "high": 300}

_PCM = {"type": "audio/pcm", "rate": 24000}

# -- the schema of a GA realtime session (openai.types.realtime.RealtimeSessionCreateRequest) ------

_format = s.tagged(
    "type",
    {
        "audio/pcm": s.obj({"type": s.string(), "rate": s.literal(24000)}),
        "audio/pcmu": s.obj({"type": s.string()}),
        "audio/pcma": s.obj({"type": s.string()}),
    },
)
_transcription = s.obj(
    {
        "model": s.string(),
        "language": s.string(),
        "languages": s.array(s.string()),
        "prompt": s.string(),
        "keywords": s.array(s.string()),
        "delay": s.literal("minimal", "low", "medium", "high", "xhigh"),
    }
)
_noise_reduction = s.obj(
    {"type": s.literal("near_field", "far_field"), "strength": s.number(0.0, 1.0)}
)
_turn_detection = s.tagged(
    "type",
    {
        "server_vad": s.obj(
            {
                "type": s.string(),
                "threshold": s.number(0.0, 1.0),
                "prefix_padding_ms": s.integer(0, 10_000),
                "silence_duration_ms": s.integer(0, 10_000),
                "idle_timeout_ms": s.nullable(s.integer(5_000, 30_000)),
                "create_response": s.boolean(),
                "interrupt_response": s.boolean(),
            }
        ),
        "semantic_vad": s.obj(
            {
                "type": s.string(),
                "eagerness": s.literal("low", "medium", "high", "auto"),
                "create_response": s.boolean(),
                "interrupt_response": s.boolean(),
            }
        ),
    },
)
_voice = s.either(s.string(), s.obj({"id": s.string()}, required=("id",)))
_audio = s.obj(
    {
        "input": s.obj(
            {
                "format": _format,
                "transcription": s.nullable(_transcription),
                "noise_reduction": s.nullable(_noise_reduction),
                "turn_detection": s.nullable(_turn_detection),
            }
        ),
        "output": s.obj({"format": _format, "voice": _voice, "speed": s.number(0.25, 1.5)}),
    }
)
_function_tool = s.obj(
    {
        "type": s.string(),
        "name": s.string(),
        "description": s.string(),
        "parameters": s.anything(),
    },
    required=("name",),
)
_MCP_FIELDS = [
    "server_label", "allowed_callers", "allowed_tools", "authorization", "connector_id",
    "defer_loading", "headers", "require_approval", "server_description", "server_url",
    "tunnel_id",
]  # fmt: skip
_mcp_tool = s.obj(
    {"type": s.string(), **{name: s.anything() for name in _MCP_FIELDS}},
    required=("server_label",),
)
_tool = s.tagged("type", {"function": _function_tool, "mcp": _mcp_tool})
_tool_choice = s.either(
    s.tagged(
        "type",
        {
            "function": s.obj({"type": s.string(), "name": s.string()}, required=("name",)),
            "mcp": s.obj(
                {"type": s.string(), "server_label": s.string(), "name": s.nullable(s.string())},
                required=("server_label",),
            ),
        },
    ),
    s.literal("none", "auto", "required"),
)
_truncation = s.either(
    s.literal("auto", "disabled"),
    s.obj(
        {
            "type": s.literal("retention_ratio"),
            "retention_ratio": s.number(0.0, 1.0),
            "token_limits": s.obj({"post_instructions": s.integer(0)}),
        },
        required=("type", "retention_ratio"),
    ),
)
_tracing = s.nullable(
    s.either(
        s.literal("auto"),
        s.obj({"workflow_name": s.string(), "group_id": s.string(), "metadata": s.anything()}),
    )
)
_prompt = s.nullable(
    s.obj(
        {"id": s.string(), "version": s.nullable(s.string()), "variables": s.anything()},
        required=("id",),
    )
)

SESSION_FIELDS: dict[str, s.Validator] = {
    "type": s.literal("realtime", "transcription"),
    "model": s.string(),
    "instructions": s.string(),
    "output_modalities": s.array(s.literal("text", "audio"), min_items=1, max_items=1),
    "audio": _audio,
    "tools": s.array(_tool),
    "tool_choice": _tool_choice,
    "max_output_tokens": s.either(s.integer(1, 4096), s.literal("inf")),
    "tracing": _tracing,
    "truncation": _truncation,
    "prompt": _prompt,
    "include": s.nullable(s.array(s.literal("item.input_audio_transcription.logprobs"))),
    "reasoning": s.nullable(
        s.obj({"effort": s.literal("minimal", "low", "medium", "high", "xhigh")})
    ),
    "parallel_tool_calls": s.boolean(),
}
_session = s.obj(SESSION_FIELDS, required=("type",))


def validate_session(patch: Any, path: str = "session") -> dict[str, Any]:
    """Check a session object from a client; the copy it returns is safe to keep."""
    checked: dict[str, Any] = _session(patch, path)
    if checked["type"] == "transcription":
        raise ProtocolError(
            "The rt_widget emulator serves realtime sessions only; "
            "set session.type to 'realtime' (transcription sessions are not emulated).",
            code="invalid_value",
            param=f"{path}.type",
        )
    return checked


def default_config() -> dict[str, Any]:
    """The configuration of a session nobody configured, in the service's field order."""
    return {
        "type": "realtime",
        "model": DEFAULT_MODEL,
        "output_modalities": ["audio"],
        "instructions": DEFAULT_INSTRUCTIONS,
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "audio": {
            "input": {
                "format": dict(_PCM),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
            },
            "output": {"format": dict(_PCM), "voice": DEFAULT_VOICE, "speed": 1.0},
        },
        "include": None,
    }


def _merge_turn_detection(current: dict[str, Any] | None, patch: dict[str, Any] | None) -> Any:
    if patch is None:
        return None
    if current is not None and current.get("type") == patch["type"]:
        return {**current, **patch}
    base = SERVER_VAD_DEFAULTS if patch["type"] == "server_vad" else SEMANTIC_VAD_DEFAULTS
    return {**base, **patch}


def merge(config: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``config`` updated by a validated ``patch``: audio settings merge, the rest replace."""
    out = copy.deepcopy(config)
    for key, value in patch.items():
        if key != "audio":
            out[key] = copy.deepcopy(value)
            continue
        for direction, settings in value.items():
            target = out["audio"].setdefault(direction, {})
            for name, setting in settings.items():
                if name == "turn_detection":
                    target[name] = _merge_turn_detection(target.get(name), setting)
                else:
                    target[name] = copy.deepcopy(setting)
    return out


@dataclass(frozen=True)
class TurnDetection:
    """What the VAD needs from ``audio.input.turn_detection``."""

    kind: str
    threshold: float
    prefix_padding_ms: int
    silence_duration_ms: int
    create_response: bool
    interrupt_response: bool


class SessionConfig:
    """One session's configuration: the JSON the service echoes, plus typed views of it."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config: dict[str, Any] = config if config is not None else default_config()

    @classmethod
    def from_request(cls, patch: Any, path: str = "session") -> SessionConfig:
        """Defaults overlaid with a client's session object (client secret or call request)."""
        if patch is None:
            return cls()
        return cls(merge(default_config(), validate_session(patch, path)))

    def updated(self, patch: Any) -> SessionConfig:
        """A new configuration with ``patch`` applied, or :class:`ProtocolError` and no change."""
        return SessionConfig(merge(self.config, validate_session(patch)))

    def as_session(self, session_id: str, expires_at: int) -> dict[str, Any]:
        """The session object as the service sends it, with ``object``, ``id``, ``expires_at``."""
        c = copy.deepcopy(self.config)
        head = {"type": c.pop("type"), "object": "realtime.session", "id": session_id}
        model = {"model": c.pop("model")}
        return {**head, **model, **c, "expires_at": expires_at}

    # -- typed views ------------------------------------------------------------------------------

    @property
    def output_modalities(self) -> list[str]:
        return list(self.config["output_modalities"])

    @property
    def voice(self) -> str:
        voice = self.config["audio"]["output"].get("voice", DEFAULT_VOICE)
        return voice["id"] if isinstance(voice, dict) else str(voice)

    @property
    def speed(self) -> float:
        return float(self.config["audio"]["output"].get("speed", 1.0))

    @property
    def transcription(self) -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.config["audio"]["input"].get("transcription")
        return result

    @property
    def turn_detection(self) -> TurnDetection | None:
        td = self.config["audio"]["input"].get("turn_detection")
        if td is None:
            return None
        if td["type"] == "semantic_vad":
            return TurnDetection(
                kind="semantic_vad",
                threshold=SERVER_VAD_DEFAULTS["threshold"],
                prefix_padding_ms=SERVER_VAD_DEFAULTS["prefix_padding_ms"],
                silence_duration_ms=EAGERNESS_SILENCE_MS[td.get("eagerness", "auto")],
                create_response=td.get("create_response", True),
                interrupt_response=td.get("interrupt_response", True),
            )
        return TurnDetection(
            kind="server_vad",
            threshold=td.get("threshold", SERVER_VAD_DEFAULTS["threshold"]),
            prefix_padding_ms=td.get("prefix_padding_ms", SERVER_VAD_DEFAULTS["prefix_padding_ms"]),
            silence_duration_ms=td.get(
                "silence_duration_ms", SERVER_VAD_DEFAULTS["silence_duration_ms"]
            ),
            create_response=td.get("create_response", True),
            interrupt_response=td.get("interrupt_response", True),
        )

    @property
    def function_tools(self) -> list[str]:
        return [t["name"] for t in self.config.get("tools", []) if t.get("type") == "function"]

    @property
    def tool_choice(self) -> str | dict[str, Any]:
        choice: str | dict[str, Any] = self.config.get("tool_choice", "auto")
        return choice

    @property
    def audio_output_shape(self) -> dict[str, Any]:
        """``response.audio`` as responses echo it."""
        out = self.config["audio"]["output"]
        return {"output": {"format": copy.deepcopy(out.get("format", _PCM)), "voice": self.voice}}
