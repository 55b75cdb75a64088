"""``RealtimeWidget``: the kernel side of a browser WebRTC call to the Realtime API.

The call itself lives in the browser (the front end's model owns the peer connection and the
microphone). The kernel mints client secrets or relays offers with the API key, which never
leaves it, and keeps the event log: the front end streams every data-channel event and every
widget record here in acknowledged batches (``rt:events`` / ``rt:ack``, see
:mod:`rt_widget.messages`).

A busy kernel delays events but never loses them: while a cell runs, Jupyter processes no comm
messages, so records wait in the browser and arrive, in order, once the cell finishes. For the
same reason a cell must not wait in a loop for events (``time.sleep`` would wait forever); react to
them with ``w.on(...)``, or block with :meth:`RealtimeWidget.wait_for`, which processes the
widget's messages while it waits (see :mod:`rt_widget.waiting`).

Threads: records reach the log from the comm handler (the kernel's main shell: the widget pins
its messages there, see ``_route_comm_to_main_shell``) and from the tool dispatcher's worker
threads (``widget.tool``). One lock orders them: each record is appended and published (handlers,
waiters) under it, so handlers see records one at a time, in log order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import difflib
import io
import json
import logging
import os
import pathlib
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, Union, overload

import anywidget
import traitlets
from anywidget.experimental import command

from . import messages as m
from . import waiting
from .eventlog import EventLog, Record
from .rest import (
    OPENAI_BASE_URL,
    RealtimeError,
    RealtimeServiceError,
    RestClient,
    display_url,
    redact,
)
from .session import (
    DEFAULT_MODEL,
    DEFAULT_VOICE,
    Session,
    build_session,
    check_session_fields,
    deep_merge,
)
from .tools import Tool, ToolDispatcher, ToolRegistry

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from .emulator import Emulator

__all__ = ["CallStateError", "FrontendNotReadyError", "RealtimeWidget"]

_log = logging.getLogger("rt_widget")

Signaling = Literal["client_secret", "relay"]
SIGNALING: Final = ("client_secret", "relay")

Event = dict[str, Any]
Handler = TypeVar("Handler", bound=Callable[[Event], object])
F = TypeVar("F", bound=Callable[..., Any])
# What a tool can be: a function, a Tool, or a raw tool config such as {"type": "mcp", ...}.
ToolLike = Callable[..., Any] | Tool | Mapping[str, Any]
# Union, not |: "PILImage" is a forward reference (PIL is optional).
ImageLike = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "PILImage"]

# Sent as the bearer token to backends that need no key (the emulator, a key-adding proxy).
_NO_KEY: Final = "rt-widget-no-key"
# The peer closes the data channel on messages over ~256 KiB (../shared/FACTS.md).
_MAX_EVENT_BYTES: Final = 256 * 1024
# How long a connect() request counts as in progress before the front end has reacted to it.
_CONNECT_GRACE_S: Final = 30.0
_LIVE_STATES: Final = ("connecting", "connected")
_ENDED_STATES: Final = ("closed", "failed")
# The front end adds an event_id (~40 bytes of JSON) to every client event it sends.
_EVENT_ID_HEADROOM: Final = 64
# How long a wait inside a cell polls the kernel's queue before looking at its waiter again.
_PUMP_SLICE_S: Final = 0.02

_STATIC = pathlib.Path(__file__).parent / "static"


def _built(name: str) -> pathlib.Path:
    path = _STATIC / name
    if not path.is_file():
        raise ImportError(
            f"rt_widget's front end is not built ({path} is missing). In a source checkout run "
            "`npm install && npm run build` in js/, or reinstall the package "
            "(`pip install -e .` builds it)."
        )
    return path


class CallStateError(RealtimeError, RuntimeError):
    """The call is not in a state that allows this (no call to send on, already connecting...)."""


class FrontendNotReadyError(RealtimeError, RuntimeError):
    """No front end has shown the widget yet, so nothing can place the call."""


@dataclasses.dataclass
class _PipeSequence:
    """Where one front-end event pipe is: the batch to log next, and batches that came early."""

    expected: int = 0
    held: dict[int, dict[str, Any]] = dataclasses.field(default_factory=dict)


class _EveryAssignment(traitlets.Any):
    """A trait whose observers fire on every assignment, even of a value equal to the last.

    Plain traits compare old and new with ``==`` and stay silent when equal: two identical events
    in a row would notify once, and the deep comparison of two event dicts costs time on the
    event path. Values are not validated.
    """

    def set(self, obj: traitlets.HasTraits, value: Any) -> None:
        name = self.name
        assert name is not None
        old = obj._trait_values.get(name, self.default_value)
        obj._trait_values[name] = value
        obj._notify_trait(name, old, value)


class RealtimeWidget(anywidget.AnyWidget):
    """A voice call to OpenAI's Realtime API (or the built-in emulator) from a notebook cell.

    Display it (``w`` as the last line of a cell) for a panel with Connect, the microphone, the
    transcript and an event log; or drive it from Python with :meth:`connect`, :meth:`send_text`,
    :meth:`send`... Every event of the call lands in :attr:`log`, in order.

    Parameters
    ----------
    model, voice, instructions:
        Shorthands for the session's ``model``, ``audio.output.voice`` and ``instructions``.
    session:
        A GA session dict (``{"audio": {"input": {"transcription": {...}}}, "tools": [...]}``)
        deep-merged over the shorthands. Its ``tools`` join the widget's tools (see ``tools``).
    tools:
        Python functions the model may call (their JSON schema comes from type hints and the
        docstring; see :meth:`tool`), :class:`~rt_widget.tools.Tool` objects, or raw tool configs
        (``{"type": "mcp", ...}``, ``{"type": "function", ...}``), which go to the session
        unchanged; the kernel answers calls of the Python functions only.
    api_key:
        The OpenAI API key; defaults to ``$OPENAI_API_KEY``. It stays in the kernel: neither it
        nor a client secret is a trait, a log record, part of a repr or of an error message.
    base_url:
        Where the REST calls go (default ``https://api.openai.com/v1``): the emulator, a proxy,
        an OpenAI-compatible host. With neither a key nor ``base_url``, the built-in emulator is
        started in the background (one per kernel) and used.
    signaling:
        ``"client_secret"``: the kernel mints a short-lived secret and the browser posts its
        offer with it. ``"relay"``: the kernel posts the browser's offer itself with the API
        key, so no secret reaches the browser at all.
    muted, layout:
        Passed to the widget (initial mute state; ipywidgets layout). Any other keyword raises
        ``TypeError`` naming it.

    Events reach the kernel in batches between cells: a running cell delays them (never loses
    them), because Jupyter processes no widget messages while a cell runs. Likewise the call only
    starts once the cell that called :meth:`connect` has finished, and a tool call waits for the
    running cell (the panel says "waiting for the kernel"). :meth:`wait_for` is the exception: it
    processes the widget's messages while it blocks.
    """

    _esm = _built("widget.js")
    _css = _built("widget.css")

    state = traitlets.Unicode(
        "idle",
        help="idle | connecting | connected (the event channel is open and the microphone is in "
        "the call) | closed | failed",
    ).tag(sync=True)
    # Not synced: set from the widget.phase records as they are logged (the front end keeps its
    # own for the panel), so a call's setup costs no trait message per step.
    phase = traitlets.Unicode(
        "", help="The current step of the call: the latest widget.phase record (messages.PHASES)."
    )
    error = traitlets.Unicode("", help="The last user-facing error message, '' when none.").tag(
        sync=True
    )
    muted = traitlets.Bool(False, help="Microphone muted (two-way).").tag(sync=True)
    signaling = traitlets.Enum(SIGNALING, default_value="client_secret").tag(sync=True)
    backend = traitlets.Unicode("", read_only=True, help="openai | emulator | custom").tag(
        sync=True
    )
    backend_url = traitlets.Unicode("", read_only=True, help="Where REST calls go.").tag(sync=True)
    tool_status = traitlets.Unicode(
        "", read_only=True, help="The latest tool call's status line, for the panel."
    ).tag(sync=True)
    last_event = _EveryAssignment(
        None,
        allow_none=True,
        help="The latest event (kernel only): observers fire once per record, in order.",
    )

    def __init__(
        self,
        *,
        model: str = DEFAULT_MODEL,
        voice: str | None = DEFAULT_VOICE,
        instructions: str | None = None,
        session: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        base_url: str | None = None,
        signaling: Signaling = "client_secret",
        tools: Iterable[ToolLike] | None = None,
        **kwargs: Any,
    ) -> None:
        # Everything is checked before the widget's comm opens, so a mistake leaves nothing behind.
        unknown = sorted(set(kwargs) - _WIDGET_KWARGS)
        if unknown:
            raise TypeError(_unknown_kwargs_message(unknown))
        if signaling not in SIGNALING:
            raise ValueError(f"signaling must be one of {SIGNALING}, not {signaling!r}")
        session_config = build_session(
            model=model, voice=voice, instructions=instructions, session=session
        )
        # The registry is the one list of the session's tools: session["tools"] is made from it.
        registry = ToolRegistry([*_session_tools(session_config), *_tool_list(tools)])
        backend, url, key, emulator = _resolve_backend(api_key, base_url)

        # One lock orders every record: the comm handler's and the tool threads' (see the module
        # docstring). _event_thread is the thread publishing under it, so that a handler calling
        # wait_for() is caught instead of deadlocking.
        self._event_lock = threading.RLock()
        self._event_thread: int | None = None
        self._waiters: tuple[_Waiter, ...] = ()
        self._session: Session = session_config
        self._tools = registry
        self._dispatcher = ToolDispatcher(
            registry,
            send_event=self._send_tool_event,
            record=self._record_tool_call,
            on_status=self._set_tool_status,
        )
        # Server events go to the dispatcher once there is a Python tool, and until the call
        # ends: a call of a tool removed mid-response still needs its response.done.
        self._feed_tools = bool(registry.tools)
        self._tools_pending = False  # changed while a call was being set up: update on connect
        self._status_lock = threading.Lock()
        self._apply_tools()
        self._api_key = key  # private, not a trait: never synced, saved or shown
        self._rest = RestClient(url, key)
        self._emulator = emulator
        self._log_records = EventLog()
        self._handlers: dict[str, tuple[Callable[[Event], object], ...]] = {}
        self._warned_handlers: set[str] = set()
        self._reporting_error = False
        self._frontend_ready = False
        # Per front-end event pipe (one per page): the next batch to log, and batches ahead of it.
        self._pipes: dict[str, _PipeSequence] = {}
        self._connect_requested_at: float | None = None
        self._call_id: str | None = None

        # Set before the comm opens so the front end's first state already has them.
        self.set_trait("backend", backend)
        self.set_trait("backend_url", display_url(url))
        super().__init__(signaling=signaling, **kwargs)
        registry.on_change = self._tools_changed

    # -- reading -----------------------------------------------------------------------------------
    @property
    def log(self) -> EventLog:
        """Every record of every call of this widget, in arrival order (see :class:`EventLog`)."""
        return self._log_records

    @property
    def sdp_offer(self) -> str | None:
        """The latest call's SDP offer, or ``None`` before the first call."""
        return self._latest_sdp("offer")

    @property
    def sdp_answer(self) -> str | None:
        """The latest call's SDP answer, or ``None`` before the first answer."""
        return self._latest_sdp("answer")

    @property
    def session_config(self) -> Session:
        """A copy of the session configuration the next call will use."""
        return deep_merge({}, self._session)

    @property
    def emulator(self) -> Emulator | None:
        """The built-in emulator this widget talks to, or ``None`` for any other backend."""
        return self._emulator

    @property
    def tools(self) -> Mapping[str, Tool | dict[str, Any]]:
        """The session's tools by name, in order: :class:`~rt_widget.tools.Tool` for Python
        functions, a copy of the config for raw ones (keyed by ``server_label`` or ``name``).
        Read-only: change them with :meth:`tool` and :meth:`remove_tool`."""
        return MappingProxyType(
            {
                key: entry if isinstance(entry, Tool) else deep_merge({}, entry)
                for key, entry in self._tools.items()
            }
        )

    def __repr__(self) -> str:
        # getattr: a repr must work on an instance whose __init__ raised part way.
        session: Session = getattr(self, "_session", {})
        records = len(getattr(self, "_log_records", ()))
        tools = getattr(self, "_tools", None)
        return (
            f"RealtimeWidget(model={session.get('model')!r}, backend={self.backend!r}, "
            f"backend_url={self.backend_url!r}, signaling={self.signaling!r}, "
            f"state={self.state!r}, tools={tools.names if tools else []}, log={records} records)"
        )

    # -- handlers ----------------------------------------------------------------------------------
    @overload
    def on(self, event_type: str) -> Callable[[Handler], Handler]: ...
    @overload
    def on(self, event_type: str, handler: Handler) -> Handler: ...
    def on(
        self, event_type: str, handler: Handler | None = None
    ) -> Handler | Callable[[Handler], Handler]:
        """Call ``handler(event)`` for every event of type ``event_type`` (``"*"`` for all).

        Works as a decorator too (``@w.on("response.done")``); returns the handler. Handlers run
        in the kernel, in event order, once per record; while one runs, ``w.log[-1]`` is its
        record. A handler that raises does not stop the event path: the error becomes a
        ``widget.error`` record and a warning (once per handler).
        """
        if not isinstance(event_type, str) or not event_type:
            raise TypeError(f"event_type must be a non-empty string, not {event_type!r}")
        if handler is None:

            def register(fn: Handler) -> Handler:
                return self.on(event_type, fn)

            return register
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type(handler).__name__}")
        # Tuples, replaced on change: dispatch iterates them without copying, and a handler may
        # call on()/off() while it runs.
        self._handlers[event_type] = (*self._handlers.get(event_type, ()), handler)
        return handler

    def off(self, event_type: str, handler: Callable[[Event], object] | None = None) -> None:
        """Remove ``handler`` from ``event_type`` (all of that type's handlers if ``None``)."""
        current = self._handlers.get(event_type, ())
        if handler is None:
            self._handlers.pop(event_type, None)
            return
        if handler not in current:
            raise ValueError(f"{_name_of(handler)} is not a handler of {event_type!r}")
        index = current.index(handler)
        remaining = current[:index] + current[index + 1 :]
        if remaining:
            self._handlers[event_type] = remaining
        else:
            del self._handlers[event_type]

    # -- tools ---------------------------------------------------------------------------------------
    @overload
    def tool(
        self,
        fn: F,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> F: ...
    @overload
    def tool(self, fn: Mapping[str, Any], /) -> dict[str, Any]: ...
    @overload
    def tool(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[F], F]: ...
    def tool(
        self,
        fn: F | Mapping[str, Any] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> F | dict[str, Any] | Callable[[F], F]:
        """Offer a Python function to the model: ``@w.tool``, ``@w.tool(timeout=5)``, or
        ``w.tool(fn, name=..., description=..., timeout=...)``. Returns the function unchanged.

        The JSON schema comes from the type hints (str, int, float, bool, Literal, Enum,
        Optional, list, dict, TypedDict, dataclasses, pydantic models) and the docstring (its
        summary describes the tool, its parameter section each argument). ``async def`` works
        too. When the model calls it, the kernel runs it on a worker thread (at most ``timeout``
        seconds, default 30), sends the result (JSON, or a ``str`` as is) and asks for a
        response; an exception, bad arguments or a timeout go back to the model as
        ``{"error": ...}``. Each call is a ``widget.tool`` record in :attr:`log`.

        A raw config (``w.tool({"type": "mcp", ...})``) is added as is. A tool of the same name
        is replaced. During a call the session is updated at once; otherwise the change applies
        to the next call.
        """
        if isinstance(fn, Mapping):
            if name is not None or description is not None or timeout is not None:
                raise TypeError("name=, description= and timeout= apply to Python functions only")
            entry = self._tools.add(fn)
            assert isinstance(entry, dict)
            return deep_merge({}, entry)
        if fn is None:
            return self._tools.tool(name=name, description=description, timeout=timeout)
        self._tools.add(fn, name=name, description=description, timeout=timeout)
        return fn

    def remove_tool(self, tool: str | Callable[..., Any] | Tool) -> None:
        """Remove a tool by name (a raw config by its ``server_label`` or ``name``), by function
        or by :class:`~rt_widget.tools.Tool`. ``KeyError`` if there is no such tool."""
        self._tools.remove(tool)

    # -- driving the call ----------------------------------------------------------------------------
    def connect(self) -> None:
        """Start a call, as if Connect were clicked.

        Returns at once; the call proceeds once this cell has finished (the front end asks the
        kernel for a secret, which a running cell holds up). Watch :attr:`state`, or handle
        ``session.created`` with :meth:`on`.
        """
        if not self._frontend_ready:
            raise FrontendNotReadyError(
                "No front end is showing this widget yet, so nothing can place the call: display "
                "the widget first (put `w` as the last line of a cell), then call w.connect() in a "
                "later cell."
            )
        if self._has_call():
            raise CallStateError(
                f"A call is already {self._call_state()}; call w.disconnect() first."
            )
        self._connect_requested_at = time.monotonic()
        self._send_msg({"kind": m.CONNECT})

    def disconnect(self) -> None:
        """Hang up the current call. The log keeps everything; :meth:`connect` starts afresh."""
        if not self._has_call():
            raise CallStateError(f"There is no call to disconnect (state is {self.state!r}).")
        self._connect_requested_at = None
        self._send_msg({"kind": m.DISCONNECT})

    def send(self, event: Event, buffers: list[bytes] | None = None) -> None:
        """Send a client event (``{"type": ..., ...}``) on the call's data channel.

        It is logged (source ``client``) when the browser actually sends it. Raises
        ``CallStateError`` unless a call is connected.
        """
        if isinstance(event, dict) and "type" not in event and isinstance(event.get("kind"), str):
            # ipywidgets' send(content, buffers) has the same name: anywidget answers commands
            # through it. Comm messages carry "kind" and no "type"; client events carry "type".
            self._send_msg(event, buffers)
            return
        self._send_client_events([event])

    def send_text(self, text: str, respond: bool = True) -> None:
        """Add a user text message to the conversation and, if ``respond``, ask for a response."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a string, not {type(text).__name__}")
        events: list[Event] = [
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        ]
        if respond:
            events.append({"type": "response.create"})
        self._send_client_events(events)

    def send_image(
        self,
        image: ImageLike,
        prompt: str | None = None,
        respond: bool = True,
        *,
        detail: Literal["auto", "low", "high"] | None = None,
    ) -> None:
        """Add a user message with an image (and ``prompt`` as text, if given) to the
        conversation and, if ``respond``, ask for a response.

        ``image`` is a file path, the bytes of a PNG, JPEG, WebP or GIF file, or a PIL image
        (sent as PNG). It travels inline, base64-encoded, in one data-channel message, which the
        channel refuses above 256 KiB: a larger image raises ``ValueError`` saying by how much,
        before anything is sent; downscale or compress it first. ``detail`` is the API's
        ``input_image.detail`` (``"auto"``, ``"low"``, ``"high"``).
        """
        if prompt is not None and not isinstance(prompt, str):
            raise TypeError(f"prompt must be a string or None, not {type(prompt).__name__}")
        if detail not in (None, "auto", "low", "high"):
            raise ValueError(f"detail must be 'auto', 'low', 'high' or None, not {detail!r}")
        budget = _MAX_EVENT_BYTES - 1 - _EVENT_ID_HEADROOM
        event = _image_event(image, prompt, detail, budget)
        events: list[Event] = [event]
        if respond:
            events.append({"type": "response.create"})
        self._send_client_events(events)

    def update_session(self, **fields: Any) -> None:
        """Send ``session.update`` with ``{"type": "realtime", **fields}`` (GA field names, e.g.
        ``instructions=...``, ``audio={"output": {"voice": "cedar"}}``) and keep the change for
        the next call too.

        ``tools=[...]`` replaces the widget's tools (Python functions, Tool objects and raw
        configs, as for the constructor), so :attr:`tools` and the session stay one list.
        """
        if not fields:
            raise TypeError("update_session() needs at least one session field")
        registry: ToolRegistry | None = None
        if "tools" in fields:
            registry = ToolRegistry(_tool_list(fields.pop("tools")))
        check_session_fields(fields, what="update_session()")
        update = {"type": "realtime", **fields}
        if registry is not None:
            update["tools"] = registry.session_tools()
        self._send_client_events([{"type": "session.update", "session": update}])
        if registry is not None:
            self._replace_tools(registry)  # puts the tools in the session config
        self._session = deep_merge(
            self._session, {key: value for key, value in update.items() if key != "tools"}
        )
        self._session_changed()

    def interrupt(self) -> None:
        """Stop the model mid-answer: cancel the response and drop the audio not yet played."""
        self._send_client_events(
            [{"type": "response.cancel"}, {"type": "output_audio_buffer.clear"}]
        )

    # -- waiting -------------------------------------------------------------------------------------
    def wait_for(
        self,
        event_type: str,
        timeout: float | None = 30,
        predicate: Callable[[Event], object] | None = None,
    ) -> Event:
        """Block until an event of ``event_type`` (``"*"``: any) arrives, and return it.

        Only events arriving after the call count; ``predicate(event)``, if given, must also be
        true (it runs on the event path: keep it quick). Raises ``TimeoutError`` after
        ``timeout`` seconds (``None``: no limit; the kernel's stop button interrupts), and
        ``CallStateError`` at once if the call ends, or the widget is closed, first.

        Works inside a running cell, which a plain loop cannot (Jupyter handles no widget
        message while a cell runs, ../shared/FACTS.md): on ipykernel 7 the wait handles the
        kernel's queued widget messages itself and holds the rest (the next cell...) until the
        cell ends. So one cell can connect, send and wait::

            w.connect()
            w.wait_for("session.created")
            w.send_text("What is the weather in Paris?")
            done = w.wait_for("response.done")

        A wait stops handling messages once it has its event, so the next wait sees what comes
        after; events that came in the same batch as its event are in :attr:`log` already.

        The same works in an async cell, and ``await w.wait_for_async(...)`` too. On a kernel
        where this is impossible (ipykernel 6, other kernels) it raises
        :class:`~rt_widget.waiting.WaitUnsupportedError` at once, saying what to do instead.
        From another thread (a tool, say) it is a plain blocking wait. Not from an event
        handler (``w.on``): the event it waits for would queue behind the handler.
        """
        self._check_wait(event_type, timeout, predicate)
        pump = waiting.shell_pump(self._how_else(event_type))  # raises where it would deadlock
        return self._wait_blocking(event_type, timeout, predicate, pump)

    async def wait_for_async(
        self,
        event_type: str,
        timeout: float | None = 30,
        predicate: Callable[[Event], object] | None = None,
    ) -> Event:
        """:meth:`wait_for` for async code: ``done = await w.wait_for_async("response.done")``.

        Off the kernel's shell threads (a plain asyncio program, an ``async def`` tool on the
        tools' loop) it awaits without blocking. On a shell thread, in a notebook cell, it
        handles the widget's messages and blocks the loop while it does, exactly as
        :meth:`wait_for`: letting ipykernel handle them during an ``await`` would freeze the
        widget's trait sync (see :mod:`rt_widget.waiting`).
        """
        self._check_wait(event_type, timeout, predicate)
        pump = waiting.shell_pump(self._how_else(event_type))
        if pump is not None:
            return self._wait_blocking(event_type, timeout, predicate, pump)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def wake() -> None:  # on whichever thread published the event
            loop.call_soon_threadsafe(_resolve, future)

        waiter = self._add_waiter(event_type, predicate, wake)
        try:
            await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(self._timeout_message(event_type, timeout, waiter)) from None
        finally:
            self._remove_waiter(waiter)
        return waiter.outcome()

    def _wait_blocking(
        self,
        event_type: str,
        timeout: float | None,
        predicate: Callable[[Event], object] | None,
        pump: waiting.ShellPump | None,
    ) -> Event:
        waiter = self._add_waiter(event_type, predicate, None)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            with pump if pump is not None else contextlib.nullcontext():
                while not waiter.done.is_set():
                    left = _PUMP_SLICE_S if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(self._timeout_message(event_type, timeout, waiter))
                    if pump is not None:
                        pump.pump(min(left, _PUMP_SLICE_S), waiter.done.is_set)
                    else:
                        waiter.done.wait(left)
        finally:
            self._remove_waiter(waiter)
        return waiter.outcome()

    @staticmethod
    def _how_else(event_type: str) -> str:
        return f"React with `w.on({event_type!r}, handler)` instead, and continue in a later cell."

    def _check_wait(self, event_type: Any, timeout: Any, predicate: Any) -> None:
        if not isinstance(event_type, str) or not event_type:
            raise TypeError(f"event_type must be a non-empty string, not {event_type!r}")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):
            raise ValueError(
                f"timeout must be a positive number of seconds or None, not {timeout!r}"
            )
        if predicate is not None and not callable(predicate):
            raise TypeError(f"predicate must be callable, not {type(predicate).__name__}")
        if self.comm is None:
            raise CallStateError("This widget is closed; no event can arrive.")
        if self._event_thread == threading.get_ident():
            raise RuntimeError(
                f"wait_for({event_type!r}) was called from an event handler (or a waiter's "
                "predicate): the event it waits for would queue behind the handler itself. "
                "Register another handler with w.on(...) instead."
            )

    def _add_waiter(
        self,
        event_type: str,
        predicate: Callable[[Event], object] | None,
        wake: Callable[[], None] | None,
    ) -> _Waiter:
        waiter = _Waiter(event_type, predicate, wake, len(self._log_records))
        with self._event_lock:  # registered between two records: only later ones are offered
            self._waiters = (*self._waiters, waiter)
        return waiter

    def _remove_waiter(self, waiter: _Waiter) -> None:
        with self._event_lock:
            self._waiters = tuple(w for w in self._waiters if w is not waiter)

    def _timeout_message(self, event_type: str, timeout: float | None, waiter: _Waiter) -> str:
        arrived = len(self._log_records) - waiter.log_length
        message = (
            f"No {event_type!r} event arrived within {timeout:g} s "
            f"({arrived} other record{'s' if arrived != 1 else ''} did; the call is {self.state!r})."
        )
        if self.state != "connected":
            message += (
                " Is a call connected? Connect first (w.connect(), or the panel's Connect), then "
                "send something that makes the event happen."
            )
        return message

    def close(self) -> None:
        """Hang up any call, close the widget's views and release the microphone."""
        # Called again from __del__, possibly on a half-built instance or at interpreter exit.
        rest: RestClient | None = getattr(self, "_rest", None)
        call_id = getattr(self, "_call_id", None)
        if self.comm is not None and rest is not None and call_id and self.state in _LIVE_STATES:
            # The front end releases the mic when its model is destroyed, but it can no longer
            # reach the kernel to hang up; tell the service directly.
            try:
                rest.hangup(call_id)
            except Exception as exc:  # noqa: BLE001 - closing must not fail because the network did
                _log.warning("Hanging up call on close failed: %s", exc)
        super().close()
        if rest is not None:
            rest.close()
        dispatcher: ToolDispatcher | None = getattr(self, "_dispatcher", None)
        if dispatcher is not None:
            dispatcher.close()
        if getattr(self, "_waiters", None):
            with self._event_lock:
                waiters, self._waiters = self._waiters, ()
            for waiter in waiters:
                waiter.fail(
                    CallStateError(f"The widget was closed while waiting for {waiter.what}.")
                )

    # -- commands the front end invokes (anywidget.experimental.invoke) ------------------------------
    # The method names are the command names; they always answer {"ok": ...} and never raise, so
    # the front end always has something to show. From Python, use connect()/disconnect().
    @command
    def mint_client_secret(
        self, msg: Any, buffers: list[bytes]
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Front end command: a client secret for the next call (``client_secret`` signaling).

        With ``{"prefetch": true}`` the front end mints one ahead, when the widget is shown and
        after each call, so that Connect need not wait for the kernel and the service. A prefetch
        is not part of a call: it records nothing, and its failure is left for Connect (which
        mints again) to report.
        """
        prefetch = isinstance(msg, dict) and msg.get("prefetch") is True
        if self.signaling != "client_secret":
            return self._command_failed(
                "secret_refused",
                "This widget uses relay signaling: the kernel posts the offer itself, so no "
                "client secret is handed to the browser.",
                record=not prefetch,
            ), []
        started = time.perf_counter()
        try:
            secret = self._rest.mint_client_secret(self._session)
        except Exception as exc:  # noqa: BLE001 - a command answers, never raises
            return self._command_failed("secret_failed", exc, record=not prefetch), []
        if not prefetch:
            self._emit(
                "widget.phase",
                {
                    "phase": "secret_minted",
                    "duration_ms": _ms_since(started),
                    "expires_at": secret.expires_at,
                },
            )
        return {
            "ok": True,
            "value": secret.value,
            "expires_at": secret.expires_at,
            "call_url": f"{self._rest.base_url}/realtime/calls",
        }, []

    @command
    def relay_offer(self, msg: Any, buffers: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """Front end command: post the browser's SDP offer with the API key, return the answer."""
        sdp = msg.get("sdp") if isinstance(msg, dict) else None
        if not isinstance(sdp, str) or not sdp.lstrip().startswith("v="):
            return self._command_failed(
                "bad_offer", "The front end sent no SDP offer to relay; reload the page."
            ), []
        started = time.perf_counter()
        try:
            answer = self._rest.create_call(sdp, self._session)
        except Exception as exc:  # noqa: BLE001 - a command answers, never raises
            return self._command_failed("relay_failed", exc), []
        if answer.call_id:
            self._call_id = answer.call_id
        self._emit(
            "widget.phase",
            {
                "phase": "offer_relayed",
                "duration_ms": _ms_since(started),
                "call_id": answer.call_id,
            },
        )
        return {"ok": True, "sdp": answer.sdp, "call_id": answer.call_id or ""}, []

    @command
    def hangup(self, msg: Any, buffers: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
        """Front end command: tell the service to end the call ``msg["call_id"]`` (or the latest)."""
        call_id = msg.get("call_id") if isinstance(msg, dict) else None
        call_id = call_id or self._call_id
        if not isinstance(call_id, str) or not call_id:
            return {
                "ok": False,
                "error": "No call id is known, so the service was not told to hang up; the call "
                "ends when the peer connection closes.",
            }, []
        started = time.perf_counter()
        try:
            found = self._rest.hangup(call_id)
        except Exception as exc:  # noqa: BLE001 - a command answers, never raises
            # The call is over for the user either way; don't replace a more useful error.
            return self._command_failed("hangup_failed", exc, show=False), []
        self._emit(
            "widget.phase",
            {
                "phase": "hung_up",
                "duration_ms": _ms_since(started),
                "call_id": call_id,
                "already_ended": not found,
            },
        )
        return {"ok": True}, []

    # -- messages from the front end -----------------------------------------------------------------
    def _handle_custom_msg(self, content: Any, buffers: list[bytes]) -> None:
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == m.EVENTS:
            self._receive_batch(content)
        elif kind == m.HELLO:
            self._frontend_ready = True
            self._connect_requested_at = None
        else:  # anywidget commands and any on_msg callbacks
            super()._handle_custom_msg(content, buffers)

    def _handle_msg(self, msg: dict[str, Any]) -> None:
        # ipywidgets reports an unknown message method through ``self.log``, its logger; here
        # ``log`` is the event log, so report those to the module's logger instead.
        data = msg.get("content", {}).get("data", {})
        method = data.get("method") if isinstance(data, dict) else None
        if method in ("update", "request_state", "custom"):
            super()._handle_msg(msg)
        else:
            _log.error("RealtimeWidget got a message with unknown method %r", method)

    def _receive_batch(self, content: dict[str, Any]) -> None:
        """Log a batch in its pipe's order, once, and acknowledge it.

        Batches normally arrive in order, but not always: a batch the kernel read just before a
        cell started blocking waits in ipykernel's queue until the cell ends, while
        :meth:`wait_for` handles the later ones from the socket. So a batch ahead of its turn is
        held (not logged, not acknowledged) until the missing one arrives, which the front end
        resends when its acknowledgement is late; a batch seen before is only acknowledged again.
        """
        pipe, batch = content.get("pipe"), content.get("batch")
        if not isinstance(pipe, str) or not isinstance(batch, int) or isinstance(batch, bool):
            self._log_batch(content, batch)  # no sequence to keep (an older front end)
            return
        with self._event_lock:  # a subshell thread may deliver batches too
            sequence = self._pipes.setdefault(pipe, _PipeSequence())
            if batch < sequence.expected:
                self._send_msg({"kind": m.ACK, "pipe": pipe, "batch": batch})  # a resent duplicate
                return
            sequence.held[batch] = content
            while sequence.expected in sequence.held:
                next_batch = sequence.expected
                sequence.expected += 1
                self._log_batch(sequence.held.pop(next_batch), next_batch, pipe)

    def _log_batch(self, content: dict[str, Any], batch: Any, pipe: str | None = None) -> None:
        try:
            records = content.get("records")
            if isinstance(records, list):
                self._ingest(records)
            else:
                self._emit(
                    "widget.error",
                    {"code": "bad_batch", "message": "An rt:events message had no records list."},
                )
        finally:
            # Always acknowledge: the front end's window of unacknowledged batches moves on.
            ack: dict[str, Any] = {"kind": m.ACK, "batch": batch}
            if pipe is not None:
                ack["pipe"] = pipe
            self._send_msg(ack)

    def _ingest(self, records: list[Any]) -> None:
        """The hot path: log, publish and dispatch each record. Keep per-record work minimal."""
        t_kernel_ms = time.time() * 1000.0  # one arrival time for the whole batch
        append = self._log_records.append
        publish = self._publish
        with self._event_lock:  # once per batch
            outer, self._event_thread = self._event_thread, threading.get_ident()
            try:
                for index, raw in enumerate(records):
                    try:
                        record = append(
                            raw["source"], raw["event"], raw.get("t_browser_ms"), t_kernel_ms
                        )
                    except (KeyError, TypeError, ValueError, AttributeError) as exc:
                        self._bad_record(raw, exc)
                        continue
                    try:
                        publish(record)
                    except BaseException:
                        # A KeyboardInterrupt (or worse) in user code: the rest of the batch still
                        # goes into the log, unpublished, so nothing is lost.
                        for rest in records[index + 1 :]:
                            try:
                                append(
                                    rest["source"], rest["event"], rest.get("t_browser_ms"),
                                    t_kernel_ms,
                                )  # fmt: skip
                            except (KeyError, TypeError, ValueError, AttributeError):
                                continue
                        raise
            finally:
                self._event_thread = outer

    def _bad_record(self, raw: Any, exc: Exception) -> None:
        # Nothing is dropped silently: a malformed record becomes an error record.
        self._emit(
            "widget.error",
            {
                "code": "bad_record",
                "message": f"The front end sent a malformed record ({type(exc).__name__}: {exc}).",
                "raw": _truncate(repr(raw), 1000),
            },
        )

    def _emit(self, event_type: str, fields: dict[str, Any]) -> None:
        """Log and publish one of the kernel's own ``widget.*`` records."""
        self._log_and_publish({"type": event_type, **fields})

    def _log_and_publish(self, event: Event) -> None:
        """Append a ``widget`` record and publish it, under the event lock (any thread)."""
        with self._event_lock:
            outer, self._event_thread = self._event_thread, threading.get_ident()
            try:
                self._publish(self._log_records.append("widget", event))
            finally:
                self._event_thread = outer

    def _publish(self, record: Record) -> None:
        """Called with the event lock held, once per record, in log order."""
        event = record["event"]
        source = record["source"]
        if source == "server":
            if self._feed_tools:
                try:
                    self._dispatcher.handle_event(event)  # returns at once; tools run on threads
                except Exception:  # noqa: BLE001 - a dispatcher bug must not break the event path
                    _log.exception("rt_widget: the tool dispatcher failed on %r", event.get("type"))
        elif source == "widget":
            self._note_widget_record(event)
        if self._last_event_observed():
            try:
                self.last_event = event
            except Exception as exc:  # noqa: BLE001 - user code must not break the event path
                self._handler_failed("an observer of last_event", exc, event)
        else:
            # Nobody is notified, so skip traitlets' notification machinery: it was most of the
            # kernel's per-record time (benchmarks/RESULTS.md). w.last_event reads the same.
            self._trait_values["last_event"] = event
        if self._waiters:
            self._offer_to_waiters(event, source)
        handlers = self._handlers
        if not handlers:
            return
        for handler in handlers.get(event.get("type"), ()) + handlers.get("*", ()):
            try:
                handler(event)
            except Exception as exc:  # noqa: BLE001 - user code must not break the event path
                self._handler_failed(_name_of(handler), exc, event)

    def _last_event_observed(self) -> bool:
        """Whether assigning ``last_event`` notifies anything: an observer of it or of every
        trait (``observe``, ``@observe``), or a legacy ``_last_event_changed`` method."""
        notifiers = self._trait_notifiers
        for name in ("last_event", traitlets.All):
            by_type = notifiers.get(name)
            if by_type and any(by_type.values()):
                return True
        return getattr(type(self), "_last_event_changed", None) is not None

    def _offer_to_waiters(self, event: Event, source: str) -> None:
        for waiter in self._waiters:
            waiter.offer(event)
        if source == "widget" and event.get("type") == "widget.state":
            state = event.get("state")
            if state in _ENDED_STATES:
                # The call is over: what the other waiters wait for cannot come any more.
                reason = event.get("reason") or self.error or "no reason given"
                for waiter in self._waiters:
                    waiter.fail(
                        CallStateError(
                            f"The call ended ({state}: {reason}) while waiting for {waiter.what}."
                        )
                    )

    def _note_widget_record(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "widget.phase":
            phase = event.get("phase")
            if isinstance(phase, str):
                self.phase = phase
            call_id = event.get("call_id")
            if isinstance(call_id, str) and call_id:
                self._call_id = call_id
            if event.get("phase") == "start":
                self._connect_requested_at = None
                self._new_tool_call_epoch()
                self._set_tool_status("")
        elif kind == "widget.state":
            self._connect_requested_at = None
            if event.get("state") in _ENDED_STATES:
                self._new_tool_call_epoch()

    def _handler_failed(self, who: str, exc: Exception, event: Event) -> None:
        message = redact(
            f"{who} raised {type(exc).__name__}: {exc} (on {event.get('type')!r}); "
            "the event is in the log and the call goes on.",
            self._api_key,
        )
        if not self._reporting_error:
            # A handler that also fails on the error record must not start a loop.
            self._reporting_error = True
            try:
                self._emit(
                    "widget.error",
                    {"code": "handler_error", "message": message, "handler": who},
                )
            finally:
                self._reporting_error = False
        if who not in self._warned_handlers:
            self._warned_handlers.add(who)
            warnings.warn(
                f"{message} Later errors from it are recorded in w.log as widget.error only.",
                RuntimeWarning,
                stacklevel=2,
            )

    @traitlets.observe("comm")
    def _route_comm_to_main_shell(self, change: dict[str, Any]) -> None:
        """Have ipykernel 7 hand every message of this widget to the main shell.

        ipykernel 7.4 routes a comm's incoming messages to the shell that last *sent* on it, and
        JupyterLab (default "comms over subshells") marks its messages with a subshell of its
        own. So the widget's acknowledgements, sent while handling a message, steer the next
        messages to that subshell thread, and a message sent from a cell steers them back: the
        event path would hop between threads, and whether a running cell holds events (and tool
        calls) up would change from one moment to the next. Pinned to the main shell, the rule
        the widget documents always holds; wait_for() handles the messages when a cell must
        wait for one.
        """
        comm = change["new"]
        route = getattr(comm, "_reply_subshell_for", None)
        if route is None or getattr(route, "_rt_widget_pinned", False):
            return

        def main_shell(data: Any, default: str | None) -> None:
            route(data, default)  # ipykernel's bookkeeping of command replies still happens

        main_shell._rt_widget_pinned = True  # type: ignore[attr-defined]
        comm._reply_subshell_for = main_shell

    @traitlets.observe("state")
    def _state_changed(self, change: dict[str, Any]) -> None:
        # The front end has reacted to the last connect()/disconnect().
        self._connect_requested_at = None
        if change["new"] == "connected" and self._tools_pending:
            # Tools changed while the call was being set up, maybe after its session was sent.
            self._tools_pending = False
            self._push_tools()
        elif change["new"] in _ENDED_STATES:
            self._tools_pending = False

    # -- tools: wiring ---------------------------------------------------------------------------------
    def _apply_tools(self) -> None:
        """Put the registry's tools in the session config the next call is started with."""
        tools = self._tools.session_tools()
        session = {key: value for key, value in self._session.items() if key != "tools"}
        if tools:
            session["tools"] = tools
        self._session = session  # replaced, not changed: a command may be reading it
        if self._tools.tools:
            self._feed_tools = True

    def _tools_changed(self) -> None:
        """The registry's on_change: the next call gets the tools; a live call gets them now."""
        self._apply_tools()
        self._session_changed()
        self._push_tools()

    def _push_tools(self) -> None:
        if self.state == "connected":
            self._send_client_events([self._tools.session_update()])
        elif self._has_call():
            self._tools_pending = True

    def _replace_tools(self, registry: ToolRegistry) -> None:
        """Make ``registry`` the widget's tools (update_session(tools=...)); sends nothing."""
        registry.on_change = self._tools_changed
        self._tools.on_change = None
        self._tools = registry
        self._dispatcher.registry = registry
        self._apply_tools()

    def _new_tool_call_epoch(self) -> None:
        """A call started or ended: tools still running belong to a conversation that is gone."""
        self._dispatcher.reset()
        self._feed_tools = bool(self._tools.tools)

    def _send_tool_event(self, event: Event) -> None:
        """The dispatcher's send_event (any thread): a function_call_output or response.create."""
        if self.state != "connected" or self.comm is None:
            _log.info("rt_widget: %s not sent: the call is %s", event.get("type"), self.state)
            return
        self._send_msg({"kind": m.SEND, "event": event})

    def _record_tool_call(self, record: Event) -> None:
        """The dispatcher's record (any thread): a widget.tool record, in the log, published."""
        self._log_and_publish(record)

    def _set_tool_status(self, text: str) -> None:
        """The dispatcher's on_status (any thread): the panel's tool status line."""
        with self._status_lock:
            if self.tool_status != text:
                self.set_trait("tool_status", text)

    # -- helpers -------------------------------------------------------------------------------------
    def _send_msg(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """Send a custom comm message (``rt:*``) to the front end."""
        super().send(content, buffers)

    def _session_changed(self) -> None:
        """Tell the front end that the session config changed: a client secret it minted ahead
        for the next call carries the old config."""
        if getattr(self, "_frontend_ready", False) and self.comm is not None:
            self._send_msg({"kind": m.SESSION_CHANGED})

    def _send_client_events(self, events: list[Any]) -> None:
        for event in events:
            _check_client_event(event)
        if self.state != "connected":
            hint = ""
            if self._has_call():
                hint = (
                    " The call is still being set up, which happens only between cells: send from"
                    " a later cell or from a w.on('session.created', ...) handler."
                )
            raise CallStateError(
                f"No call is connected (state is {self.state!r}); call w.connect() first.{hint}"
            )
        for event in events:
            self._send_msg({"kind": m.SEND, "event": event})

    def _has_call(self) -> bool:
        return self.state in _LIVE_STATES or self._connect_pending()

    def _connect_pending(self) -> bool:
        requested = self._connect_requested_at
        return requested is not None and time.monotonic() - requested < _CONNECT_GRACE_S

    def _call_state(self) -> str:
        return self.state if self.state in _LIVE_STATES else "being started"

    def _command_failed(
        self, code: str, problem: Exception | str, *, show: bool = True, record: bool = True
    ) -> dict[str, Any]:
        status: int | None = None
        service_code: str | None = None
        if isinstance(problem, RealtimeServiceError):
            message, status, service_code = problem.message, problem.status, problem.code
        elif isinstance(problem, Exception):
            _log.error("rt_widget: unexpected error in a front end command", exc_info=problem)
            message = redact(
                f"rt_widget hit an unexpected error ({type(problem).__name__}: {problem}). "
                "Please report it; the kernel log has the traceback.",
                self._api_key,
            )
        else:
            message = problem
        if not record:
            _log.debug("rt_widget: %s (not recorded: %s)", message, code)
            return {"ok": False, "error": message}
        if show:
            self.error = message
        self._emit(
            "widget.error",
            {"code": code, "message": message, "status": status, "service_code": service_code},
        )
        return {"ok": False, "error": message}

    def _latest_sdp(self, role: str) -> str | None:
        for record in reversed(self._log_records):
            event = record["event"]
            if event.get("type") == "widget.sdp" and event.get("role") == role:
                sdp = event.get("sdp")
                return sdp if isinstance(sdp, str) else None
        return None


class _Waiter:
    """One wait_for() call: what it waits for, and what it got. ``offer`` and ``fail`` are called
    with the widget's event lock held; the first outcome wins."""

    __slots__ = ("done", "error", "event", "event_type", "log_length", "predicate", "wake")

    def __init__(
        self,
        event_type: str,
        predicate: Callable[[Event], object] | None,
        wake: Callable[[], None] | None,
        log_length: int,
    ) -> None:
        self.event_type = event_type
        self.predicate = predicate
        self.wake = wake  # for an awaiting waiter: schedules its future on its loop
        self.log_length = log_length
        self.done = threading.Event()
        self.event: Event | None = None
        self.error: BaseException | None = None

    @property
    def what(self) -> str:
        return "any event" if self.event_type == "*" else f"a {self.event_type!r} event"

    def offer(self, event: Event) -> None:
        if self.done.is_set() or (self.event_type != "*" and event.get("type") != self.event_type):
            return
        if self.predicate is not None:
            try:
                if not self.predicate(event):
                    return
            except Exception as exc:  # noqa: BLE001 - raised in the waiting cell, not here
                self.fail(exc)
                return
        self.event = event
        self._finish()

    def fail(self, error: BaseException) -> None:
        if not self.done.is_set():
            self.error = error
            self._finish()

    def outcome(self) -> Event:
        if self.error is not None:
            raise self.error
        assert self.event is not None
        return self.event

    def _finish(self) -> None:
        self.done.set()
        if self.wake is not None:
            self.wake()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# Keyword arguments passed on to ipywidgets; everything else not in the signature is a mistake.
_WIDGET_KWARGS: Final = frozenset({"muted", "layout"})
_SIGNATURE_KWARGS: Final = (
    "model",
    "voice",
    "instructions",
    "session",
    "api_key",
    "base_url",
    "signaling",
    "tools",
)


def _unknown_kwargs_message(unknown: list[str]) -> str:
    valid = [*_SIGNATURE_KWARGS, *sorted(_WIDGET_KWARGS)]
    parts = []
    for name in unknown:
        close = difflib.get_close_matches(name, valid, n=1)
        parts.append(f"{name!r} (did you mean {close[0]!r}?)" if close else repr(name))
    plural = "s" if len(unknown) > 1 else ""
    return (
        f"RealtimeWidget() got unexpected keyword argument{plural} {', '.join(parts)}. "
        f"Valid: {', '.join(valid)}."
    )


def _resolve_backend(
    api_key: str | None, base_url: str | None
) -> tuple[str, str, str, Emulator | None]:
    """(backend, base_url, key, emulator) from the arguments and ``$OPENAI_API_KEY``."""
    if api_key is not None:
        if not isinstance(api_key, str):
            raise TypeError(f"api_key must be a string, not {type(api_key).__name__}")
        key: str | None = api_key.strip()
        if not key:
            raise ValueError(
                "api_key is empty; pass the key, or leave it out to use $OPENAI_API_KEY"
            )
    else:
        key = os.environ.get("OPENAI_API_KEY", "").strip() or None

    if base_url is not None:
        url = _checked_base_url(base_url)
        if url == OPENAI_BASE_URL:
            if not key:
                raise ValueError(
                    "base_url is OpenAI's but there is no API key: set OPENAI_API_KEY or pass "
                    "api_key=..."
                )
            return "openai", url, key, None
        return "custom", url, key or _NO_KEY, None
    if key:
        return "openai", OPENAI_BASE_URL, key, None
    emulator = shared_emulator()
    return "emulator", emulator.base_url.rstrip("/"), _NO_KEY, emulator


def _checked_base_url(base_url: str) -> str:
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a string, not {type(base_url).__name__}")
    url = base_url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(
            f"base_url must be an http(s) URL such as https://api.openai.com/v1, not {display_url(url)!r}"
        )
    return url


_emulator: Emulator | None = None
_emulator_lock = threading.Lock()


def shared_emulator() -> Emulator:
    """The kernel's built-in emulator, started on first use and shared by every widget."""
    global _emulator
    with _emulator_lock:
        if _emulator is None:
            try:
                from .emulator import Emulator
            except ImportError as exc:
                raise RuntimeError(
                    "No API key is set (OPENAI_API_KEY or api_key=...) and the built-in emulator "
                    f"cannot be loaded ({exc}). Set a key, or point base_url= at a running server."
                ) from exc
            _emulator = Emulator().start()
        return _emulator


def _check_client_event(event: Any) -> None:
    if not isinstance(event, dict):
        raise TypeError(f"an event must be a dict, not {type(event).__name__}")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise ValueError("an event needs a 'type', e.g. {'type': 'response.create'}")
    try:
        # Measured as the browser sends it: compact JSON, non-ASCII as UTF-8.
        size = len(
            json.dumps(event, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8"
            )
        )
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the {event_type!r} event must be JSON-serializable: {exc}") from None
    if size + _EVENT_ID_HEADROOM >= _MAX_EVENT_BYTES:  # the front end adds an event_id
        raise ValueError(
            f"the {event_type!r} event is {size:,} bytes; the data channel closes on messages "
            f"of {_MAX_EVENT_BYTES // 1024} KiB or more, so send it in smaller pieces."
        )


def _tool_list(tools: Any) -> list[ToolLike]:
    if tools is None:
        return []
    if isinstance(tools, (str, bytes, Mapping)) or callable(tools):
        raise TypeError(
            f"tools must be a list of functions or tool configs, not {type(tools).__name__}; "
            "wrap a single tool in a list: tools=[get_weather]"
        )
    try:
        return list(tools)
    except TypeError:
        raise TypeError(f"tools must be a list, not {type(tools).__name__}") from None


def _session_tools(session: Session) -> list[Any]:
    """Take ``tools`` out of a built session config (the registry owns them from here on)."""
    tools = session.pop("tools", None)
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise TypeError(f"session['tools'] must be a list, not {type(tools).__name__}")
    return tools


# -- images -------------------------------------------------------------------------------------------
def _image_event(image: Any, prompt: str | None, detail: str | None, budget: int) -> Event:
    """The ``conversation.item.create`` for ``image``, within ``budget`` bytes of JSON, or
    ``ValueError`` saying how far over it is and what to do."""
    part: dict[str, Any] = {"type": "input_image", "image_url": ""}
    if detail is not None:
        part["detail"] = detail
    content: list[dict[str, Any]] = []
    if prompt:
        content.append({"type": "input_text", "text": prompt})
    content.append(part)
    event: Event = {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }
    # Sized as the browser sends it, before encoding: base64 makes 4 bytes of every 3.
    overhead = _json_size(event) + len("data:image/jpeg;base64,")  # the longest of the 4 types
    fits = 3 * ((budget - overhead) // 4)  # the largest image whose event fits
    data, source = _image_bytes(image, fits, overhead)
    mime = _image_mime(data, source)
    if len(data) > fits:
        raise ValueError(_too_large_message(len(data), mime, source, overhead, fits))
    part["image_url"] = f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    return event


def _too_large_message(size: int, mime: str, source: str, overhead: int, fits: int) -> str:
    message_kib = (overhead + 4 * ((size + 2) // 3)) / 1024
    return (
        f"{source} is too large to send: {size / 1024:,.0f} KiB of "
        f"{mime.split('/')[1].upper()} makes a {message_kib:,.0f} KiB data-channel message "
        f"(base64), and the channel closes on messages over {_MAX_EVENT_BYTES // 1024} KiB; "
        f"images up to {fits / 1024:,.0f} KiB fit. Downscale it (with PIL: "
        "img.thumbnail((1024, 1024))) or compress it (JPEG or WebP at a lower quality), then "
        "send it again."
    )


def _image_bytes(image: Any, fits: int, overhead: int) -> tuple[bytes, str]:
    """(the file's bytes, how to name it in a message) for a path, bytes or a PIL image."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return bytes(image), "The image"
    if isinstance(image, (str, os.PathLike)):
        path = pathlib.Path(image).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"No image file at {str(path)!r}")
        size = path.stat().st_size
        if size > fits:  # refuse without reading it all
            with path.open("rb") as f:
                mime = _image_mime(f.read(16), path.name)
            raise ValueError(_too_large_message(size, mime, path.name, overhead, fits))
        return path.read_bytes(), path.name
    pil = sys.modules.get("PIL.Image")  # a PIL image exists only if PIL is already imported
    if pil is not None and isinstance(image, pil.Image):
        return _pil_png(image), "The PIL image (as PNG)"
    raise TypeError(
        "image must be a file path, the bytes of a PNG/JPEG/WebP/GIF file, or a PIL image, "
        f"not {type(image).__name__}"
    )


def _pil_png(image: PILImage) -> bytes:
    buffer = io.BytesIO()
    try:
        image.save(buffer, format="PNG")
    except (OSError, ValueError, KeyError):  # a mode PNG cannot hold (CMYK, some I;16...)
        buffer = io.BytesIO()
        image.convert("RGBA" if "A" in image.getbands() else "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def _image_mime(data: bytes, source: str) -> str:
    """The image's MIME type from its first bytes (the API takes PNG, JPEG, WebP and GIF)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    raise ValueError(
        f"{source} is not a PNG, JPEG, WebP or GIF image (it starts with {data[:12]!r}); "
        "convert it to one of those first"
    )


def _json_size(event: Event) -> int:
    """Bytes of ``event`` as the browser sends it: compact JSON, non-ASCII as UTF-8."""
    return len(json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _name_of(handler: object) -> str:
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    return f"handler {name}" if name else f"handler {type(handler).__name__}"


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
