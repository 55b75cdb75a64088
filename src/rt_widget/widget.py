"""``RealtimeWidget``: the kernel side of a browser WebRTC call to the Realtime API.

The call itself lives in the browser (the front end's model owns the peer connection and the
microphone). The kernel mints client secrets or relays offers with the API key, which never
leaves it, and keeps the event log: the front end streams every data-channel event and every
widget record here in acknowledged batches (``rt:events`` / ``rt:ack``, see
:mod:`rt_widget.messages`).

A busy kernel delays events but never loses them: while a cell runs, Jupyter processes no comm
messages, so records wait in the browser and arrive, in order, once the cell finishes. For the
same reason a cell must not wait in a loop for events (it would wait forever); react to them
with ``w.on(...)`` or ``w.observe(..., "last_event")`` instead.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import pathlib
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

import anywidget
import traitlets
from anywidget.experimental import command

from . import messages as m
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

if TYPE_CHECKING:
    from .emulator import Emulator

__all__ = ["CallStateError", "FrontendNotReadyError", "RealtimeWidget"]

_log = logging.getLogger("rt_widget")

Signaling = Literal["client_secret", "relay"]
SIGNALING: Final = ("client_secret", "relay")

Event = dict[str, Any]
Handler = TypeVar("Handler", bound=Callable[[Event], object])

# Sent as the bearer token to backends that need no key (the emulator, a key-adding proxy).
_NO_KEY: Final = "rt-widget-no-key"
# The peer closes the data channel on messages over ~256 KiB (../shared/FACTS.md).
_MAX_EVENT_BYTES: Final = 256 * 1024
# How long a connect() request counts as in progress before the front end has reacted to it.
_CONNECT_GRACE_S: Final = 30.0
_LIVE_STATES: Final = ("connecting", "connected")

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
        deep-merged over the shorthands.
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
    starts once the cell that called :meth:`connect` has finished.
    """

    _esm = _built("widget.js")
    _css = _built("widget.css")

    state = traitlets.Unicode("idle", help="idle | connecting | connected | closed | failed").tag(
        sync=True
    )
    phase = traitlets.Unicode("", help="The current step of the call (see messages.PHASES).").tag(
        sync=True
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
        backend, url, key, emulator = _resolve_backend(api_key, base_url)

        self._session: Session = session_config
        self._api_key = key  # private, not a trait: never synced, saved or shown
        self._rest = RestClient(url, key)
        self._emulator = emulator
        self._log_records = EventLog()
        self._handlers: dict[str, tuple[Callable[[Event], object], ...]] = {}
        self._warned_handlers: set[str] = set()
        self._reporting_error = False
        self._frontend_ready = False
        self._connect_requested_at: float | None = None
        self._call_id: str | None = None

        # Set before the comm opens so the front end's first state already has them.
        self.set_trait("backend", backend)
        self.set_trait("backend_url", display_url(url))
        super().__init__(signaling=signaling, **kwargs)

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

    def __repr__(self) -> str:
        # getattr: a repr must work on an instance whose __init__ raised part way.
        session: Session = getattr(self, "_session", {})
        records = len(getattr(self, "_log_records", ()))
        return (
            f"RealtimeWidget(model={session.get('model')!r}, backend={self.backend!r}, "
            f"backend_url={self.backend_url!r}, signaling={self.signaling!r}, "
            f"state={self.state!r}, log={records} records)"
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

    def update_session(self, **fields: Any) -> None:
        """Send ``session.update`` with ``{"type": "realtime", **fields}`` (GA field names, e.g.
        ``instructions=...``, ``audio={"output": {"voice": "cedar"}}``) and keep the change for
        the next call too."""
        if not fields:
            raise TypeError("update_session() needs at least one session field")
        check_session_fields(fields, what="update_session()")
        update = {"type": "realtime", **fields}
        self._send_client_events([{"type": "session.update", "session": update}])
        self._session = deep_merge(self._session, update)

    def interrupt(self) -> None:
        """Stop the model mid-answer: cancel the response and drop the audio not yet played."""
        self._send_client_events(
            [{"type": "response.cancel"}, {"type": "output_audio_buffer.clear"}]
        )

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

    # -- commands the front end invokes (anywidget.experimental.invoke) ------------------------------
    # The method names are the command names; they always answer {"ok": ...} and never raise, so
    # the front end always has something to show. From Python, use connect()/disconnect().
    @command
    def mint_client_secret(
        self, msg: Any, buffers: list[bytes]
    ) -> tuple[dict[str, Any], list[bytes]]:
        """Front end command: a client secret for the next call (``client_secret`` signaling)."""
        if self.signaling != "client_secret":
            return self._command_failed(
                "secret_refused",
                "This widget uses relay signaling: the kernel posts the offer itself, so no "
                "client secret is handed to the browser.",
            ), []
        started = time.perf_counter()
        try:
            secret = self._rest.mint_client_secret(self._session)
        except Exception as exc:  # noqa: BLE001 - a command answers, never raises
            return self._command_failed("secret_failed", exc), []
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
            # Always acknowledge: the front end sends the next batch only after this.
            self._send_msg({"kind": m.ACK, "batch": content.get("batch")})

    def _ingest(self, records: list[Any]) -> None:
        """The hot path: log, publish and dispatch each record. Keep per-record work minimal."""
        t_kernel_ms = time.time() * 1000.0  # one arrival time for the whole batch
        append = self._log_records.append
        publish = self._publish
        for index, raw in enumerate(records):
            try:
                record = append(raw["source"], raw["event"], raw.get("t_browser_ms"), t_kernel_ms)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self._bad_record(raw, exc)
                continue
            try:
                publish(record)
            except BaseException:
                # A KeyboardInterrupt (or worse) in user code: the rest of the batch still goes
                # into the log, unpublished, so nothing is lost.
                for rest in records[index + 1 :]:
                    try:
                        append(rest["source"], rest["event"], rest.get("t_browser_ms"), t_kernel_ms)
                    except (KeyError, TypeError, ValueError, AttributeError):
                        continue
                raise

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
        self._publish(self._log_records.append("widget", {"type": event_type, **fields}))

    def _publish(self, record: Record) -> None:
        event = record["event"]
        if record["source"] == "widget":
            self._note_widget_record(event)
        try:
            self.last_event = event
        except Exception as exc:  # noqa: BLE001 - user code must not break the event path
            self._handler_failed("an observer of last_event", exc, event)
        handlers = self._handlers
        if not handlers:
            return
        for handler in handlers.get(event.get("type"), ()) + handlers.get("*", ()):
            try:
                handler(event)
            except Exception as exc:  # noqa: BLE001 - user code must not break the event path
                self._handler_failed(_name_of(handler), exc, event)

    def _note_widget_record(self, event: Event) -> None:
        kind = event.get("type")
        if kind == "widget.phase":
            call_id = event.get("call_id")
            if isinstance(call_id, str) and call_id:
                self._call_id = call_id
            if event.get("phase") == "start":
                self._connect_requested_at = None
        elif kind == "widget.state":
            self._connect_requested_at = None

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

    @traitlets.observe("state")
    def _state_changed(self, change: dict[str, Any]) -> None:
        # The front end has reacted to the last connect()/disconnect().
        self._connect_requested_at = None

    # -- helpers -------------------------------------------------------------------------------------
    def _send_msg(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        """Send a custom comm message (``rt:*``) to the front end."""
        super().send(content, buffers)

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
        self, code: str, problem: Exception | str, *, show: bool = True
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
        size = len(json.dumps(event, allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the {event_type!r} event must be JSON-serializable: {exc}") from None
    if size >= _MAX_EVENT_BYTES:
        raise ValueError(
            f"the {event_type!r} event is {size:,} bytes; the data channel closes on messages "
            f"of {_MAX_EVENT_BYTES // 1024} KiB or more, so send it in smaller pieces."
        )


def _name_of(handler: object) -> str:
    name = getattr(handler, "__qualname__", None) or getattr(handler, "__name__", None)
    return f"handler {name}" if name else f"handler {type(handler).__name__}"


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 1)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
