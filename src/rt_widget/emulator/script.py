"""Scripted turns: what the "user" is taken to have said, and what the assistant answers.

A script is a list of turns, as Python objects or a JSON file::

    [
        {"user": "What's the weather in Paris?", "assistant": "Sunny and warm."},
        {"assistant": "Anything else?"},
        {"user": "Call get_weather with {\\"city\\": \\"Oslo\\"}"}
    ]

Each call plays the script from the top, one turn per user turn (a committed audio turn or a
user text item). ``user`` is the transcript of an audio turn (the emulator does not recognise
speech; without it the transcript is a placeholder) and is read for tool names like typed text.
``assistant`` is the reply to that turn, instead of the echo. Either may be left out; when the
script runs out, the emulator echoes again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Turn:
    user: str | None = None
    assistant: str | None = None


def load_script(source: str | Path | Iterable[Mapping[str, Any] | Turn] | None) -> list[Turn]:
    """Turns from a JSON file path, or from a list of mappings or :class:`Turn` objects."""
    if source is None:
        return []
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ValueError(f"cannot read the script {path}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"the script {path} is not valid JSON: {e}") from None
        if not isinstance(data, list):
            raise ValueError(f"the script {path} must hold a JSON array of turns")
        source = data
    turns: list[Turn] = []
    for i, entry in enumerate(source):
        if isinstance(entry, Turn):
            turns.append(entry)
            continue
        if not isinstance(entry, Mapping):
            raise ValueError(f"script turn {i} must be an object with 'user' and/or 'assistant'")
        unknown = set(entry) - {"user", "assistant"}
        if unknown:
            raise ValueError(
                f"script turn {i} has unknown keys {sorted(unknown)}; "
                "a turn has only 'user' and/or 'assistant'"
            )
        for key in ("user", "assistant"):
            if key in entry and not isinstance(entry[key], str):
                raise ValueError(f"script turn {i}: '{key}' must be a string")
        turns.append(Turn(user=entry.get("user"), assistant=entry.get("assistant")))
    return turns


class ScriptCursor:
    """One call's position in the script."""

    def __init__(self, turns: list[Turn]) -> None:
        self._turns = turns
        self._next = 0

    def next_turn(self) -> Turn | None:
        if self._next >= len(self._turns):
            return None
        turn = self._turns[self._next]
        self._next += 1
        return turn
