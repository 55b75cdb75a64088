"""Faster event bursts on aiortc's data channel: SCTP chunk bundling and a bounded window.

aiortc sends every DATA chunk in a packet of its own ("no bundling for now" in its source). A
Realtime event is ~200 bytes, so a 10,000-event burst becomes 10,000 DTLS records and UDP
datagrams, each answered by a SACK: per-packet work on both ends capped a burst near 1,000
events/s with an aiortc receiver. RFC 4960 (6.10) lets a sender bundle chunks into one packet up
to the path MTU, which cuts the packets about six-fold.

Bundling alone gives small packets in a burst: each SACK frees the room of the one packet it
acknowledges, and the sender fills just that. Like TCP's Nagle algorithm, new data is held back
while data is in flight and less than a packet's worth of window is free, so packets go out
full (paced events, with nothing in flight, still go at once).

aiortc's congestion window also grows without bound on a lossless path (loopback). A receiver
that is descheduled for a moment (a busy 2-core machine) then has more datagrams in flight than
its socket buffer holds (~200 KB by default on Linux, counted in kernel buffers of ~2 KB per
datagram): the overflow is lost, and SCTP waits a whole retransmission timeout (>= 1 s) to resend
it. Capping the window at :data:`MAX_CWND` keeps a burst within the receiver's buffer; starting
at the cap skips slow start, which has nothing to probe on loopback or a LAN.

Last, aiortc creates a flush task per message sent; while one is pending, it is handed out again.

:func:`adopt` makes these changes by giving one emulator-side transport the class below, which
overrides three of aiortc's private methods and its ``_cwnd`` attribute and reads a few more of
its private attributes. It checks they exist (aiortc 1.16 has them) and is a no-op otherwise;
the emulator's tests exercise the data channel through it.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
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
    "_flight_size",
    "_forward_tsn_chunk",
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

    def _data_channel_flush(self) -> Awaitable[None]:  # type: ignore[override]
        # aiortc schedules a flush task for every message sent; while one is pending it will
        # take the later messages too, so it is handed out again instead of a new task.
        pending: asyncio.Future[None] | None = self.__dict__.get("_rt_flush")
        if pending is not None and not pending.done():
            return pending
        task = asyncio.ensure_future(self._rt_bundled(super()._data_channel_flush))
        self.__dict__["_rt_flush"] = task
        return task

    async def _rt_bundled(self, run: Any) -> None:
        if _collected.get() is not None:  # nested in a flush or transmit: the outer one sends
            await run()
            return
        if self._rt_hold():
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

    def _rt_hold(self) -> bool:
        """Whether to send nothing new yet: data is in flight and less than a packet's worth of
        window is free (Nagle-like; decided once per outermost flush or transmit, so that once
        sending starts it fills the window).

        Sending whatever room a SACK frees would keep packets as small as the ones acknowledged.
        It never stalls: with data in flight, a SACK or the retransmission timer comes back here.
        Retransmissions are never held: aiortc shrinks the window below the cap whenever it
        marks a chunk for retransmission (loss halves it, a timeout sets one packet), and below
        the cap nothing is held. Paced events find nothing in flight and go at once.
        """
        if not self._flight_size or self._cwnd < MAX_CWND or self._forward_tsn_chunk is not None:
            return False
        return self._cwnd - self._flight_size < _MAX_PAYLOAD

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
    del transport.__dict__["_cwnd"]
    transport.__class__ = BundlingSctpTransport
    # Start at the cap: slow start probes a path's capacity, pointless on loopback or a LAN,
    # and it would hold a burst at a few packets per round trip for its first hundreds of SACKs.
    transport._cwnd = MAX_CWND
    return True
