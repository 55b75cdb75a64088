"""SCTP chunk bundling for aiortc's data channel, so event bursts are not one packet per event.

aiortc sends every DATA chunk in a packet of its own ("no bundling for now" in its source). A
Realtime event is ~200 bytes, so a 10,000-event burst becomes 10,000 DTLS records and UDP
datagrams, and the receiver answers each with a SACK: per-packet work on both ends caps the rate
near 1,000 events/s with an aiortc receiver. RFC 4960 (6.10) lets a sender bundle chunks into one
packet up to the path MTU; this module makes one emulator-side transport do that.

How: while aiortc's own ``_data_channel_flush`` / ``_transmit`` run (everything else, congestion
control and retransmission included, is untouched), DATA chunks they send are collected and
written as packets of up to aiortc's maximum packet size when the outermost of those calls ends.
Control chunks (SACK, FORWARD TSN, ...) go out at once, after any collected data.

It relies on aiortc's private names, so it is applied only where they are found (checked per
transport) and is a no-op otherwise.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from struct import pack
from typing import Any

from aiortc import rtcsctptransport as sctp_module

from .log import log

_REQUIRED = ("_send_chunk", "_transmit", "_data_channel_flush", "_remote_port", "_local_port",
             "_remote_verification_tag")
_MAX_PAYLOAD = getattr(sctp_module, "SCTP_MAX_PACKET_LENGTH", 1189) - 12  # minus common header

# The chunks collected in the current task's outermost flush/transmit; None outside one. A context
# variable, because aiortc runs flushes in several tasks and each must bundle only its own.
_collected: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar(
    "rt_widget_sctp_bundle", default=None
)


def enable_bundling(transport: Any) -> bool:
    """Make ``transport`` (an aiortc ``RTCSctpTransport``) bundle DATA chunks; True if it does."""
    cls = type(transport)
    if not all(hasattr(transport, name) for name in _REQUIRED) or not hasattr(
        transport, f"_{cls.__name__}__transport"
    ):
        log.debug("aiortc's SCTP internals differ from the expected ones; not bundling")
        return False
    dtls = getattr(transport, f"_{cls.__name__}__transport")
    data_chunk = sctp_module.DataChunk
    original_send_chunk = transport._send_chunk
    original_transmit = transport._transmit
    original_flush = transport._data_channel_flush

    async def send_packet(chunks: list[bytes]) -> None:
        body = b"".join(chunks)
        header = pack("!HHL", transport._local_port, transport._remote_port,
                      transport._remote_verification_tag)
        checksum = sctp_module.crc32c(header + b"\x00\x00\x00\x00" + body)
        await dtls._send_data(header + pack("<L", checksum) + body)

    async def flush_collected(collected: list[bytes]) -> None:
        packet: list[bytes] = []
        size = 0
        for chunk in collected:
            if packet and size + len(chunk) > _MAX_PAYLOAD:
                await send_packet(packet)
                packet, size = [], 0
            packet.append(chunk)
            size += len(chunk)
        collected.clear()
        if packet:
            await send_packet(packet)

    async def send_chunk(chunk: Any) -> None:
        collected = _collected.get()
        if collected is None:
            await original_send_chunk(chunk)
        elif isinstance(chunk, data_chunk):
            collected.append(bytes(chunk))
        else:  # keep the order: data collected so far goes first
            await flush_collected(collected)
            await original_send_chunk(chunk)

    def bundled(original: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if _collected.get() is not None:  # nested: the outermost call sends
                await original()
                return
            collected: list[bytes] = []
            token = _collected.set(collected)
            try:
                await original()
            finally:
                _collected.reset(token)
            # Not reached when sending failed: the chunks are in aiortc's sent queue, and its
            # retransmission timer sends them again, as it would after a lost packet.
            if collected:
                await flush_collected(collected)

        return run

    transport._send_chunk = send_chunk
    transport._transmit = bundled(original_transmit)
    transport._data_channel_flush = bundled(original_flush)
    return True
