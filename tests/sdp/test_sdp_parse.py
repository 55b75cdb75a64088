"""rt_widget.sdp on small hand-written SDPs: tolerance, errors, and the shape of the frames."""

from __future__ import annotations

import textwrap

import pandas as pd
import pytest

from rt_widget import sdp

# A minimal answer in the style of OpenAI's, written for these tests.
ANSWER = """\
v=0
o=- 1 2 IN IP4 0.0.0.0
s=-
t=0 0
a=ice-lite
a=group:BUNDLE 0 1
a=msid-semantic:WMS *
a=fingerprint:sha-256 01:02:03:04:05:06:07:08
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 0.0.0.0
a=mid:0
a=setup:passive
a=ice-ufrag:uf
a=ice-pwd:secretsecretsecret
a=rtpmap:111 opus/48000/2
a=fmtp:111 minptime=10;useinbandfec=1
a=candidate:1 1 udp 2130706431 192.0.2.1 3478 typ host
a=candidate:2 1 tcp 1671430143 192.0.2.1 443 typ host tcptype passive
m=application 9 UDP/DTLS/SCTP webrtc-datachannel
a=mid:1
a=sctp-port:5000
a=max-message-size:262144
"""


def test_line_endings_indentation_and_trailing_space_do_not_matter():
    expected = sdp.parse(ANSWER)
    lines = ANSWER.splitlines()
    assert sdp.parse("\r\n".join(lines) + "\r\n") == expected
    assert sdp.parse("\r".join(lines)) == expected
    assert sdp.parse("\n".join(f"  {line} \t" for line in lines)) == expected
    assert sdp.parse("\ufeff" + ANSWER) == expected  # a byte order mark from a Windows editor
    # Blank lines are skipped but still counted, so line numbers match the text.
    spaced = sdp.parse("\n\n" + ANSWER)
    assert spaced.media[0].number == expected.media[0].number + 2
    assert [a.number for a in spaced.attributes] == [a.number + 2 for a in expected.attributes]


def test_a_parsed_answer_reads_as_written():
    desc = sdp.parse(ANSWER)
    assert desc.ice_lite and desc.bundle == [["0", "1"]]
    audio, data = desc.media
    assert (audio.mid, audio.setup, audio.ice_ufrag, audio.ice_pwd) == (
        "0", "passive", "uf", "secretsecretsecret"
    )
    assert audio.direction is None  # not written; RFC 8866's default is sendrecv
    assert audio.codecs == [
        sdp.Codec(111, "opus", 48000, 2, {"minptime": "10", "useinbandfec": "1"},
                  "minptime=10;useinbandfec=1")
    ]
    assert (data.mid, data.sctp_port, data.max_message_size) == ("1", 5000, 262144)
    # The data section sets no credentials, setup or fingerprint of its own: none to inherit.
    assert (data.ice_ufrag, data.setup) == (None, None)
    assert data.fingerprints == desc.fingerprints


def test_the_summary_of_an_answer():
    assert sdp.summary(ANSWER) == textwrap.dedent("""\
        audio (mid 0, sendrecv): opus/48000/2 (pt 111)
        data channel (mid 1): SCTP port 5000, messages up to 262144 bytes
        2 candidates: 1 host UDP port 3478, 1 host TCP port 443 passive
        BUNDLE 0 1: these sections share one ICE/DTLS transport
        ICE-lite peer: it only answers connectivity checks; the other side drives ICE
        DTLS role passive: this side waits for the other to start the DTLS handshake
        DTLS certificate fingerprint: sha-256 01:02:03:…:07:08""")


# -- what makes a text not SDP --------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\r\n  \t\n"])
def test_an_empty_text_is_an_error(text):
    with pytest.raises(sdp.SdpError, match="empty") as caught:
        sdp.parse(text)
    assert caught.value.line_number is None


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        ("v=1\ns=-", 1),
        ("\n\no=- 1 2 IN IP4 0.0.0.0\nv=0", 3),
        ('{"type": "answer", "sdp": "v=0..."}', 1),
    ],
)
def test_a_text_must_start_with_v0(text, line_number):
    with pytest.raises(sdp.SdpError, match="v=0") as caught:
        sdp.parse(text)
    assert caught.value.line_number == line_number
    assert str(caught.value).startswith(f"line {line_number}: ")
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    ("m_line", "message"),
    [
        ("m=audio", "needs"),
        ("m=audio 9", "needs"),
        ("m=audio nine UDP/TLS/RTP/SAVPF 111", "port 'nine' is not a number"),
        ("m=audio 70000 UDP/TLS/RTP/SAVPF 111", "out of range"),
        ("m=audio -9 UDP/TLS/RTP/SAVPF 111", "not a number"),
        ("m=audio ٩ UDP/TLS/RTP/SAVPF 111", "not a number"),  # an Arabic-Indic nine
    ],
)
def test_an_m_line_that_does_not_read_is_an_error_with_its_line_number(m_line, message):
    with pytest.raises(sdp.SdpError, match=message) as caught:
        sdp.parse(f"v=0\ns=-\n{m_line}\na=mid:0")
    assert (caught.value.line_number, caught.value.line) == (3, m_line)


