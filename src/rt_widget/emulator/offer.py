"""A first look at an SDP offer, so a bad one gets a 400 that says what is wrong.

aiortc's parser accepts almost anything; these checks catch what a client most often sends by
mistake (an empty body, JSON, an error page, a description without ICE or DTLS parameters)
before the peer connection sees it.

Candidates with an mDNS name (``a=candidate:... 1a2b.local ...``, how browsers hide local
addresses) are dropped: aiortc would resolve each before answering, which takes up to a second
when it fails. Like OpenAI's ICE-lite servers, the emulator needs no browser candidates at all:
it learns the browser's address from the browser's own connectivity checks.
"""

from __future__ import annotations

from .errors import ApiError

MAX_OFFER_BYTES = 256 * 1024


def _invalid(why: str) -> ApiError:
    return ApiError(
        400,
        f"Invalid SDP offer: {why}. Post the offer from RTCPeerConnection.createOffer() "
        "(its .sdp text) as the request body with Content-Type: application/sdp.",
        code="invalid_offer",
        param="sdp",
    )


def check_offer(sdp: str) -> str:
    """The offer with CRLF line endings, or :class:`ApiError` 400 saying what is missing."""
    if len(sdp) > MAX_OFFER_BYTES:
        raise _invalid(f"it is {len(sdp)} bytes, more than {MAX_OFFER_BYTES}")
    lines = [line.strip() for line in sdp.strip().splitlines()]
    if not lines or lines[0] != "v=0":
        raise _invalid("it does not start with 'v=0'")
    media = [line for line in lines if line.startswith("m=")]
    if not media:
        raise _invalid("it has no media section (m= line)")
    kinds = {line[2:].split(" ", 1)[0] for line in media}
    if not kinds & {"audio", "application"}:
        raise _invalid("it offers neither audio nor a data channel")
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if not any(line.startswith(attribute) for line in lines):
            raise _invalid(f"it has no '{attribute[:-1]}' line")
    kept = [line for line in lines if not _is_mdns_candidate(line)]
    return "\r\n".join(kept) + "\r\n"


def _is_mdns_candidate(line: str) -> bool:
    # a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ ...
    fields = line.split()
    return line.startswith("a=candidate:") and len(fields) > 4 and fields[4].endswith(".local")
