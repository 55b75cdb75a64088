"""Blocking inside a running cell until a widget event arrives, without deadlocking the kernel.

The problem (../shared/FACTS.md): the kernel handles widget messages on the same shell thread that
runs cells, one message at a time, so a cell that blocks waiting for an event blocks the very
message that would bring it. What each case needs:

* **A kernel shell thread of ipykernel 7** (the main shell, or a subshell): :class:`ShellPump`.
  While the cell waits, the pump reads the messages queued for this shell, handles the comm
  messages at once (as ipykernel 7.4 itself does for a cell that awaits) and holds everything else
  (the next ``execute_request``, completion requests...). When the wait ends the held messages are
  handed back to the kernel, in order, through the same callback the shell's stream would have
  called: they run after the cell, exactly as if they had waited in the queue.

  ipykernel 7 may route a comm's messages to a subshell thread instead (the widget pins its own
  to the main shell, but other comms may not be): those are handled there, concurrently, and the
  waiter is woken from that thread. Either way nothing stays stuck.

* **Any other thread** (a tool running on a worker thread, a plain Python program): the shells are
  free to handle messages, so a plain blocking wait is right.

* **A shell thread of a kernel this module does not know** (ipykernel 6, or another kernel with
  IPython): nothing here can take the messages out of its queue, so waiting would hang.
  :func:`shell_pump` raises :class:`WaitUnsupportedError` at once, saying what to do instead.

Why not let an async cell simply ``await`` while ipykernel handles the messages? ipykernel 7.4 does
handle comm messages while a cell awaits, but without reporting busy/idle for them, and
ipywidgets' front end sends a model's next state update only after "idle" for the previous one: the
model's trait sync stops for good (measured: ``w.state`` stuck at "idle" on a connected call). The
pump reports both, as the kernel does for every message it handles in order.

This leans on ipykernel 7's structure (the shell channel thread's subshell manager, its socket
pairs, the shell handlers); :func:`shell_pump` checks the pieces it uses and raises
:class:`WaitUnsupportedError` naming what is missing, rather than fail mid-wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, Final

from typing_extensions import Self

_log = logging.getLogger("rt_widget")

_COMM_TYPES: Final = frozenset({"comm_open", "comm_msg", "comm_close"})
# ipykernel's marker message that ends "aborting" after an error; it is not a signed message.
_STOP_ABORTING: Final = b"stop aborting"
# What the pump uses of the kernel, besides the subshell manager's socket pairs.
_KERNEL_PARTS: Final = (
    "session",
    "shell_handlers",
    "shell_main",
    "get_parent",
    "set_parent",
    "_parent_ident",
    "_publish_status",
    "log",
)


class WaitUnsupportedError(RuntimeError):
    """Waiting here would deadlock the kernel; the message says how to wait instead."""


def _running_kernel() -> Any | None:
    """The ipykernel kernel of this process, if it is one (without importing ipykernel)."""
    kernelbase = sys.modules.get("ipykernel.kernelbase")
    if kernelbase is None:
        return None
    kernel_class = kernelbase.Kernel
    return kernel_class.instance() if kernel_class.initialized() else None


def _foreign_kernel_shell() -> bool:
    """True on the main thread of an IPython kernel that is not ipykernel (xeus-python...)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or threading.current_thread() is not threading.main_thread():
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _ipykernel_version() -> tuple[int, ...]:
    module = sys.modules.get("ipykernel")
    info = getattr(module, "version_info", None)
    return tuple(part for part in info if isinstance(part, int)) if info else ()


def _current_shell(kernel: Any) -> tuple[Any, str | None] | None:
    """``(subshell manager, subshell id)`` if this thread is one of ``kernel``'s shell threads
    (``None`` is the main shell), else ``None``."""
    channel_thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(channel_thread, "manager", None)
    if manager is None:
        return None
    try:
        return manager, manager.subshell_id_from_thread_id(threading.get_ident())
    except RuntimeError:  # not a shell thread
        return None


