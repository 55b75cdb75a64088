"""Fixtures for the emulator's tests: an emulator per test, clients that validate every event.

Every server event a test sees is checked against the openai SDK's ``RealtimeServerEvent``
union twice: by the client as it arrives, and from the emulator's own record of each call when
the test ends. Any invalid event fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.aiortc_client import validation_problem
from support.emulator_clients import Clients

from rt_widget.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    emu = Emulator(voice="auto").start()
    try:
        yield emu
        _assert_all_sent_events_valid(emu)
    finally:
        emu.stop()


@pytest.fixture
def clients(emulator: Emulator) -> Iterator[Clients]:
    made = Clients(emulator)
    yield made
    bad = [(e["type"], problem) for c in made.made for e, problem in c.invalid]
    assert not bad, f"invalid server events received: {bad[:3]}"


def _assert_all_sent_events_valid(emu: Emulator) -> None:
    bad = []
    for call_id in emu.call_history:
        for event in emu.sent_events(call_id):
            problem = validation_problem(event)
            if problem is not None:
                bad.append((call_id, event["type"], problem))
    assert not bad, f"invalid server events sent: {bad[:3]}"
