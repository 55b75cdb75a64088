"""rt_widget.sdp on the two descriptions of a real call: the offer Chromium made for the widget
(``w.sdp_offer``) and the answer the built-in emulator gave it (``w.sdp_answer``).

One call is placed in JupyterLab in headless Chromium (the end-to-end harness, tests/e2e), with a
click on Connect; the test reads both descriptions from the kernel once the call is up, and
checks what the workshop's notebook 03 teaches about them: Opus in the audio section, the data
channel's SCTP section, BUNDLE, ICE candidates, and DTLS roles that fit together. Both texts are
written to test-artifacts/ for a look.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rt_widget import sdp

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def live_call(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Offer, answer and the handshake's phases of one widget call to the emulator."""
    chromium = shutil.which("chromium")
    if not chromium:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from e2e.driver import Driven
    from e2e.harness import CHROMIUM_ARGS, LabServer, Notebook
    from playwright.sync_api import sync_playwright

    lab = LabServer(tmp_path_factory.mktemp("sdp-lab")).start()
    try:
        with sync_playwright() as p:
            # The default fake microphone (a beep) is enough: this call is about the handshake.
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=list(CHROMIUM_ARGS))  # fmt: skip
            context = browser.new_context(permissions=["microphone"])
            cell = "from rt_widget import RealtimeWidget\nw = RealtimeWidget()\nw"
            nb = Notebook(lab, context.new_page(), Notebook.write(lab, [cell]))
            try:
                nb.open()
                nb.run_all()
                d = Driven(nb)
                d.wait_rendered()
                d.click("connect")
                d.wait_state("connected")
                d.wait_event("session.created")
                # The peer connection's own "connected" can be reported after the first event.
                d.wait(
                    "{'pc_connected'} <= {r['event'].get('phase') for r in w.log}",
                    what="the pc_connected phase",
                )
                call = {
                    "offer": d.ev("w.sdp_offer"),
                    "answer": d.ev("w.sdp_answer"),
                    "logged": [r["event"] for r in d.records(type_="widget.sdp")],
                    "phases": [r["event"]["phase"] for r in d.records(type_="widget.phase")],
                }
                d.click("disconnect")
                d.wait_state("closed")
            finally:
                nb.close()
                context.close()
                browser.close()
    finally:
        lab.stop()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "live_chromium_offer.sdp").write_text(call["offer"])
    (ARTIFACTS / "live_emulator_answer.sdp").write_text(call["answer"])
    yield call


@pytest.fixture(scope="module")
def offer(live_call: dict) -> sdp.SessionDescription:
    return sdp.parse(live_call["offer"])


@pytest.fixture(scope="module")
def answer(live_call: dict) -> sdp.SessionDescription:
    return sdp.parse(live_call["answer"])


def test_the_call_connected_with_these_descriptions(live_call):
    # w.sdp_offer / w.sdp_answer are the call's widget.sdp records, one of each.
    assert [(e["role"], e["sdp"]) for e in live_call["logged"]] == [
        ("offer", live_call["offer"]), ("answer", live_call["answer"]),
    ]  # fmt: skip
    phases = live_call["phases"]
    assert {"ice_connected", "ice_completed"} & set(phases), phases
    for phase in ("offer_created", "answer_received", "pc_connected", "channel_open"):
        assert phase in phases, phases
    assert (
        phases.index("offer_created")
        < phases.index("answer_received")
        < phases.index("channel_open")
    )


def test_both_parse_completely(offer, answer):
    assert offer.problems == [] and answer.problems == []
    assert [m.kind for m in offer.media] == ["audio", "application"]
    # RFC 3264: the answer has the offer's sections, in the offer's order, with the same mids.
    assert [(m.kind, m.mid) for m in answer.media] == [(m.kind, m.mid) for m in offer.media]


