"""Fixtures for the emulator's tests: an emulator per test, clients that validate every event.

Every server event a test sees is checked against the openai SDK's ``RealtimeServerEvent``
union twice: by the client as it arrives, and from the emulator's own record of each call when
the test ends. Any invalid event fails the test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import aiohttp
import pytest
from emu_client import RealtimeClient, validation_problem

from rt_widget.emulator import Emulator

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run a test scenario on a fresh event loop (the emulator has its own, in its thread)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


class Clients:
    """Makes connected clients for a test and closes them; remembers them for validation."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.made: list[RealtimeClient] = []

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[aiohttp.ClientSession]:
        async with aiohttp.ClientSession() as session:
            yield session

    @contextlib.asynccontextmanager
    async def connected(self, count: int = 1, **connect: Any) -> AsyncIterator[Any]:
        """``count`` clients connected to the emulator (one client, or a list when count > 1)."""
        async with aiohttp.ClientSession() as http:
            clients = [RealtimeClient(self.emulator.base_url) for _ in range(count)]
            self.made.extend(clients)
            try:
                await asyncio.gather(*(c.connect(http, **connect) for c in clients))
                yield clients[0] if count == 1 else clients
            finally:
                await asyncio.gather(*(c.close() for c in clients))


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
