"""Helpers for tests that drive the emulator with aiortc clients: a bounded scenario runner and
a factory of connected clients that remembers them for validation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

import aiohttp

from rt_widget.emulator import Emulator
from support.aiortc_client import RealtimeClient

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
