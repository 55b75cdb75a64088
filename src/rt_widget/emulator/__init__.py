"""A local stand-in for OpenAI's Realtime API: real WebRTC (aiortc), the same REST paths, the same
GA events, and no language model (it echoes). See docs/emulator.md.

In a notebook or a test::

    from rt_widget.emulator import Emulator

    with Emulator() as emu:              # a free port on 127.0.0.1, its own loop in a thread
        emu.base_url                     # "http://127.0.0.1:PORT/v1"
        ...

From a shell: ``python -m rt_widget.emulator --port 8765`` (or ``rt-emulator``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from .errors import ApiError
from .journal import EventJournal
from .knobs import CallKnobs, Fault
from .log import log
from .script import Turn, load_script
from .server import BurstReport, EmulatorServer, EmulatorSettings

__all__ = ["ApiError", "BurstReport", "CallKnobs", "Emulator", "EmulatorSettings", "Fault", "Turn"]

T = TypeVar("T")
ScriptSource = str | Path | Iterable[Mapping[str, Any] | Turn] | None


class Emulator:
    """The emulator on its own asyncio loop in a daemon thread, so a kernel is never blocked.

    Every method is safe to call from any thread. :meth:`stop` closes every call, the HTTP
    server, the loop and the thread.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        script: ScriptSource = None,
        response_delay_ms: float = 0.0,
        delta_interval_ms: float | None = None,
        voice: str = "auto",
    ) -> None:
        self.settings = EmulatorSettings(
            host=host,
            port=port,
            api_key=api_key,
            script=load_script(script),
            knobs=CallKnobs(response_delay_ms, delta_interval_ms),
            voice=voice,
        )
        self._server: EmulatorServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.base_url if self.running else "stopped"
        return f"<rt_widget Emulator {where}>"

    # -- life --------------------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Emulator:
        if self._thread is not None:
            raise RuntimeError("the emulator is already running")
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="rt_widget-emulator", daemon=True
        )
        self._thread.start()
        try:
            ready.result(timeout)
        except BaseException:
            self._thread.join(timeout)
            self._thread = None
            raise
        return self

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        server = EmulatorServer(self.settings)
        try:
            loop.run_until_complete(server.start())
        except BaseException as e:
            ready.set_exception(e)
            _close_loop(loop)
            return
        self._server, self._loop = server, loop
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(server.stop())
            _close_loop(loop)

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up every call, stop serving, close the loop and join the thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("the emulator thread did not stop within %.0f s", timeout)
        self._thread, self._loop, self._server = None, None, None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._server is not None

    # -- where it is -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what the widget (or an OpenAI client) takes as base URL."""
        return self._running().base_url

    @property
    def admin_url(self) -> str:
        return self._running().admin_url

    @property
    def port(self) -> int:
        port = self._running().port
        assert port is not None
        return port

    # -- calls and their events --------------------------------------------------------------------

    @property
    def calls(self) -> list[str]:
        """Ids of the calls that are up, oldest first."""
        return self._call_soon(lambda s: list(s.calls))

    @property
    def call_history(self) -> list[str]:
        """Ids of every call made since :meth:`start`, ended ones too, oldest first."""
        return self._call_soon(lambda s: list(s.journals))

    def sent_events(self, call_id: str) -> list[dict[str, Any]]:
        """Every server event sent on a call, in order; kept after it ends, until :meth:`stop`."""
        return self._journal(call_id).events()

    def wait_for_event(
        self,
        call_id: str,
        event_type: str | Callable[[dict[str, Any]], bool],
        timeout: float = 10.0,
        start: int = 0,
    ) -> dict[str, Any]:
        """The first server event (from index ``start``) of that type or matching a predicate."""
        pred = event_type if callable(event_type) else (lambda e: e["type"] == event_type)
        return self._journal(call_id).wait_for(pred, timeout, start)

    def wait_for_call(self, timeout: float = 10.0, known: Iterable[str] = ()) -> str:
        """The id of a call not in ``known`` (e.g. the one a browser is making), waiting for it."""
        known = set(known)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = [c for c in self.call_history if c not in known]
            if new:
                return new[0]
            time.sleep(0.02)
        raise TimeoutError(f"no new call within {timeout} s")

    def hangup(self, call_id: str) -> None:
        self._await(lambda s: s.hangup(call_id))

    # -- knobs and faults --------------------------------------------------------------------------

    def set_knobs(self, call_id: str | None = None, **changes: Any) -> CallKnobs:
        """Set ``response_delay_ms`` / ``delta_interval_ms`` of a call, or (no id) of new calls."""
        return self._call_soon(lambda s: s.set_knobs(call_id, **changes))

    def inject_fault(self, call_id: str | None, kind: str | Fault, **params: Any) -> dict[str, Any]:
        """Inject a fault.

        On a call: ``close_data_channel``, ``close_peer_connection``. On the emulator (call_id
        None): ``delay_answer`` (``ms=``, ``count=1``; count None: every offer),
        ``fail_answer`` (``status=500``, ``count=1``), ``expire_secrets``.
        """
        value = kind.value if isinstance(kind, Fault) else kind
        return self._await(lambda s: s.inject(call_id, value, **params))

    def expire_secrets(self) -> int:
        """Expire every client secret minted so far; returns how many were still valid."""
        result: int = self.inject_fault(None, Fault.EXPIRE_SECRETS)["expired"]
        return result

    def clear_faults(self) -> None:
        self._call_soon(lambda s: s.clear_faults())

    def burst(self, call_id: str, count: int = 10_000, interval_ms: float = 0.0) -> BurstReport:
        """Send a text response of exactly ``count`` events on a call, as fast as possible; or,
        with ``interval_ms``, one event every ``interval_ms`` (this then returns at once)."""
        return self._call_soon(lambda s: s.burst(call_id, count, interval_ms))

    def task_count(self) -> int:
        """Tasks alive on the emulator's loop (for leak checks)."""

        async def count() -> int:
            return len(asyncio.all_tasks()) - 1  # not this one

        return self._await(lambda s: count())

    # -- plumbing ----------------------------------------------------------------------------------

    def _running(self) -> EmulatorServer:
        if self._server is None:
            raise RuntimeError(
                "the emulator is not running; call start() or use it in a with block"
            )
        return self._server

    def _journal(self, call_id: str) -> EventJournal:
        return self._call_soon(lambda s: s.journal(call_id))

    def _await(
        self, make: Callable[[EmulatorServer], Coroutine[Any, Any, T]], timeout: float = 30.0
    ) -> T:
        server = self._running()
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(make(server), self._loop).result(timeout)

    def _call_soon(self, fn: Callable[[EmulatorServer], T], timeout: float = 30.0) -> T:
        async def run(server: EmulatorServer) -> T:
            return fn(server)

        return self._await(run, timeout)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left, shut the executor down (joining its threads), close the loop."""
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
