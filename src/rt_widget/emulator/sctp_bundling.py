"""Faster event bursts on aiortc's data channel: SCTP chunk bundling and a bounded window.

aiortc sends every DATA chunk in a packet of its own ("no bundling for now" in its source). A
Realtime event is ~200 bytes, so a 10,000-event burst becomes 10,000 DTLS records and UDP
datagrams, each answered by a SACK: per-packet work on both ends capped a burst near 1,000
events/s with an aiortc receiver. RFC 4960 (6.10) lets a sender bundle chunks into one packet up
to the path MTU, which cuts the packets about six-fold.

aiortc's congestion window also grows without bound on a lossless path (loopback). A receiver
that is descheduled for a moment (a busy 2-core machine) then has more datagrams in flight than
its socket buffer holds (~200 KB by default on Linux, counted in kernel buffers of ~2 KB per
datagram): the overflow is lost, and SCTP waits a whole retransmission timeout (>= 1 s) to resend
it. Capping the window at :data:`MAX_CWND` keeps a burst within the receiver's buffer.

Both changes are made by :func:`adopt`, which gives one emulator-side transport the class below;
the class overrides three of aiortc's private methods and its ``_cwnd`` attribute, so it is
applied only when those exist (aiortc 1.9 through 1.16 have them), and is a no-op otherwise.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from struct import pack
from typing import Any

from aiortc import rtcsctptransport as sctp
from aiortc.rtcsctptransport import RTCSctpTransport

from .log import log

MAX_CWND = 48 * 1024  # bytes of user data in flight: ~45 full packets
_MAX_PAYLOAD = getattr(sctp, "SCTP_MAX_PACKET_LENGTH", 1189) - 12  # minus the common header
_crc32c: Callable[[bytes], int] = sctp.crc32c  # type: ignore[attr-defined]  # the one aiortc uses
_OVERRIDDEN = ("_send_chunk", "_transmit", "_data_channel_flush")
_USED = (
    "_local_port",
    "_remote_port",
    "_remote_verification_tag",
    "_cwnd",
    "_RTCSctpTransport__transport",
)

# DATA chunks collected by the current task's outermost flush or transmit; None outside one.
# A context variable: aiortc flushes from several tasks, and each must bundle only its own.
_collected: contextvars.ContextVar[list[bytes] | None] = contextvars.ContextVar(
    "rt_widget_sctp_bundle", default=None
)


class BundlingSctpTransport(RTCSctpTransport):
    """aiortc's SCTP transport, sending collected DATA chunks several to a packet.

    Names added here start with ``_rt_`` to stay clear of aiortc's own attributes.
    """

    @property
    def _cwnd(self) -> int:
        return int(self.__dict__["_rt_cwnd"])

    @_cwnd.setter
    def _cwnd(self, value: int) -> None:
        self.__dict__["_rt_cwnd"] = min(value, MAX_CWND)

    async def _send_chunk(self, chunk: Any) -> None:
        collected = _collected.get()
        if collected is None:
            await super()._send_chunk(chunk)
        elif isinstance(chunk, sctp.DataChunk):
            collected.append(bytes(chunk))
        else:  # a control chunk: keep the order, the data collected so far goes first
            await self._rt_send_collected(collected)
            await super()._send_chunk(chunk)

    async def _transmit(self) -> None:
        await self._rt_bundled(super()._transmit)

    async def _data_channel_flush(self) -> None:
        await self._rt_bundled(super()._data_channel_flush)

    async def _rt_bundled(self, run: Any) -> None:
        if _collected.get() is not None:  # nested in a flush or transmit: the outer one sends
            await run()
            return
        collected: list[bytes] = []
        token = _collected.set(collected)
        try:
            await run()
        finally:
            _collected.reset(token)
        # Not reached when sending failed: the chunks are in aiortc's sent queue, and its
        # retransmission timer sends them again, as after a lost packet.
        await self._rt_send_collected(collected)

    async def _rt_send_collected(self, collected: list[bytes]) -> None:
        packet: list[bytes] = []
        size = 0
        for chunk in collected:
            if packet and size + len(chunk) > _MAX_PAYLOAD:
                await self._rt_send_packet(packet)
                packet, size = [], 0
            packet.append(chunk)
            size += len(chunk)
        collected.clear()
        if packet:
            await self._rt_send_packet(packet)

    async def _rt_send_packet(self, chunks: list[bytes]) -> None:
        body = b"".join(chunks)
        header = pack("!HHL", self._local_port, self._remote_port, self._remote_verification_tag)
        checksum = _crc32c(header + b"\x00\x00\x00\x00" + body)
        dtls = self.__dict__["_RTCSctpTransport__transport"]
        await dtls._send_data(header + pack("<L", checksum) + body)


def adopt(transport: RTCSctpTransport) -> bool:
    """Make an aiortc SCTP transport bundle chunks and bound its window; True if it now does."""
    if (
        type(transport) is not RTCSctpTransport
        or not all(callable(getattr(RTCSctpTransport, name, None)) for name in _OVERRIDDEN)
        or not all(name in transport.__dict__ for name in _USED)
    ):
        log.debug("aiortc's SCTP transport is not the expected one; not bundling")
        return False
    cwnd = transport.__dict__.pop("_cwnd")
    transport.__class__ = BundlingSctpTransport
    transport._cwnd = cwnd  # through the capping setter
    return True
