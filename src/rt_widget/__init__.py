"""rt_widget: OpenAI's Realtime voice API in a notebook, over browser WebRTC, with a local emulator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .eventlog import EventLog
from .rest import RealtimeError, RealtimeServiceError

if TYPE_CHECKING:
    from .waiting import WaitUnsupportedError
    from .widget import CallStateError, FrontendNotReadyError, RealtimeWidget

__all__ = [
    "CallStateError",
    "EventLog",
    "FrontendNotReadyError",
    "RealtimeError",
    "RealtimeServiceError",
    "RealtimeWidget",
    "WaitUnsupportedError",
]
__version__ = "0.1.0"

_FROM_WIDGET = ("RealtimeWidget", "CallStateError", "FrontendNotReadyError")
_FROM_WAITING = ("WaitUnsupportedError",)


def __getattr__(name: str) -> Any:
    # The widget module is imported on first use: reading a saved log (EventLog.load) needs
    # neither ipywidgets nor the built front end.
    if name in _FROM_WIDGET:
        from . import widget

        return getattr(widget, name)
    if name in _FROM_WAITING:
        from . import waiting

        return getattr(waiting, name)
    raise AttributeError(f"module 'rt_widget' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_FROM_WIDGET, *_FROM_WAITING])
