"""rt_widget: OpenAI's Realtime voice API in a notebook, over browser WebRTC, with a local emulator."""

from .eventlog import EventLog

__all__ = ["EventLog"]
__version__ = "0.1.0"
