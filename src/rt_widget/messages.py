"""The vocabulary shared by the kernel and the front end.

Everything that crosses the widget's comm is named here, and mirrored one to one in
``js/src/protocol.ts``. Change both together.

Front end -> kernel (custom messages, ``model.send``)
    ``{"kind": "rt:hello"}``
        sent once when the front end's model initializes; from then on the kernel can drive calls.
    ``{"kind": "rt:events", "batch": int, "records": [Record, ...]}``
        every data-channel message (both directions) and every widget record, in order, batched
        while an earlier batch is unacknowledged (see ../shared/FACTS.md: one message per event
        clogs the page). A record is ``{"source": "server" | "client" | "widget",
        "t_browser_ms": float, "event": {...}}``.

Kernel -> front end (custom messages, ``widget.send``)
    ``{"kind": "rt:ack", "batch": int}``      a batch is in the log; the next may be sent.
    ``{"kind": "rt:connect"}``                start a call, as if Connect were clicked.
    ``{"kind": "rt:disconnect"}``             hang up.
    ``{"kind": "rt:send", "event": {...}}``   send a client event on the data channel.

Front end -> kernel requests (anywidget ``experimental.invoke`` / ``@command``): see the
``COMMAND_*`` names. Every reply is ``{"ok": True, ...}`` or ``{"ok": False, "error": str}``;
a command never raises into the comm, so the front end always gets an answer it can show.

Widget records (``source == "widget"``), ``event["type"]`` in :data:`WIDGET_RECORD_TYPES`:
    ``widget.phase``  ``{"phase": str, ...}`` a step of the call's life (see :data:`PHASES`);
                      ``phase == "start"`` opens a new call in the log. A phase that learns the
                      call id (``answer_received``, the kernel's ``offer_relayed``) carries it as
                      ``call_id``: the kernel uses the latest one to hang up when the widget is
                      closed. The kernel records its own steps (``secret_minted``,
                      ``offer_relayed``, ``hung_up``, with ``duration_ms``) with no browser time.
    ``widget.state``  ``{"state": str, "reason": str}`` the widget's state changed.
    ``widget.stats``  one ``RTCPeerConnection.getStats()`` sample (see ``STATS_FIELDS``).
    ``widget.error``  ``{"code": str, "message": str}`` something went wrong; ``message`` says
                      what to do. Malformed data-channel text arrives as code ``malformed_event``
                      with the text (truncated) in ``raw``.
    ``widget.sdp``    ``{"role": "offer" | "answer", "sdp": str}`` the call's session descriptions.
    ``widget.tool``   a Python tool call run by the kernel (recorded by the kernel, on the tool's
                      thread): ``name``, ``call_id``, ``arguments``, ``status`` (``ok`` |
                      ``error`` | ``timeout``), ``result`` or ``error``, ``duration_ms``.

Kernel-written traits the panel shows: ``tool_status``, the latest tool call's status line
("running get_weather…"). The front end itself shows "<name>: waiting for the kernel" when the
kernel has not acknowledged a function call's record a second after it arrived.
"""

from __future__ import annotations

from typing import Final, Literal

# -- comm message kinds ---------------------------------------------------------------------------
HELLO: Final = "rt:hello"
EVENTS: Final = "rt:events"
ACK: Final = "rt:ack"
CONNECT: Final = "rt:connect"
DISCONNECT: Final = "rt:disconnect"
SEND: Final = "rt:send"
# The session config changed: a client secret the front end minted ahead for the next call carries
# the old one, so it is dropped (and another minted).
SESSION_CHANGED: Final = "rt:session_changed"

# -- commands the front end invokes on the kernel --------------------------------------------------
COMMAND_MINT_SECRET: Final = "mint_client_secret"  # -> {ok, value, expires_at, call_url}
COMMAND_RELAY_OFFER: Final = "relay_offer"  # {sdp} -> {ok, sdp, call_id}
COMMAND_HANGUP: Final = "hangup"  # {call_id} -> {ok}

# -- the event log ---------------------------------------------------------------------------------
Source = Literal["server", "client", "widget"]
SOURCES: Final = ("server", "client", "widget")

WIDGET_RECORD_TYPES: Final = (
    "widget.phase",
    "widget.state",
    "widget.stats",
    "widget.error",
    "widget.sdp",
    "widget.tool",
)

# The phases of one call, in their usual order. ICE and peer-connection state changes are
# recorded as ``ice_<state>`` and ``pc_<state>`` (e.g. ``ice_checking``, ``pc_connected``).
PHASES: Final = (
    "start",  # Connect clicked or w.connect(): a new call begins
    "secret_requested",
    "secret_minted",  # recorded by the kernel
    "secret_received",
    "mic_requested",
    "mic_ready",
    "offer_created",
    "offer_relayed",  # recorded by the kernel (relay signaling)
    "answer_received",
    "remote_description_set",
    "channel_open",
    "session_created",
    "hung_up",  # recorded by the kernel
    "closed",
)

States = Literal["idle", "connecting", "connected", "closed", "failed"]
STATES: Final = ("idle", "connecting", "connected", "closed", "failed")

STATS_FIELDS: Final = (
    "rtt_ms",
    "jitter_ms",
    "packets_lost",
    "packets_received",
    "packets_sent",
    "bytes_sent",
    "bytes_received",
    "audio_level_in",
    "audio_level_out",
    "jitter_buffer_ms",
    "concealed_samples",
    "available_outgoing_bitrate",
)