def shell_pump(how_else: str) -> ShellPump | None:
    """What a blocking wait on this thread needs: a :class:`ShellPump`, or ``None`` when a plain
    blocking wait is safe. Raises :class:`WaitUnsupportedError` when neither would work;
    ``how_else`` (how to wait instead) ends its message."""
    kernel = _running_kernel()
    if kernel is None:
        if _foreign_kernel_shell():
            raise WaitUnsupportedError(
                "Waiting inside a cell would deadlock this kernel: it handles widget messages "
                f"only after the cell ends, and rt_widget cannot process them for it. {how_else}"
            )
        return None
    version = ".".join(map(str, _ipykernel_version())) or "unknown"
    shell = _current_shell(kernel)
    if shell is not None:
        manager, subshell_id = shell
        missing = [name for name in _KERNEL_PARTS if not hasattr(kernel, name)]
        try:
            if not missing:
                return ShellPump(kernel, manager, subshell_id)
        except AttributeError as exc:
            missing = [str(exc)]
        raise WaitUnsupportedError(
            f"Waiting inside a cell would deadlock this kernel: rt_widget handles widget messages "
            f"for a waiting cell on ipykernel 7.4's layout, and this ipykernel ({version}) differs "
            f"({', '.join(missing)}). {how_else}"
        )
    if getattr(kernel, "shell_channel_thread", None) is None and (
        threading.current_thread() is threading.main_thread()
    ):
        raise WaitUnsupportedError(
            f"Waiting inside a cell would deadlock this kernel (ipykernel {version}): it handles "
            "widget messages only after the cell ends, and rt_widget can process them for it "
            f"only on ipykernel 7 or later. {how_else}"
        )
    return None  # another thread: the shells handle messages meanwhile