def test_opus_in_the_audio_sections(offer, answer):
    offered = offer.media[0]
    assert offered.is_rtp and offered.direction == "sendrecv"
    opus = [c for c in offered.codecs if (c.name or "").lower() == "opus"]
    assert len(opus) == 1, offered.codecs
    assert (opus[0].clock_rate, opus[0].channels) == (48_000, 2)
    # Chromium asks for Opus's in-band forward error correction
    assert opus[0].fmtp.get("useinbandfec") == "1"
    assert offered.codecs[0] is opus[0], "Chromium prefers Opus: it is listed first"
    assert offered.rtcp_mux

    answered = answer.media[0]
    assert answered.direction == "sendrecv"
    chosen = answered.codecs[0]  # the answerer's first payload type is the one it will send
    assert (chosen.name.lower(), chosen.payload_type) == ("opus", opus[0].payload_type)
    assert {c.payload_type for c in answered.codecs} <= {c.payload_type for c in offered.codecs}
    frame = sdp.codecs_frame(answer)
    assert frame.loc[0, ["kind", "name", "clock_rate"]].tolist() == ["audio", "opus", 48_000]


def test_the_data_channel_section(offer, answer):
    for desc in (offer, answer):
        data = desc.media[1]
        assert data.is_data_channel and not data.is_rtp
        assert (data.kind, data.protocol, data.formats) == (
            "application",
            "UDP/DTLS/SCTP",
            ["webrtc-datachannel"],
        )
        assert data.sctp_port == 5000
        assert data.max_message_size == 262_144  # the 256 KiB limit on one event
    media = sdp.media_frame(answer).set_index("kind")
    assert media.loc["application", "sctp_port"] == 5000


def test_bundle(offer, answer):
    mids = [m.mid for m in offer.media]
    assert offer.bundle == [mids] and answer.bundle == [mids]
    # Bundled: in the answer both sections list the same transport addresses.
    audio, data = answer.media
    assert [(c.address, c.port) for c in audio.candidates] == [
        (c.address, c.port) for c in data.candidates
    ]
    assert "BUNDLE 0 1" in sdp.summary(answer)


def test_candidates(live_call, offer, answer):
    # The answer always lists where the emulator listens: host UDP candidates (no STUN or TURN),
    # the same for both bundled sections, complete (no trickle).
    answered = sdp.candidates_frame(answer)
    assert len(answered) >= 1 and set(answered["mid"]) == {"0", "1"}
    assert (answered["transport"] == "udp").all() and (answered["type"] == "host").all()
    assert all(m.end_of_candidates for m in answer.media)
    # The widget posts its offer without waiting for ICE gathering to finish, so the offer lists
    # the candidates found by then (possibly none; the emulator then learns the browser's
    # address from its checks). Whatever it lists is well formed, per section.
    offered = sdp.candidates_frame(offer)
    assert len(offered) == sum(len(m.candidates) for m in offer.media)
    assert set(offered["mid"]) <= {"0", "1"}
    assert set(offered["type"]) <= {"host", "srflx", "prflx", "relay"}
    assert set(offered["transport"]) <= {"udp", "tcp"} and (offered["component"] == 1).all()
    # Chromium gives UDP host candidates the top type preference (126).
    host_udp = offered[(offered["type"] == "host") & (offered["transport"] == "udp")]
    assert (host_udp["type_preference"] == 126).all()
    assert (offered.loc[offered["tcptype"] == "active", "port"] == 9).all()  # they never listen
    # ICE credentials differ per side, and frames never show the password.
    assert offer.media[0].ice_ufrag and answer.media[0].ice_ufrag
    assert offer.media[0].ice_ufrag != answer.media[0].ice_ufrag
    shown = sdp.attributes_frame(answer).to_string() + sdp.summary(answer) + repr(answer)
    assert answer.media[0].ice_pwd not in shown


def test_dtls_roles_fit_together(offer, answer):
    offered = {m.setup for m in offer.media}
    answered = {m.setup for m in answer.media}
    # The offerer leaves the role open; the answerer takes one, and so the browser gets the other.
    assert offered == {"actpass"}
    assert answered <= {"active", "passive"} and len(answered) == 1
    assert answered == {"active"}  # aiortc, like OpenAI's servers, starts the DTLS handshake
    for desc in (offer, answer):
        algorithms = {f.algorithm for m in desc.media for f in m.fingerprints}
        assert "sha-256" in algorithms
        value = next(f.value for f in desc.media[0].fingerprints if f.algorithm == "sha-256")
        assert len(value.split(":")) == 32  # 256 bits, colon-separated bytes
    fingerprints = [{f.value for f in desc.media[0].fingerprints} for desc in (offer, answer)]
    assert not fingerprints[0] & fingerprints[1], "each side has its own certificate"
