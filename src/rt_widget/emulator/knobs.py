"""Settings a teacher or a test turns while the emulator runs: pacing, and faults to inject."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass
class CallKnobs:
    """Per-call pacing. New calls copy the emulator's defaults; each call's copy can be changed."""

    response_delay_ms: float = 0.0
    """Added between ``response.created`` and the response's first output, like model latency."""

    delta_interval_ms: float | None = None
    """Time between deltas. None: transcript deltas follow the speech as it plays, text and
    function-argument deltas come every :data:`TEXT_DELTA_MS`."""

    def __post_init__(self) -> None:
        if self.response_delay_ms < 0:
            raise ValueError("response_delay_ms must be >= 0")
        if self.delta_interval_ms is not None and self.delta_interval_ms < 0:
            raise ValueError("delta_interval_ms must be >= 0 or None")


TEXT_DELTA_MS = 20.0


class Fault(str, Enum):
    """Faults to inject. The first two act on one call; the others on the emulator."""

    CLOSE_DATA_CHANNEL = "close_data_channel"
    CLOSE_PEER_CONNECTION = "close_peer_connection"
    DELAY_ANSWER = "delay_answer"
    FAIL_ANSWER = "fail_answer"
    EXPIRE_SECRETS = "expire_secrets"

    @property
    def per_call(self) -> bool:
        return self in (Fault.CLOSE_DATA_CHANNEL, Fault.CLOSE_PEER_CONNECTION)


@dataclass
class AnswerFault:
    """What happens to the next offers: a delay before answering, or a failure instead."""

    delay_ms: float = 0.0
    fail_status: int | None = None
    remaining: int | None = 1
    """How many offers it applies to; None: every offer until cleared."""

    def take(self) -> AnswerFault | None:
        """This fault for one offer (counting it down), or None once used up."""
        if self.remaining is not None:
            if self.remaining <= 0:
                return None
            self.remaining -= 1
        return self