class ShellPump:
    """Handles the comm messages queued for one shell thread while that thread is blocked.

    Use it only on that thread, and always call :meth:`release` when the wait ends (it is a
    context manager): held messages go back to the kernel then.

    The pump stops handling messages as soon as its wait is satisfied, so that the next wait in
    the same cell sees what came after (``wait_for("widget.tool")`` then
    ``wait_for("response.done")``). It must still read the shell's queue to the end every time
    (a read consumes the socket's edge-triggered wake-up, and the shell's stream only hears of
    messages that arrive later), so what it has read but not handled waits in this thread's
    backlog: for the next pump, or, once the loop runs again (the cell has ended, or awaits), for
    :func:`_settle_backlog`.
    """

    def __init__(self, kernel: Any, manager: Any, subshell_id: str | None) -> None:
        pair = manager.get_shell_channel_to_subshell_pair(subshell_id)
        self._kernel = kernel
        self._session = kernel.session
        self._subshell_id = subshell_id
        self._socket = pair.to_socket
        self._stream = pair.to_stream  # the ZMQStream that normally reads _socket
        self._reply_socket = manager.get_subshell_to_shell_channel_socket(subshell_id)
        self._backlog = _backlogs.setdefault(threading.get_ident(), collections.deque())
        self._held: list[list[Any]] = []
        self._released = False
        import zmq  # present wherever ipykernel is

        self._zmq = zmq

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()

    @property
    def held(self) -> int:
        """Messages held back so far (they run after the cell)."""
        return len(self._held)

    def pump(self, timeout_s: float, satisfied: Callable[[], bool]) -> None:
        """Handle queued messages, one at a time, until ``satisfied()``; if none is queued, wait
        up to ``timeout_s`` for some first."""
        if not self._backlog:
            if not self._socket.poll(max(int(timeout_s * 1000), 0), self._zmq.POLLIN):
                return
            self._read_queue()
        while self._backlog and not satisfied():
            self._dispatch(self._backlog.popleft(), hold=True)

    def release(self) -> None:
        """Hand the held messages back to the kernel, and have the backlog handled once the
        loop runs again (unless another wait in this cell takes it first)."""
        if self._released:
            return
        self._released = True
        held, self._held = self._held, []
        if held:
            self._forward(held)
        if self._backlog:
            _loop_of(self._stream).call_soon(_settle_backlog, self)

    # -- internals ---------------------------------------------------------------------------------
    def _read_queue(self) -> None:
        """Move every message queued on the socket into the backlog, in order."""
        while True:
            try:
                self._backlog.append(self._socket.recv_multipart(self._zmq.NOBLOCK, copy=False))
            except self._zmq.Again:
                return

    def _dispatch(self, frames: list[Any], *, hold: bool) -> None:
        """A comm message is handled now; anything else is held for after the cell (``hold``)
        or given to the kernel at once."""
        if self._peek_type(frames) in _COMM_TYPES:
            self._handle_comm(frames)
        elif hold:
            self._held.append(frames)
        else:
            self._forward([frames])

    def _peek_type(self, frames: list[Any]) -> str | None:
        if len(frames) == 1 and bytes(frames[0].buffer) == _STOP_ABORTING:
            return None
        try:
            _, body = self._session.feed_identities(frames, copy=False)
            # content=False only peeks: the signature is not recorded as seen, so the kernel can
            # still deserialize a held message when it runs it.
            header = self._session.deserialize(body, content=False, copy=False)["header"]
        except Exception:  # noqa: BLE001 - let the kernel report a bad message in its own way
            return None
        msg_type = header.get("msg_type")
        return msg_type if isinstance(msg_type, str) else None

    def _handle_comm(self, frames: list[Any]) -> None:
        """What the kernel's ``dispatch_shell(..., concurrent=True)`` does for a comm message:
        handle it with the message as the shell's parent, then give the cell its parent back."""
        kernel = self._kernel
        try:
            idents, body = self._session.feed_identities(frames, copy=False)
            msg = self._session.deserialize(body, content=True, copy=False)
        except Exception:  # noqa: BLE001 - a bad message must not end the wait
            _log.exception("rt_widget: a comm message could not be read while waiting")
            return
        handler = kernel.shell_handlers.get(msg["header"]["msg_type"])
        if handler is None:
            return
        parent = kernel.get_parent("shell")
        parent_ident = kernel._parent_ident["shell"]
        # The handler's set_parent lands in a copy of this context, not in the cell's.
        context = contextvars.copy_context()
        try:
            context.run(self._run_handler, handler, idents, msg)
        finally:
            kernel.set_parent(parent_ident, parent, channel="shell")

    def _run_handler(self, handler: Callable[..., Any], idents: list[Any], msg: dict) -> None:
        kernel = self._kernel
        kernel.set_parent(idents, msg, channel="shell")
        # Busy, then idle, for this message, as the kernel reports every message it handles in
        # order: ipywidgets' front end sends a model's next state update only once it has seen
        # "idle" for the previous one, so without it the model's updates would stop for good.
        kernel._publish_status("busy", "shell", parent=msg)
        try:
            handler(self._reply_socket, idents, msg)
        except Exception:  # as the kernel does: log, and go on
            kernel.log.exception("Exception in message handler:")
        finally:
            for stream in (sys.stdout, sys.stderr):
                if stream is not None:
                    stream.flush()
            kernel._publish_status("idle", "shell", parent=msg)

    def _forward(self, held: list[list[Any]]) -> None:
        """Hand messages to the kernel in order, as the shell's stream would have: each becomes
        a task on this thread's loop, and they queue, in order, behind the running cell."""
        callback = getattr(self._stream, "_recv_callback", None) if self._stream else None
        if callback is None:  # not the stream we know: call the kernel's shell handler directly
            subshell_id = self._subshell_id

            def callback(frames: list[Any]) -> Any:
                return self._kernel.shell_main(subshell_id, frames)

        loop = _loop_of(self._stream)
        for frames in held:
            result = callback(frames)
            if asyncio.iscoroutine(result):
                asyncio.ensure_future(result, loop=loop)


# Per shell thread: messages a pump read from the queue but did not handle (its wait was over).
_backlogs: dict[int, collections.deque[list[Any]]] = {}


def _settle_backlog(pump: ShellPump) -> None:
    """Runs on the shell's loop once the waiting code has given it back: handle what the pumps of
    that wait left, in order, as the kernel would have (comm messages now, reporting their status;
    the rest queued behind whatever runs)."""
    backlog = pump._backlog
    while backlog:
        pump._dispatch(backlog.popleft(), hold=False)


def _loop_of(stream: Any) -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return stream.io_loop.asyncio_loop  # tornado's IOLoop wraps an asyncio loop
