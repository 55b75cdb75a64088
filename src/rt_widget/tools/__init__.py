"""Python functions as Realtime function tools.

* :func:`function_schema` — a function's session tool entry, from its type hints and docstring.
* :class:`Tool`, :class:`ToolRegistry` — the session's tools (functions and raw configs such as
  ``{"type": "mcp", ...}``), and the ``tools`` list / ``session.update`` event for them.
* :class:`ToolDispatcher` — runs the tools for the model's calls and answers them.

Wiring, in the widget::

    self._tools = ToolRegistry(tools, on_change=self._push_tools)  # -> send(tools.session_update())
    self._dispatcher = ToolDispatcher(
        self._tools,
        send_event=self.send,                 # -> {"kind": "rt:send", "event": ...}; any thread
        record=self._record_tool_call,        # -> the log as a source="widget" record, under the
                                              #    lock that also guards the comm handler's appends
        on_status=self._set_tool_status,      # -> the panel
    )
    # for every record with source == "server", in order (cheap; never blocks):
    self._dispatcher.handle_event(record["event"])
    # when a call starts or ends:          self._dispatcher.reset()
    # when the widget is closed:           self._dispatcher.close()

The callbacks run on worker threads (see :mod:`.dispatch`); the dispatcher holds no lock while
calling them, so they may take the widget's locks.
"""

from .dispatch import ToolDispatcher
from .docstrings import Docstring, parse_docstring
from .registry import DEFAULT_TIMEOUT_S, Tool, ToolRegistry
from .results import MAX_EVENT_BYTES, encode_result
from .schema import NAME_PATTERN, ArgumentError, ToolSignature, function_schema

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MAX_EVENT_BYTES",
    "NAME_PATTERN",
    "ArgumentError",
    "Docstring",
    "Tool",
    "ToolDispatcher",
    "ToolRegistry",
    "ToolSignature",
    "encode_result",
    "function_schema",
    "parse_docstring",
]