def test_parse_wants_text():
    with pytest.raises(TypeError):
        sdp.parse(ANSWER.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sdp.media_frame(42)  # type: ignore[arg-type]


# -- tolerance ------------------------------------------------------------------------------------


def test_unknown_and_malformed_lines_are_kept_raw_and_reported():
    desc = sdp.parse(
        "v=0\n"
        "s=-\n"
        "b=AS:30\n"
        "a=x-custom:hello\n"
        "m=audio 9/2 RTP/AVP 96\n"  # a port count: allowed by the grammar, read as port 9
        "this is not sdp\n"
        "a=rtpmap:96\n"
        "a=rtpmap:abc opus/48000\n"
        "a=candidate:1 1 udp 1 192.0.2.1 port typ host\n"
        "a=ice-pwd:\n"
        "a=rtpmap:96 opus/48000/2\n"
        "x=whatever\n"
    )
    audio = desc.media[0]
    assert audio.port == 9
    assert [c.label for c in audio.codecs] == ["opus/48000/2"]  # bad rtpmaps left no trace
    assert audio.candidates == []
    assert [(a.name, a.parsed) for a in audio.attributes] == [
        ("rtpmap", False), ("rtpmap", False), ("candidate", False), ("ice-pwd", False),
        ("rtpmap", True),
    ]
    assert [(a.name, a.value, a.parsed) for a in desc.attributes] == [
        ("x-custom", "hello", False)
    ]
    assert desc.other_lines == [sdp.Line(3, "b", "AS:30")]
    assert audio.other_lines == [sdp.Line(6, "", "this is not sdp"), sdp.Line(12, "x", "whatever")]
    assert [p.split(":")[0] for p in desc.problems] == [
        "line 6", "line 7", "line 8", "line 9", "line 10"
    ]
    assert "port 'port' is not a number" in desc.problems[3]
    assert "5 lines not understood" in sdp.summary(desc)


def test_static_payload_types_are_named_without_rtpmap():
    desc = sdp.parse("v=0\nm=audio 9 RTP/AVP 0 8 9 96\na=rtpmap:96 opus/48000/2")
    assert [c.label for c in desc.media[0].codecs] == ["PCMU/8000", "PCMA/8000", "G722/8000",
                                                       "opus/48000/2"]
    video = sdp.parse("v=0\nm=video 9 RTP/AVP 0 97").media[0]
    assert [c.label for c in video.codecs] == ["pt 0", "pt 97"]  # no static names for video


def test_codecs_follow_the_m_line_order_whatever_the_attribute_order():
    desc = sdp.parse(
        "v=0\nm=audio 9 RTP/AVP 8 111\n"
        "a=rtpmap:111 opus/48000/2\n"
        "a=rtcp-fb:* nack\n"  # applies to every payload type of the section
        "a=rtcp-fb:111 transport-cc\n"
        "a=fmtp:111 stereo=1\n"
        "a=fmtp:111 sprop-stereo=1\n"
        "a=rtpmap:120 extra/8000\n"  # not on the m= line: kept, listed last
    )
    codecs = desc.media[0].codecs
    assert [c.payload_type for c in codecs] == [8, 111, 120]
    assert codecs[1].rtcp_fb == ["transport-cc", "nack"]
    assert codecs[0].rtcp_fb == ["nack"]
    assert (codecs[1].fmtp_line, codecs[1].fmtp) == (
        "stereo=1;sprop-stereo=1", {"stereo": "1", "sprop-stereo": "1"}
    )


def test_session_level_values_apply_to_sections_that_do_not_set_their_own():
    desc = sdp.parse(
        "v=0\na=sendonly\na=setup:actpass\na=ice-ufrag:sess\na=ice-pwd:sesspwd\n"
        "m=audio 9 RTP/AVP 0\n"
        "m=audio 9 RTP/AVP 0\na=recvonly\na=setup:active\na=ice-ufrag:own\na=ice-pwd:ownpwd\n"
    )
    first, second = desc.media
    assert (first.direction, first.setup, first.ice_ufrag, first.ice_pwd) == (
        "sendonly", "actpass", "sess", "sesspwd"
    )
    assert (second.direction, second.setup, second.ice_ufrag, second.ice_pwd) == (
        "recvonly", "active", "own", "ownpwd"
    )
    # attributes_frame shows where each line really was.
    frame = sdp.attributes_frame(desc)
    assert frame.loc[frame["name"] == "setup", "section"].tolist() == ["session", "audio"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("a=msid-semantic:WMS *", sdp.MsidSemantic("WMS", ["*"])),
        ("a=msid-semantic:WMS*", sdp.MsidSemantic("WMS", ["*"])),
        ("a=msid-semantic: WMS", sdp.MsidSemantic("WMS", [])),
        ("a=msid-semantic:WMS a b", sdp.MsidSemantic("WMS", ["a", "b"])),
        ("a=msid-semantic:FOO x", sdp.MsidSemantic("FOO", ["x"])),
    ],
)
def test_msid_semantic(line, expected):
    assert sdp.parse(f"v=0\n{line}").msid_semantic == expected


