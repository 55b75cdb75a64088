"""What the assistant says, having no language model.

- To typed text: ``You said: <text>``.
- To an audio turn: ``I heard 1.4 seconds of audio.``
- A scripted turn's ``assistant`` text instead, when a script supplies one.
- When the session (or the response) has function tools and the user's text, typed or a
  scripted transcript, names one (``get_weather``, or "get weather"), a call to it, with the
  first JSON object in the text as its arguments, else ``{}``. ``tool_choice`` is honoured:
  ``none`` never calls, ``required`` calls the first tool, a named function is always called.
- After the client's ``function_call_output``: ``The <name> tool returned: <output>`` (or the
  turn's scripted reply).
- With nothing said yet: a greeting that says what it is.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from .session_config import SessionConfig

GREETING = (
    "Hello! This is the rt_widget emulator. It has no language model: it repeats what you say."
)


@dataclass
class UserTurn:
    """What is known about one user item, for planning the reply to it."""

    typed: str | None = None  # text the client sent
    transcript: str | None = None  # scripted transcript of an audio turn
    heard_s: float | None = None  # length of an audio turn
    reply: str | None = None  # scripted assistant reply

    @property
    def text(self) -> str | None:
        return self.typed if self.typed is not None else self.transcript


@dataclass(frozen=True)
class Speech:
    text: str


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # JSON text


def plan_reply(
    items: list[dict[str, Any]],
    turns: dict[str, UserTurn],
    params: dict[str, Any],
    config: SessionConfig,
) -> Speech | ToolCall:
    """The reply to a conversation whose items are ``items`` (the latest last)."""
    last = items[-1] if items else None
    if last is None:
        return Speech(GREETING)
    if last["type"] == "function_call_output":
        call = next(
            (
                i
                for i in reversed(items)
                if i["type"] == "function_call" and i.get("call_id") == last["call_id"]
            ),
            None,
        )
        turn = _user_turn_before(items, turns, call or last)
        if turn is not None and turn.reply:
            return Speech(turn.reply)
        name = call["name"] if call else "requested"
        return Speech(f"The {name} tool returned: {last['output']}")
    if last["type"] == "function_call":
        return Speech(f"I am waiting for the output of {last['name']}.")
    turn = _user_turn_before(items, turns, None)
    if turn is None:
        return Speech(GREETING)
    tool = pick_tool(params, config, turn.text)
    if tool is not None:
        return tool
    if turn.reply:
        return Speech(turn.reply)
    if turn.typed is not None:
        return Speech(f"You said: {turn.typed}")
    return Speech(f"I heard {turn.heard_s or 0:.1f} seconds of audio.")


def _user_turn_before(
    items: list[dict[str, Any]], turns: dict[str, UserTurn], stop: dict[str, Any] | None
) -> UserTurn | None:
    """The latest user message in ``items`` (before ``stop`` when given), as a turn."""
    end = items.index(stop) if stop is not None and stop in items else len(items)
    for item in reversed(items[:end]):
        if item["type"] == "message" and item["role"] == "user":
            if item["id"] in turns:
                return turns[item["id"]]
            typed = " ".join(c.get("text") or "" for c in item["content"]).strip()
            return UserTurn(typed=typed or None)
    return None


def pick_tool(params: dict[str, Any], config: SessionConfig, text: str | None) -> ToolCall | None:
    """The function call ``text`` asks for, given the response's or the session's tools."""
    tools = params.get("tools")
    names = (
        [
            t["name"]
            for t in tools
            if isinstance(t, dict)
            and t.get("type", "function") == "function"
            and isinstance(t.get("name"), str)
        ]
        if isinstance(tools, list)
        else config.function_tools
    )
    choice = params.get("tool_choice", config.tool_choice)
    if not names or choice == "none":
        return None
    arguments = json.dumps(first_json_object(text or ""))
    if (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and choice.get("name") in names
    ):
        return ToolCall(choice["name"], arguments)
    named = named_tool(names, text or "")
    if named is None and choice == "required":
        named = names[0]
    return ToolCall(named, arguments) if named else None


def named_tool(names: list[str], text: str) -> str | None:
    """The tool whose name appears earliest in ``text`` (``get_weather`` or "get weather")."""
    best: tuple[int, str] | None = None
    for name in names:
        for spelling in {name, name.replace("_", " ")}:
            m = re.search(rf"(?<!\w){re.escape(spelling)}(?!\w)", text, re.IGNORECASE)
            if m and (best is None or m.start() < best[0]):
                best = (m.start(), name)
    return best[1] if best else None


def first_json_object(text: str) -> dict[str, Any]:
    """The first ``{...}`` in ``text`` that parses as a JSON object, else ``{}``."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        with contextlib.suppress(ValueError):
            value, _ = decoder.raw_decode(text, m.start())
            if isinstance(value, dict):
                return value
    return {}
