"""Every server event sent on a call, in order, kept until the emulator stops.

Written on the emulator's loop, read from any thread: tests and the widget's end-to-end tests
compare it with what the client logged. Events are kept as the exact JSON text sent on the data
channel and decoded when read, so the record is what went over the wire.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any


class EventJournal:
    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self._texts: list[str] = []
        self._changed = threading.Condition(threading.Lock())
        self._waiting = 0  # readers blocked in wait_for; appends notify only when there are some

    def __len__(self) -> int:
        return len(self._texts)

    def append(self, text: str) -> None:
        # list.append is atomic; the lock is taken only to wake waiters. A waiter counts itself
        # (under the lock) before it looks, so an append it does not see will wake it.
        self._texts.append(text)
        if self._waiting:
            with self._changed:
                self._changed.notify_all()

    def events(self, start: int = 0) -> list[dict[str, Any]]:
        texts = self._texts[start:]
        return [json.loads(t) for t in texts]

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout: float,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first event from index ``start`` on that satisfies ``predicate``, waiting for it."""
        deadline = time.monotonic() + timeout
        seen = start
        with self._changed:
            self._waiting += 1
            try:
                while True:
                    while seen < len(self._texts):
                        event: dict[str, Any] = json.loads(self._texts[seen])
                        seen += 1
                        if predicate(event):
                            return event
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(
                            f"no matching server event on {self.call_id} in {timeout} s"
                        )
                    self._changed.wait(left)
            finally:
                self._waiting -= 1
