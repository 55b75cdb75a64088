"""rt_widget.sdp on SDPs from outside this project (see data/README.md for where each is from).

Every expected value below was read off the files by hand, not produced by the parser.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rt_widget import sdp

DATA = Path(__file__).parent / "data"


def text_of(name: str) -> str:
    # Bytes, not read_text(): universal newlines would turn the CRLF files into LF.
    return (DATA / name).read_bytes().decode("utf-8")


ALL_FILES = sorted(p.name for p in DATA.glob("*.sdp"))
CRLF_FILES = [
    "openai_answer_ga_calls_2026-08.sdp",
    "openai_answer_2026-04.sdp",
    "openai_answer_2026-01.sdp",
    "aiortc_offer_2026-04.sdp",
    "aiortc_offer_2026-01.sdp",
]


def test_every_file_is_covered_and_the_line_endings_are_as_recorded():
    assert len(ALL_FILES) == 8
    for name in ALL_FILES:
        has_crlf = "\r\n" in text_of(name)
        assert has_crlf == (name in CRLF_FILES), name


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_line_is_understood_and_nothing_leaks_the_ice_password(name):
    desc = sdp.parse(text_of(name))
    assert desc.problems == []
    assert all(not line for m in desc.media for line in m.other_lines)
    passwords = {m.ice_pwd for m in desc.media} - {None}
    assert passwords, "every file carries ICE credentials"
    shown = [
        repr(desc),
        sdp.summary(desc),
        sdp.attributes_frame(desc).to_string(),
        sdp.media_frame(desc).to_string(),
        sdp.candidates_frame(desc).to_string(),
    ]
    for password in passwords:
        assert not any(password in text for text in shown)
    assert password in sdp.attributes_frame(desc, redact=False)["value"].tolist()


# -- OpenAI's answers -----------------------------------------------------------------------------


def test_openai_ga_calls_answer():
    desc = sdp.parse(text_of("openai_answer_ga_calls_2026-08.sdp"))
    assert desc.origin == sdp.Origin(
        "-", "8184931122902577674", "1786967632", "IN", "IP4", "0.0.0.0"
    )
    assert desc.ice_lite is True
    assert desc.bundle == [["0", "1"]]
    assert desc.msid_semantic == sdp.MsidSemantic("WMS", ["*"])
    fingerprint = sdp.Fingerprint(
        "sha-256",
        "A8:BB:42:19:E4:4E:70:0E:E5:80:DE:40:BB:57:E8:B5:"
        "A6:1E:8E:ED:D0:CE:A8:0B:2E:98:93:F0:9D:2E:44:6E",
    )
    # Written once, at session level, it applies to every section.
    assert desc.fingerprints == [fingerprint]
    assert [m.fingerprints for m in desc.media] == [[fingerprint], [fingerprint]]

    audio, data = desc.media
    assert (audio.kind, audio.mid, audio.port) == ("audio", "0", 9)
    assert audio.protocol == "UDP/TLS/RTP/SAVPF"
    assert (audio.direction, audio.setup) == ("sendrecv", "active")
    assert audio.rtcp_mux and audio.rtcp_rsize
    assert audio.formats == ["111"]
    assert audio.codecs == [
        sdp.Codec(111, "opus", 48000, 2, {"minptime": "10", "useinbandfec": "1"},
                  "minptime=10;useinbandfec=1", [])
    ]
    assert audio.ice_ufrag == "NGikpJ/u0/3oN5GD"
    assert audio.ice_pwd == "ZrAgINTcLMJzFyMkNRgHkP3eSB1FLxwd"
    assert audio.cname == "realtimeapi"
    assert audio.msid == ["realtimeapi audio"]
    assert [(s.attribute, s.value) for s in audio.ssrcs] == [
        ("cname", "realtimeapi"), ("msid", "realtimeapi audio"),
        ("mslabel", "realtimeapi"), ("label", "audio"),
    ]
    assert {s.ssrc for s in audio.ssrcs} == {1190514604}

    assert (data.kind, data.mid, data.protocol, data.formats) == (
        "application", "1", "UDP/DTLS/SCTP", ["webrtc-datachannel"]
    )
    assert (data.sctp_port, data.max_message_size, data.setup) == (5000, 1073741823, "active")
    assert data.is_data_channel and not data.is_rtp
    assert data.candidates == []

    frame = sdp.candidates_frame(desc)
    assert len(frame) == 6
    assert set(frame["mid"]) == {"0"}
    first = frame.iloc[0]
    assert first.dropna().to_dict() == {
        "mline": 0, "mid": "0", "foundation": "3506478603", "component": 1, "transport": "udp",
        "priority": 2130706431, "type_preference": 126, "address": "51.4.112.173", "port": 3478,
        "type": "host", "ufrag": "NGikpJ/u0/3oN5GD",
    }
    assert audio.candidates[1] == sdp.Candidate(
        "3717646455", 1, "tcp", 1671430143, "51.4.112.173", 443, "host",
        tcptype="passive", ufrag="NGikpJ/u0/3oN5GD",
    )
    assert audio.candidates[1].type_preference == 99  # TCP ranks below UDP (126)
    by_transport = frame.groupby("transport")
    assert by_transport["port"].unique().map(list).to_dict() == {"tcp": [443], "udp": [3478]}
    assert frame.loc[frame["transport"] == "tcp", "tcptype"].tolist() == ["passive"] * 3
    assert sorted(set(frame["address"])) == ["20.74.221.21", "51.4.112.173", "72.146.20.246"]
    assert set(frame["type"]) == {"host"}

    assert sdp.summary(desc) == "\n".join([
        "audio (mid 0, sendrecv): opus/48000/2 (pt 111)",
        "data channel (mid 1): SCTP port 5000, messages up to 1073741823 bytes",
        "6 candidates: 3 host UDP port 3478, 3 host TCP port 443 passive",
        "BUNDLE 0 1: these sections share one ICE/DTLS transport",
        "ICE-lite peer: it only answers connectivity checks; the other side drives ICE",
        "DTLS role active: this side starts the DTLS handshake",
        "DTLS certificate fingerprint: sha-256 A8:BB:42:…:44:6E",
    ])


def test_openai_ga_answer_keeps_attributes_it_does_not_interpret():
    frame = sdp.attributes_frame(text_of("openai_answer_ga_calls_2026-08.sdp"))
    allow_mixed = frame[frame["name"] == "extmap-allow-mixed"]
    assert allow_mixed[["line", "section", "parsed"]].values.tolist() == [[8, "session", False]]
    assert allow_mixed["mline"].isna().all()
    pwd = frame[frame["name"] == "ice-pwd"]
    assert pwd[["line", "mid", "value"]].values.tolist() == [[15, "0", "…"], [40, "1", "…"]]
    assert len(frame) == 32  # 40 lines less v=, o=, s=, t=, two m= and two c= lines


def test_openai_2026_01_answer_without_ice_lite_and_with_wms_star():
    desc = sdp.parse(text_of("openai_answer_2026-01.sdp"))
    assert desc.ice_lite is False
    assert desc.msid_semantic == sdp.MsidSemantic("WMS", ["*"])  # written "WMS*", no space
    assert desc.fingerprints[0].value.startswith("AB:18:19:08:")
    audio = desc.section("0")
    assert [(c.payload_type, c.label) for c in audio.codecs] == [
        (96, "opus/48000/2"), (0, "PCMU/8000"), (8, "PCMA/8000")
    ]
    assert audio.codec(96).fmtp == {"minptime": "10", "useinbandfec": "1"}
    assert audio.ice_ufrag == "KYOFLyRb/u1"
    assert desc.section("1").ice_ufrag == "KYOFLyRb/u1"
    frame = sdp.candidates_frame(desc)
    assert frame[["address", "port", "transport", "tcptype"]].fillna("").values.tolist() == [
        ["4.151.200.38", 3478, "udp", ""],
        ["4.151.200.38", 443, "tcp", "passive"],
        ["172.214.226.198", 3478, "udp", ""],
        ["172.214.226.198", 443, "tcp", "passive"],
        ["172.203.39.49", 3478, "udp", ""],
        ["172.203.39.49", 443, "tcp", "passive"],
    ]
    assert "ICE-lite" not in sdp.summary(desc)


def test_openai_2026_04_answer():
    desc = sdp.parse(text_of("openai_answer_2026-04.sdp"))
    assert desc.ice_lite is True
    assert desc.origin.session_id == "7075162086859809594"
    assert desc.origin.session_version == "1777287993"
    media = sdp.media_frame(desc)
    assert media[["mid", "kind", "port", "protocol", "direction", "codecs", "n_candidates"]] \
        .fillna("").values.tolist() == [
        ["0", "audio", 9, "UDP/TLS/RTP/SAVPF", "sendrecv", "opus, PCMU, PCMA", 6],
        ["1", "application", 9, "UDP/DTLS/SCTP", "sendrecv", "", 0],
    ]
    assert media["fingerprint_algorithm"].tolist() == ["sha-256", "sha-256"]
    assert media["setup"].tolist() == ["active", "active"]
    assert media["sctp_port"].tolist() == [pd_na(), 5000]
    assert media["max_message_size"].tolist() == [pd_na(), 1073741823]
    assert media["cname"].tolist()[0] == "realtimeapi"
    codecs = sdp.codecs_frame(desc)
    assert codecs[["mid", "payload_type", "name", "clock_rate"]].values.tolist() == [
        ["0", 96, "opus", 48000], ["0", 0, "PCMU", 8000], ["0", 8, "PCMA", 8000]
    ]
    assert codecs["channels"].tolist() == [2, pd_na(), pd_na()]
    assert codecs["fmtp"].fillna("").tolist() == ["minptime=10;useinbandfec=1", "", ""]
    candidates = sdp.candidates_frame(desc)
    assert candidates["ufrag"].unique().tolist() == ["hcFtUn/u7/3oNQFw"]
    assert candidates["address"].unique().tolist() == [
        "20.184.36.134", "13.71.25.29", "4.217.235.100"
    ]


def pd_na():
    import pandas as pd

    return pd.NA


# -- aiortc's offers (and the answers OpenAI gave them) --------------------------------------------


def test_aiortc_offer_2026_04():
    desc = sdp.parse(text_of("aiortc_offer_2026-04.sdp"))
    assert desc.origin.session_id == "3986276793"
    assert desc.ice_lite is False
    assert desc.bundle == [["0", "1"]]
    assert desc.msid_semantic == sdp.MsidSemantic("WMS", ["*"])
    audio, data = desc.media
    assert (audio.port, audio.connection) == (49243, "IN IP4 172.18.20.254")
    assert audio.extensions == [
        sdp.HeaderExtension(1, "urn:ietf:params:rtp-hdrext:sdes:mid"),
        sdp.HeaderExtension(2, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    ]
    assert audio.msid == [
        "b3d02d50-72ff-4fe6-badc-2f94b55ffc14 109c9c51-d00b-4986-a8db-07dece6faf3f"
    ]
    assert audio.rtcp == "9 IN IP4 0.0.0.0"
    assert audio.cname == "88897817-5559-4ce6-aa39-4d429dfa6dbf"
    assert [c.label for c in audio.codecs] == ["opus/48000/2", "PCMU/8000", "PCMA/8000"]
    assert [f.algorithm for f in audio.fingerprints] == ["sha-256", "sha-384", "sha-512"]
    assert audio.fingerprints[0].value.startswith("2E:96:AB:7B:")
    assert (audio.setup, audio.ice_ufrag, data.ice_ufrag) == ("actpass", "Cc1G", "1wOl")
    assert audio.end_of_candidates and data.end_of_candidates
    assert audio.candidates[2] == sdp.Candidate(
        "201b79c7bba7c46b5e109b3cff1d2ae3", 1, "udp", 1694498815, "47.250.139.162", 49243,
        "srflx", related_address="172.18.20.254", related_port=49243,
    )
    # The pre-2017 data channel form: the SCTP port is the m= line's format and in a=sctpmap.
    assert (data.protocol, data.formats, data.port) == ("DTLS/SCTP", ["5000"], 56097)
    assert (data.sctp_port, data.max_message_size) == (5000, 65536)
    frame = sdp.candidates_frame(desc)
    assert frame[["mid", "type", "port", "related_port"]].astype(object).values.tolist() == [
        ["0", "host", 49243, pd_na()],
        ["0", "host", 56285, pd_na()],
        ["0", "srflx", 49243, 49243],
        ["0", "srflx", 56285, 56285],
        ["1", "host", 56097, pd_na()],
        ["1", "host", 39353, pd_na()],
        ["1", "srflx", 56097, 56097],
        ["1", "srflx", 39353, 39353],
    ]
    assert frame["type_preference"].tolist() == [126, 126, 100, 100] * 2


def test_aiortc_offer_2026_01_with_ipv6_candidates():
    desc = sdp.parse(text_of("aiortc_offer_2026-01.sdp"))
    audio, data = desc.media
    assert (audio.port, data.port) == (48208, 45901)
    assert (audio.ice_ufrag, data.ice_ufrag) == ("lWpC", "yiVJ")
    assert audio.ssrcs == [
        sdp.SsrcAttribute(2770269086, "cname", "22a5eb72-890c-468c-a89c-1ee54337bede")
    ]
    assert [(c.address, c.port) for c in audio.candidates] == [
        ("10.255.255.254", 48208),
        ("192.168.10.65", 47442),
        ("fdc8:d1ab:b2a6:0:129e:4e2c:b75c:c847", 47595),
        ("fdc8:d1ab:b2a6::f3b", 46816),
        ("fdc8:d1ab:b2a6:0:69cd:c5e2:a42a:9f5", 45413),
        ("76.233.245.125", 47442),
    ]
    srflx = audio.candidates[-1]
    assert (srflx.type, srflx.related_address, srflx.related_port) == (
        "srflx", "192.168.10.65", 47442
    )
    assert data.sctp_port == 5000


@pytest.mark.parametrize("stamp", ["2026-04", "2026-01"])
def test_offer_answer_pairs_agree(stamp):
    """What an answer must do with an offer, checked on real pairs: the teaching points of a
    handshake (same mids, a codec the offer listed, a DTLS role chosen from actpass)."""
    offer = sdp.parse(text_of(f"aiortc_offer_{stamp}.sdp"))
    answer = sdp.parse(text_of(f"openai_answer_{stamp}.sdp"))
    assert [m.mid for m in answer.media] == [m.mid for m in offer.media] == ["0", "1"]
    assert [m.kind for m in answer.media] == [m.kind for m in offer.media]
    assert answer.bundle == offer.bundle == [["0", "1"]]
    assert {m.setup for m in offer.media} == {"actpass"}
    assert {m.setup for m in answer.media} == {"active"}
    offered = {c.payload_type: c.label for c in offer.media[0].codecs}
    assert {c.payload_type: c.label for c in answer.media[0].codecs} == offered
    # The answer uses the current data channel form even though the offer used the old one.
    assert (offer.media[1].protocol, answer.media[1].protocol) == ("DTLS/SCTP", "UDP/DTLS/SCTP")
    assert offer.media[1].sctp_port == answer.media[1].sctp_port == 5000


# -- browser offers -------------------------------------------------------------------------------


def test_chromium_120_offer():
    desc = sdp.parse(text_of("chromium120_offer_audio_video.sdp"))
    assert desc.origin == sdp.Origin("-", "7169721126327183323", "3", "IN", "IP4", "127.0.0.1")
    assert desc.msid_semantic == sdp.MsidSemantic("WMS", [])  # "a=msid-semantic: WMS"
    assert desc.bundle == [["0", "1"]]
    audio, video = desc.media
    assert (audio.ice_ufrag, audio.ice_options, audio.setup) == ("nWnq", ["trickle"], "actpass")
    assert audio.fingerprints[0].value.endswith(":3C:ED:FC:64")
    assert [c.payload_type for c in audio.codecs] == [111, 63, 9, 0, 8, 13, 110, 126]
    opus = audio.codec(111)
    assert (opus.label, opus.rtcp_fb) == ("opus/48000/2", ["transport-cc"])
    red = audio.codec(63)
    assert (red.label, red.fmtp_line, red.fmtp) == ("red/48000/2", "111/111", {})
    assert audio.extensions[3] == sdp.HeaderExtension(4, "urn:ietf:params:rtp-hdrext:sdes:mid")
    assert audio.cname == "yFbnkIWTHwPXy6MO"
    assert audio.candidates == [] and not audio.end_of_candidates

    assert len(video.formats) == 23 and len(video.codecs) == 23
    assert video.codec(96).rtcp_fb == ["goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"]
    assert video.codec(97).fmtp == {"apt": "96"}
    assert video.codec(102).fmtp == {
        "level-asymmetry-allowed": "1", "packetization-mode": "1", "profile-level-id": "42001f"
    }
    assert video.codec(45).label == "AV1/90000"
    assert video.ssrc_groups == [sdp.SsrcGroup("FID", [1862494604, 1112104850])]
    assert video.rtcp_rsize and not audio.rtcp_rsize

    media = sdp.media_frame(desc)
    assert media["codecs"].tolist() == [
        "opus, red, G722, PCMU, PCMA, CN, telephone-event",
        "VP8, rtx, H264, AV1, VP9, red, ulpfec",
    ]
    assert media["n_candidates"].tolist() == [0, 0]
    assert "no ICE candidates in the SDP" in sdp.summary(desc)


def test_firefox_offer():
    desc = sdp.parse(text_of("firefox_offer_audio_video.sdp"))
    assert desc.origin.username == "mozilla...THIS_IS_SDPARTA-99.0"
    assert desc.origin.session_version == "0"
    # Firefox writes fingerprint and ice-options once, at session level.
    assert desc.fingerprints[0].value.startswith("75:4F:CA:8F:")
    assert desc.ice_options == ["trickle"]
    audio, video = desc.media
    assert audio.fingerprints == video.fingerprints == desc.fingerprints
    assert audio.ice_options == ["trickle"]
    assert (audio.ice_ufrag, audio.mid, audio.direction) == ("6c0579ea", "0", "sendrecv")
    # fmtp lines come before the rtpmap lines they refine; the codec list still follows m=.
    codecs = sdp.codecs_frame(desc)
    audio_rows = codecs[codecs["mid"] == "0"]
    assert audio_rows[["payload_type", "name", "clock_rate"]].values.tolist() == [
        [109, "opus", 48000], [9, "G722", 8000], [0, "PCMU", 8000], [8, "PCMA", 8000],
        [101, "telephone-event", 8000],
    ]
    assert audio_rows["channels"].tolist() == [2, 1, pd_na(), pd_na(), 1]
    assert audio.codec(109).fmtp == {"maxplaybackrate": "48000", "stereo": "1", "useinbandfec": "1"}
    assert (audio.codec(101).fmtp_line, audio.codec(101).fmtp) == ("0-15", {})
    assert audio.extensions[1] == sdp.HeaderExtension(
        2, "urn:ietf:params:rtp-hdrext:csrc-audio-level", direction="recvonly"
    )
    assert audio.msid == ["- {ba72adfe-d5b5-42bd-bf15-e8fcdcbb2ee1}"]
    assert audio.cname == "{b11da7a1-56f4-4fc1-a969-6d82236f494d}"

    assert [c.payload_type for c in video.codecs] == [120, 124, 121, 125, 126, 127, 97, 98]
    assert video.codec(120).fmtp == {"max-fs": "12288", "max-fr": "60"}
    assert video.codec(120).rtcp_fb == ["nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"]
    assert video.codec(124).fmtp == {"apt": "120"}
    assert video.codec(97).fmtp == {"profile-level-id": "42e01f", "level-asymmetry-allowed": "1"}
    assert video.codec(98).rtcp_fb == []
    assert video.ssrc_groups == [sdp.SsrcGroup("FID", [7463831, 2513307155])]
    assert [s.ssrc for s in video.ssrcs] == [7463831, 2513307155]


def test_chrome_offer_with_a_data_channel():
    desc = sdp.parse(text_of("chrome_offer_audio_video_datachannel.sdp"))
    assert desc.bundle == [["0", "1", "2"]]
    media = sdp.media_frame(desc)
    assert media[["mid", "kind", "direction"]].fillna("").values.tolist() == [
        ["0", "video", "recvonly"], ["1", "audio", "recvonly"], ["2", "application", ""]
    ]
    data = desc.section("2")
    assert (data.protocol, data.formats) == ("UDP/DTLS/SCTP", ["webrtc-datachannel"])
    assert (data.sctp_port, data.max_message_size) == (5000, 262144)
    assert (data.ice_ufrag, data.setup, data.ice_options) == ("IGIv", "actpass", ["trickle"])
    assert media["sctp_port"].tolist() == [pd_na(), pd_na(), 5000]
    assert media["max_message_size"].tolist() == [pd_na(), pd_na(), 262144]

    audio = desc.section("1")
    assert [c.label for c in audio.codecs] == [
        "opus/48000/2", "ISAC/16000", "ISAC/32000", "G722/8000", "PCMU/8000", "PCMA/8000",
        "CN/32000", "CN/16000", "CN/8000", "telephone-event/48000", "telephone-event/32000",
        "telephone-event/16000", "telephone-event/8000",
    ]
    assert audio.codec(111).fmtp == {"minptime": "10", "useinbandfec": "1"}
    assert audio.extensions[0] == sdp.HeaderExtension(
        14, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
    )
    video = desc.section("0")
    assert len(video.codecs) == 18
    assert (video.codec(98).label, video.codec(98).fmtp) == ("VP9/90000", {"profile-id": "0"})
    assert video.codec(123).label == "ulpfec/90000"
    assert len(video.extensions) == 11
    assert "data channel (mid 2): SCTP port 5000, messages up to 262144 bytes" in sdp.summary(desc)
