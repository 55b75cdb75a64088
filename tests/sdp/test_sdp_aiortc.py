"""rt_widget.sdp on SDPs made just now by aiortc, the stack the emulator answers with."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rt_widget import sdp

DATA = Path(__file__).parent / "data"

aiortc = pytest.importorskip("aiortc")


async def offer_and_answer() -> tuple[str, str]:
    """An offer like the widget's (audio + the oai-events data channel) and aiortc's answer."""
    # No ICE servers: host candidates only, so the test needs no network.
    config = aiortc.RTCConfiguration(iceServers=[])
    caller, callee = aiortc.RTCPeerConnection(config), aiortc.RTCPeerConnection(config)
    try:
        caller.addTransceiver("audio", direction="sendrecv")
        caller.createDataChannel("oai-events")
        await caller.setLocalDescription(await caller.createOffer())
        await callee.setRemoteDescription(caller.localDescription)
        callee.addTrack(aiortc.mediastreams.AudioStreamTrack())
        await callee.setLocalDescription(await callee.createAnswer())
        return caller.localDescription.sdp, callee.localDescription.sdp
    finally:
        await caller.close()
        await callee.close()


@pytest.fixture(scope="module")
def pair() -> tuple[str, str]:
    return asyncio.run(offer_and_answer())


def test_aiortc_answer(pair):
    offer_text, answer_text = pair
    assert "\r\n" in answer_text
    offer, answer = sdp.parse(offer_text), sdp.parse(answer_text)
    assert answer.problems == []
    assert answer.bundle == offer.bundle == [["0", "1"]]
    assert answer.msid_semantic == sdp.MsidSemantic("WMS", ["*"])
    assert not answer.ice_lite

    audio, data = answer.media
    assert (audio.kind, audio.mid, audio.direction, audio.setup) == (
        "audio", "0", "sendrecv", "active"
    )
    assert audio.codecs[0].label == "opus/48000/2"
    assert audio.rtcp_mux and audio.cname
    assert audio.end_of_candidates  # aiortc gathers before answering: no trickle
    assert {f.algorithm for f in audio.fingerprints} >= {"sha-256"}
    assert (data.kind, data.mid, data.is_data_channel, data.sctp_port) == (
        "application", "1", True, 5000
    )
    assert data.max_message_size and data.max_message_size > 0
    assert data.ice_ufrag == audio.ice_ufrag  # bundled: one transport, one set of credentials

    candidates = sdp.candidates_frame(answer)
    assert set(candidates["type"]) <= {"host"}
    assert set(candidates["transport"]) <= {"udp"}
    assert len(candidates) == sum(len(m.candidates) for m in answer.media)
    assert {m.setup for m in offer.media} == {"actpass"}
    assert "DTLS role active" in sdp.summary(answer)


async def answer_to(offer_text: str) -> str:
    """What the emulator does with a browser's offer: aiortc answers it, candidates gathered."""
    pc = aiortc.RTCPeerConnection(aiortc.RTCConfiguration(iceServers=[]))
    try:
        await pc.setRemoteDescription(aiortc.RTCSessionDescription(sdp=offer_text, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


def test_aiortc_answer_to_a_real_chrome_offer():
    offer_text = (DATA / "chrome_offer_audio_video_datachannel.sdp").read_bytes().decode()
    offer, answer = sdp.parse(offer_text), sdp.parse(asyncio.run(answer_to(offer_text)))
    assert answer.problems == []
    # An answer has one section per offered section, in the same order, with the same mids.
    assert [(m.mid, m.kind) for m in answer.media] == [
        ("0", "video"), ("1", "audio"), ("2", "application")
    ]
    assert answer.bundle == [["0", "1", "2"]]
    # It picks among the offered codecs and keeps their payload types.
    offered = sdp.codecs_frame(offer)[["mid", "payload_type", "name", "clock_rate"]]
    answered = sdp.codecs_frame(answer)[["mid", "payload_type", "name", "clock_rate"]]
    assert len(answered) > 0
    assert len(answered.merge(offered)) == len(answered)
    assert answer.section("1").codecs[0].label == "opus/48000/2"
    data = answer.section("2")
    assert (data.protocol, data.sctp_port) == ("UDP/DTLS/SCTP", 5000)
    assert {m.setup for m in answer.media} == {"active"}  # the offer said actpass
    assert "SCTP port 5000" in sdp.summary(answer)
