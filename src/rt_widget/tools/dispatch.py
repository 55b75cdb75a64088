"""Answering the model's function calls with Python.

Feed every server event to :meth:`ToolDispatcher.handle_event` from the comm handler. It returns at
once: each call runs on its own daemon thread (``async def`` tools on an event loop, see below), so
a slow tool never holds up the kernel's message handling, and a busy cell (which holds up the comm
handler, ../shared/FACTS.md) never holds up a tool already running.

For each ``response.function_call_arguments.done`` the dispatcher parses and validates the
arguments, calls the function under its timeout, sends a ``function_call_output`` item for that
``call_id`` and writes one ``widget.tool`` record. Whatever goes wrong (unknown tool, bad JSON,
arguments that do not fit, an exception, a timeout) becomes ``{"error": "..."}`` for the model and
an ``error``/``timeout`` record; nothing is raised into the kernel.

When to send ``response.create``: the API refuses it while a response is in progress
("conversation_already_has_active_response"), and a tool often finishes before the response that
called it has ended. So the dispatcher sends one ``response.create`` once (a) the calling response
is done (``response.done``), (b) every call of that response has its output, and (c) no other
response it has seen start is still running. If the calling response ended ``cancelled``,
``failed`` or ``incomplete`` (the user talked over it), the outputs are still sent, so the call is
answered in the conversation, but no new response is asked for: the conversation has moved on.

Callbacks are called one at a time, in the order the dispatcher decided on them (so an output
item always goes before its ``response.create``), on whichever thread is delivering: a tool's
worker thread, or the comm handler's thread (a ``response.create`` released by ``response.done``).
The dispatcher never holds its own lock while calling out, and a thread that finds another one
delivering leaves its callbacks to it instead of waiting, so the widget's callbacks may take the
widget's own locks without risk of deadlock. They must be safe to call from a thread other than
the kernel's: in ipykernel a comm message can be sent from any thread (iopub has its own), but an
``EventLog.append`` racing the comm handler's needs the widget's lock.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import logging
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..eventlog import now_ms
from .registry import Tool, ToolRegistry
from .results import (
    MAX_EVENT_BYTES,
    MAX_RECORD_RESULT_BYTES,
    encode_result,
    event_size,
    truncated,
)
from .schema import ArgumentError

log = logging.getLogger(__name__)

Status = Literal["ok", "error", "timeout"]

CALL_EVENT = "response.function_call_arguments.done"
_MAX_ERROR_CHARS = 2_000  # an exception's text can be huge (it may quote its input)
_MAX_TRACEBACK_CHARS = 8_000
_REMEMBERED_CALL_IDS = 4_096  # enough to ignore a repeated event, bounded for long sessions


@dataclass
class _Call:
    tool: Tool | None
    name: str
    call_id: str
    arguments_text: str
    item_id: str | None
    response_id: str | None
    generation: int
    started_ms: float = field(default_factory=now_ms)
    started: float = field(default_factory=time.monotonic)


@dataclass
class _Outcome:
    status: Status
    arguments: Any = None  # the parsed arguments (a dict, normally), None if not JSON
    result: Any = None
    error: str | None = None
    traceback: str | None = None


@dataclass
class _ResponseCalls:
    """The calls made by one response, and whether that response has ended."""

    pending: set[str] = field(default_factory=set)
    done: bool = False
    status: str | None = None  # response.done's response.status


class ToolDispatcher:
    """Runs the registry's tools for the model's function calls.

    Parameters
    ----------
    registry
        Where tool names are looked up, when each call arrives.
    send_event
        Sends a client event on the data channel (the widget's ``rt:send``).
    record
        Stores a ``widget.tool`` record (an event dict) in the log.
    on_status
        Optional: a one-line status for the panel ("running get_weather…").
    loop
        The event loop for ``async def`` tools. By default a private loop on a daemon thread, so
        async tools keep running while a cell runs (the kernel's own loop does not: a running cell,
        including one waiting in ``w.wait_for``, blocks it) and a coroutine that blocks by mistake
        cannot freeze the kernel. Pass the kernel's loop to share objects bound to it (a client
        created with top-level ``await``), at the cost of both.
    max_event_bytes
        Budget for one output event; longer outputs are truncated with a marker.
    """

    def __init__(
        self,
        registry: ToolRegistry,
        *,
        send_event: Callable[[dict[str, Any]], None],
        record: Callable[[dict[str, Any]], None],
        on_status: Callable[[str], None] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
        max_record_result_bytes: int = MAX_RECORD_RESULT_BYTES,
    ) -> None:
        self.registry = registry
        self._send_event = send_event
        self._record = record
        self._on_status = on_status
        self._loop = loop
        self._own_loop: _LoopThread | None = None
        self.max_event_bytes = max_event_bytes
        self.max_record_result_bytes = max_record_result_bytes

        # The bookkeeping's lock, never held while calling out. Callbacks are queued under it, in
        # order, and delivered by one thread at a time (see _deliver).
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._outbox: deque[tuple[Callable[[Any], None], Any]] = deque()
        self._delivering = threading.Lock()
        self._generation = 0
        self._closed = False
        self._in_flight: dict[str, _Call] = {}
        self._responses: dict[str | None, _ResponseCalls] = {}
        self._active_responses: set[str] = set()
        self._seen_call_ids: OrderedDict[str, None] = OrderedDict()

    # -- input -------------------------------------------------------------------------------------
    def handle_event(self, event: Mapping[str, Any]) -> None:
        """Look at one server event; returns at once. Feed it every server event, in order: it
        needs ``response.created`` and ``response.done`` as well as the function calls."""
        kind = event.get("type")
        if kind == CALL_EVENT:
            self._start(
                name=str(event.get("name", "")),
                call_id=str(event.get("call_id", "")),
                arguments=event.get("arguments", ""),
                item_id=event.get("item_id"),
                response_id=event.get("response_id"),
            )
        elif kind == "response.created":
            response_id = _response_id(event)
            if response_id is not None:
                with self._lock:
                    self._active_responses.add(response_id)
        elif kind == "response.done":
            self._response_done(event)
            self._deliver()

    def reset(self) -> None:
        """Forget the current call's responses (call this when a call ends or a new one starts).

        Tools still running finish and are recorded, but their outputs are not sent: they belong
        to a conversation that is gone.
        """
        with self._lock:
            self._generation += 1
            self._responses.clear()
            self._active_responses.clear()

    def close(self) -> None:
        """Stop taking calls and stop the private event loop (cancelling its tasks)."""
        with self._lock:
            self._closed = True
            self.reset()
            own_loop, self._own_loop = self._own_loop, None
        if own_loop is not None:
            own_loop.stop()

    # -- state, mostly for tests and for the widget's repr -----------------------------------------
    @property
    def in_flight(self) -> list[str]:
        """Names of the tools running now."""
        with self._lock:
            return [c.name for c in self._in_flight.values()]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no call is in flight and every callback has been delivered. False on
        timeout.

        Not for a notebook cell waiting on a call the comm handler has not seen yet: that needs
        the kernel to process messages (see the widget's ``wait_for``).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            idle = self._idle.wait_for(lambda: not self._in_flight and not self._outbox, timeout)
        if not idle:
            return False
        # A delivery may still be running the last callback it took from the outbox.
        remaining = -1.0 if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not self._delivering.acquire(timeout=remaining):
            return False
        self._delivering.release()
        return True

    # -- a call's life -----------------------------------------------------------------------------
    def _start(
        self,
        *,
        name: str,
        call_id: str,
        arguments: Any,
        item_id: Any,
        response_id: Any,
    ) -> None:
        with self._lock:
            if self._closed or not call_id or call_id in self._seen_call_ids:
                return  # a repeated event must not run a tool twice
            self._seen_call_ids[call_id] = None
            if len(self._seen_call_ids) > _REMEMBERED_CALL_IDS:
                self._seen_call_ids.popitem(last=False)
            if self.registry.is_external(name):
                return  # a raw function config: the user's own code answers it
            response_id = response_id if isinstance(response_id, str) else None
            calls = self._responses.get(response_id)
            if calls is None:
                # Without a response id there is no response.done to wait for.
                calls = self._responses[response_id] = _ResponseCalls(
                    done=response_id is None, status="completed" if response_id is None else None
                )
            calls.pending.add(call_id)
            call = _Call(
                tool=self.registry.get(name),
                name=name,
                call_id=call_id,
                arguments_text=arguments if isinstance(arguments, str) else json.dumps(arguments),
                item_id=item_id if isinstance(item_id, str) else None,
                response_id=response_id,
                generation=self._generation,
            )
            self._in_flight[call_id] = call
        threading.Thread(
            target=self._run, args=(call,), name=f"rt-tool-{name}"[:60], daemon=True
        ).start()

    def _run(self, call: _Call) -> None:
        try:
            with self._lock:
                self._status(f"running {call.name}…")
            self._deliver()
            outcome = self._execute(call)
        except BaseException as exc:  # a bug of ours: still answer the model
            log.exception("tool dispatch failed")
            outcome = _Outcome("error", error=f"internal error in rt_widget: {exc!r}")
        self._finish(call, outcome)

    def _execute(self, call: _Call) -> _Outcome:
        text = call.arguments_text
        arguments: Any = None
        bad_json: str | None = None
        try:
            arguments = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as exc:
            bad_json = f"arguments are not valid JSON: {exc}"
        tool = call.tool
        if tool is None:
            known = ", ".join(t.name for t in self.registry.tools) or "none"
            error = f"no tool named {call.name!r} (tools: {known})"
            return _Outcome("error", arguments=arguments, error=error)
        if bad_json is not None:
            return _Outcome("error", error=bad_json)
        assert tool.signature is not None  # Tool.__post_init__ sets it
        try:
            args, kwargs = tool.signature.bind(arguments)
        except ArgumentError as exc:
            return _Outcome("error", arguments=arguments, error=str(exc))

        future = self._submit(tool, args, kwargs)
        remaining = tool.timeout_s - (time.monotonic() - call.started)
        concurrent.futures.wait([future], timeout=max(remaining, 0.0))
        if not future.done():
            future.cancel()  # cancels an async tool's task; a thread cannot be stopped
            error = f"{tool.name} did not finish within its timeout of {tool.timeout_s:g} s"
            return _Outcome("timeout", arguments=arguments, error=error)
        try:
            return _Outcome("ok", arguments=arguments, result=future.result(timeout=0))
        except concurrent.futures.CancelledError:
            return _Outcome("error", arguments=arguments, error=f"{tool.name} was cancelled")
        except BaseException as exc:  # whatever the tool raised, SystemExit included
            return self._raised(arguments, exc)

    @staticmethod
    def _raised(arguments: Any, exc: BaseException) -> _Outcome:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return _Outcome(
            "error",
            arguments=arguments,
            error=_clip(text, _MAX_ERROR_CHARS),
            traceback=_clip(tb, _MAX_TRACEBACK_CHARS),
        )

    def _submit(
        self, tool: Tool, args: list[Any], kwargs: dict[str, Any]
    ) -> concurrent.futures.Future[Any]:
        if tool.is_async:

            async def invoke() -> Any:
                return await tool.fn(*args, **kwargs)

            return asyncio.run_coroutine_threadsafe(invoke(), self._async_loop())

        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = tool.fn(*args, **kwargs)
                if inspect.isawaitable(result):  # a plain function that returned a coroutine
                    result = asyncio.run_coroutine_threadsafe(
                        _await(result), self._async_loop()
                    ).result()
                future.set_result(result)
            except BaseException as exc:
                future.set_exception(exc)

        # A thread per call rather than a pool: a tool stuck past its timeout cannot be stopped,
        # and in a pool it would hold a worker that the next calls then queue behind.
        threading.Thread(target=work, name=f"rt-tool-{tool.name}-fn"[:60], daemon=True).start()
        return future

    def _async_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is not None:
            return self._loop
        with self._lock:
            if self._closed:
                raise RuntimeError("the tool dispatcher is closed")
            if self._own_loop is None:
                self._own_loop = _LoopThread()
            return self._own_loop.loop

    def _finish(self, call: _Call, outcome: _Outcome) -> None:
        duration_ms = (time.monotonic() - call.started) * 1000.0
        if outcome.status == "ok":
            try:
                encoded = encode_result(outcome.result)
            except Exception as exc:  # even str(result) failed
                error = f"the result of {call.name} could not be turned into text: {exc!r}"
                outcome = _Outcome("error", arguments=outcome.arguments, error=error)
        if outcome.status == "ok":
            output, jsonable, note = encoded.output, encoded.jsonable, encoded.note
        else:
            output, jsonable, note = (
                json.dumps({"error": outcome.error}, ensure_ascii=False),
                None,
                None,
            )

        item_event = self._output_event(call.call_id, output)
        output_truncated = item_event["item"]["output"] != output
        record = {
            "type": "widget.tool",
            "name": call.name,
            "call_id": call.call_id,
            "item_id": call.item_id,
            "response_id": call.response_id,
            "arguments": outcome.arguments,
            "status": outcome.status,
            "result": self._record_result(jsonable, output) if outcome.status == "ok" else None,
            "error": outcome.error,
            "traceback": outcome.traceback,
            "note": note,
            "truncated": output_truncated,
            "duration_ms": round(duration_ms, 3),
            "started_ms": call.started_ms,
        }
        if outcome.arguments is None and outcome.status != "ok":
            record["arguments_raw"] = _clip(call.arguments_text, _MAX_ERROR_CHARS)

        with self._lock:
            self._in_flight.pop(call.call_id, None)
            current = call.generation == self._generation and not self._closed
            if current:
                self._post(self._send_event, item_event)
            self._post(self._record, record)
            self._status(_status_line(call.name, outcome, duration_ms, current))
            if current:
                calls = self._responses.get(call.response_id)
                if calls is not None:
                    calls.pending.discard(call.call_id)
                self._release_responses()
        self._deliver()

    def _response_done(self, event: Mapping[str, Any]) -> None:
        response = event.get("response")
        response = response if isinstance(response, Mapping) else {}
        response_id = response.get("id")
        if not isinstance(response_id, str):
            return
        # A call whose arguments.done never reached us (a widget attached late) is in the
        # response's output: start it now, so it is answered all the same.
        output = response.get("output")
        for item in output if isinstance(output, list) else ():
            if (
                isinstance(item, Mapping)
                and item.get("type") == "function_call"
                and item.get("status", "completed") == "completed"
            ):
                self._start(
                    name=str(item.get("name", "")),
                    call_id=str(item.get("call_id", "")),
                    arguments=item.get("arguments", ""),
                    item_id=item.get("id"),
                    response_id=response_id,
                )
        with self._lock:
            self._active_responses.discard(response_id)
            calls = self._responses.get(response_id)
            if calls is not None:
                calls.done = True
                calls.status = (
                    response.get("status") if isinstance(response.get("status"), str) else None
                )
            self._release_responses()

    def _release_responses(self) -> None:
        """Send one ``response.create`` for every finished response whose calls are all answered,
        once no other response is running. Called with the lock held."""
        if self._active_responses:
            return  # a response.create now would be refused; the next response.done retries
        ready = [rid for rid, calls in self._responses.items() if calls.done and not calls.pending]
        if not ready:
            return
        wanted = False
        for rid in ready:
            calls = self._responses.pop(rid)
            # "completed", or unknown (response.done without a status): ask for the follow-up.
            wanted = wanted or calls.status in ("completed", None)
        if wanted:
            self._post(self._send_event, {"type": "response.create"})

    # -- helpers -----------------------------------------------------------------------------------
    def _output_event(self, call_id: str, output: str) -> dict[str, Any]:
        def event_for(text: str) -> dict[str, Any]:
            return {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": call_id, "output": text},
            }

        text, _ = truncated(
            output,
            self.max_event_bytes,
            fits=lambda candidate: event_size(event_for(candidate)) <= self.max_event_bytes,
        )
        return event_for(text)

    def _record_result(self, jsonable: Any, output: str) -> Any:
        """The result as JSON types, or, when that is too big for the log, the output cut short."""
        size = len(output.encode("utf-8"))  # the output is the result's JSON (or the str itself)
        if size <= self.max_record_result_bytes:
            return jsonable
        return truncated(output, self.max_record_result_bytes)[0]

    def _status(self, text: str) -> None:
        """Queue a status line. Called with the lock held."""
        if self._on_status is not None:
            self._post(self._on_status, text)

    def _post(self, callback: Callable[[Any], None], arg: Any) -> None:
        """Queue a callback. Called with the lock held, so the queue's order is the decisions'."""
        self._outbox.append((callback, arg))

    def _deliver(self) -> None:
        """Call the queued callbacks, in order, unless another thread is already doing so.

        Never called with the lock held and never waits: a thread that finds the delivery lock
        taken returns, and the holder, which checks the queue again after releasing, delivers
        what was added meanwhile.
        """
        while self._outbox:
            if not self._delivering.acquire(blocking=False):
                return
            try:
                while True:
                    try:
                        callback, arg = self._outbox.popleft()
                    except IndexError:
                        break
                    try:
                        callback(arg)
                    except Exception:  # a closed comm must not stop the other calls' delivery
                        log.exception("rt_widget tools: callback %r failed", callback)
            finally:
                self._delivering.release()
            with self._idle:
                self._idle.notify_all()


class _LoopThread:
    """An asyncio loop running on a daemon thread, for ``async def`` tools."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="rt-tools-loop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _response_id(event: Mapping[str, Any]) -> str | None:
    response = event.get("response")
    rid = response.get("id") if isinstance(response, Mapping) else None
    return rid if isinstance(rid, str) else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _status_line(name: str, outcome: _Outcome, duration_ms: float, current: bool) -> str:
    took = f"{duration_ms / 1000:.1f} s" if duration_ms >= 1000 else f"{duration_ms:.0f} ms"
    if outcome.status == "ok":
        line = f"{name} done in {took}"
    elif outcome.status == "timeout":
        line = f"{name} timed out after {took}"
    else:
        line = f"{name} failed: {_clip(outcome.error or '', 200)}"
    return line if current else f"{line} (after the call ended; not sent)"
