"""Helpers for the tool tests: openai's GA Realtime types as the judge of what we produce, and a
stand-in for the widget's callbacks.

Deliberately not a conftest.py: tests/emulator imports its conftest by the plain module name
``conftest``, which another folder's non-package conftest.py would shadow."""

from __future__ import annotations

import threading
from typing import Any

from openai.types.realtime import RealtimeClientEvent
from openai.types.realtime.realtime_tools_config_union import RealtimeToolsConfigUnion
from pydantic import TypeAdapter

CLIENT_EVENT = TypeAdapter(RealtimeClientEvent)
SESSION_TOOL = TypeAdapter(RealtimeToolsConfigUnion)


def assert_client_event(event: dict[str, Any]) -> None:
    """``event`` is a valid GA client event, and every field in it is one the type knows
    (openai's models ignore unknown fields, which the API itself rejects)."""
    model = CLIENT_EVENT.validate_python(event)
    assert model.model_dump(mode="json", exclude_unset=True) == event


def assert_session_tool(entry: dict[str, Any]) -> None:
    model = SESSION_TOOL.validate_python(entry)
    assert model.model_dump(mode="json", exclude_unset=True) == entry


class Sink:
    """The widget's side of the dispatcher: what it sent, recorded and showed, in one order."""

    def __init__(self) -> None:
        self.lock = threading.RLock()  # the properties below are read under wait_for
        self.timeline: list[tuple[str, Any]] = []
        self.changed = threading.Condition(self.lock)

    def send_event(self, event: dict[str, Any]) -> None:
        self._add("send", event)

    def record(self, record: dict[str, Any]) -> None:
        self._add("record", record)

    def on_status(self, text: str) -> None:
        self._add("status", text)

    def _add(self, kind: str, value: Any) -> None:
        with self.changed:
            self.timeline.append((kind, value))
            self.changed.notify_all()

    @property
    def sent(self) -> list[dict[str, Any]]:
        with self.lock:
            return [v for k, v in self.timeline if k == "send"]

    @property
    def records(self) -> list[dict[str, Any]]:
        with self.lock:
            return [v for k, v in self.timeline if k == "record"]

    @property
    def statuses(self) -> list[str]:
        with self.lock:
            return [v for k, v in self.timeline if k == "status"]

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: predicate(self), timeout), (
                f"timed out; timeline: {self.timeline}"
            )