def test_candidates_in_every_form_seen_in_browsers():
    value = (
        "candidate:842163049 1 UDP 1677729535 abcd-1234.local 61665 typ srflx "
        "raddr 0.0.0.0 rport 0 generation 0 ufrag sXa3 network-id 1 network-cost 10 x-new yes"
    )
    candidate = sdp.Candidate.from_value(value)  # as in RTCIceCandidate.candidate, with prefix
    assert candidate == sdp.Candidate(
        "842163049", 1, "udp", 1677729535, "abcd-1234.local", 61665, "srflx",
        related_address="0.0.0.0", related_port=0, generation=0, ufrag="sXa3",
        network_id=1, network_cost=10, extensions={"x-new": "yes"},
    )
    assert candidate.type_preference == 100
    for bad in ["", "1 1 udp 1 192.0.2.1 9 host", "1 1 udp p 192.0.2.1 9 typ host",
                "1 1 udp 1 192.0.2.1 99999 typ host", "1 1 udp 1 192.0.2.1 9 typ host rport x"]:
        with pytest.raises(ValueError):
            sdp.Candidate.from_value(bad)


def test_a_rejected_section_is_said_so():
    text = "v=0\nm=video 0 UDP/TLS/RTP/SAVPF 96\na=mid:v\na=inactive"
    assert sdp.summary(text).splitlines()[0] == "video (mid v): rejected (port 0)"


# -- frames ---------------------------------------------------------------------------------------


def test_frames_accept_text_or_a_parsed_description():
    desc = sdp.parse(ANSWER)
    for helper in (sdp.media_frame, sdp.codecs_frame, sdp.candidates_frame, sdp.attributes_frame):
        pd.testing.assert_frame_equal(helper(ANSWER), helper(desc))
    assert sdp.summary(ANSWER) == sdp.summary(desc)


def test_frames_have_their_columns_and_dtypes_even_when_empty():
    empty = sdp.parse("v=0")
    for helper in (sdp.media_frame, sdp.codecs_frame, sdp.candidates_frame, sdp.attributes_frame):
        full, none = helper(ANSWER), helper(empty)
        assert len(none) == 0 and len(full) > 0
        assert none.dtypes.to_dict() == full.dtypes.to_dict(), helper.__name__
    assert sdp.summary(empty) == (
        "no ICE candidates in the SDP (trickled separately, or none gathered yet)"
    )


def test_frame_columns():
    assert sdp.media_frame(ANSWER).columns.tolist() == [
        "mline", "mid", "kind", "port", "protocol", "direction", "codecs", "n_candidates",
        "fingerprint_algorithm", "setup", "sctp_port", "max_message_size", "cname",
    ]
    assert sdp.codecs_frame(ANSWER).columns.tolist() == [
        "mline", "mid", "kind", "payload_type", "name", "clock_rate", "channels", "fmtp", "rtcp_fb",
    ]
    candidates = sdp.candidates_frame(ANSWER)
    assert candidates.columns.tolist() == [
        "mline", "mid", "foundation", "component", "transport", "priority", "type_preference",
        "address", "port", "type", "tcptype", "related_address", "related_port", "generation",
        "ufrag", "network_id", "network_cost",
    ]
    # Ports stay integers; missing ones are <NA>, not NaN floats.
    assert candidates["port"].dtype == "int64"
    assert candidates["related_port"].dtype == "Int64"
    assert sdp.attributes_frame(ANSWER).columns.tolist() == [
        "line", "section", "mline", "mid", "name", "value", "parsed",
    ]


def test_attributes_frame_is_in_text_order_and_hides_the_ice_password():
    frame = sdp.attributes_frame(ANSWER)
    assert frame["line"].is_monotonic_increasing
    assert frame["line"].tolist()[:4] == [5, 6, 7, 8]
    assert frame.loc[frame["name"] == "ice-pwd", "value"].tolist() == ["…"]
    unredacted = sdp.attributes_frame(ANSWER, redact=False)
    assert unredacted.loc[unredacted["name"] == "ice-pwd", "value"].tolist() == [
        "secretsecretsecret"
    ]


def test_the_ice_password_stays_out_of_reprs_and_problem_reports():
    desc = sdp.parse(ANSWER.replace("a=ice-pwd:secretsecretsecret",
                                    "a=ice-pwd:secretsecretsecret\na=ice-pwd:"))
    assert "secretsecretsecret" not in repr(desc)
    assert "secretsecretsecret" not in repr(desc.media[0].attributes)
    assert desc.problems and "secret" not in " ".join(desc.problems)
