"""Read an SDP offer or answer: the text two WebRTC peers swap before any audio flows.

SDP (RFC 8866) is a list of ``<letter>=<value>`` lines. Lines before the first ``m=`` describe the
whole session; each ``m=`` line opens a *media section* (one audio track, one video track, or the
data channel) and the lines after it belong to that section. Most of what matters to WebRTC is in
the ``a=`` (attribute) lines:

- codecs: ``a=rtpmap`` names each RTP payload type (``111 opus/48000/2``), ``a=fmtp`` tunes it;
- ICE (how packets find a path): ``a=ice-ufrag``/``a=ice-pwd`` credentials and ``a=candidate``
  addresses to try; ``a=ice-lite`` marks a server that only answers connectivity checks;
- DTLS (how keys are agreed): ``a=fingerprint`` of the certificate, ``a=setup`` for who starts;
- the data channel: an ``m=application`` section with ``a=sctp-port``;
- ``a=group:BUNDLE``: all the listed sections share one ICE/DTLS transport.

``parse`` turns the text into dataclasses; ``media_frame``, ``codecs_frame``,
``candidates_frame`` and ``attributes_frame`` give tidy pandas tables; ``summary`` says it in
words. All of them accept the SDP text or an already parsed ``SessionDescription``.

The parser is tolerant, as real SDPs differ: CRLF or LF, stray whitespace, attributes in any order,
unknown lines (kept raw) and values it cannot read (kept raw and listed in ``problems``). It
only raises ``SdpError`` when the text is not SDP at all: no leading ``v=0``, or an ``m=`` line
that does not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Attribute",
    "Candidate",
    "Codec",
    "Fingerprint",
    "Group",
    "HeaderExtension",
    "Line",
    "MediaSection",
    "MsidSemantic",
    "Origin",
    "SdpError",
    "SessionDescription",
    "SsrcAttribute",
    "SsrcGroup",
    "attributes_frame",
    "candidates_frame",
    "codecs_frame",
    "media_frame",
    "parse",
    "summary",
]

#: Shown instead of an ICE password in frames and reprs. The password authenticates ICE checks
#: for this call, so it does not belong in a notebook someone will share.
REDACTED = "…"

_SECRET_ATTRIBUTES = frozenset({"ice-pwd"})
_DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})

# Payload types below 96 are "static" (RFC 3551): a peer may list them without an a=rtpmap line.
_STATIC_AUDIO_PAYLOADS: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000),
    3: ("GSM", 8000),
    4: ("G723", 8000),
    8: ("PCMA", 8000),
    9: ("G722", 8000),
    13: ("CN", 8000),
    18: ("G729", 8000),
}

# Codecs that carry no media of their own (retransmission, redundancy, comfort noise, DTMF...):
# left out when ``summary`` names a section's codecs.
_HELPER_CODECS = frozenset({"rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"})

_UINT = re.compile(r"[0-9]+")  # not int(): that also takes "1_000", " 7" and non-ASCII digits


class SdpError(ValueError):
    """The text is not an SDP: it does not start with ``v=0``, or an ``m=`` line does not parse.

    ``line_number`` is 1-based (``None`` for an empty text); ``line`` is the offending line.
    """

    def __init__(self, message: str, line_number: int | None = None, line: str | None = None):
        self.line_number = line_number
        self.line = line
        super().__init__(f"line {line_number}: {message}" if line_number is not None else message)


# -- the records ----------------------------------------------------------------------------------


@dataclass
class Line:
    """A non-attribute line kept as written (``b=``, ``i=``..., or a line that is not SDP)."""

    number: int
    type: str  # the letter before "=", or "" when the line has no "<letter>=" prefix
    value: str


@dataclass
class Attribute:
    """One ``a=`` line as written: ``a=name:value``, or ``a=name`` (a flag, value ``None``)."""

    number: int  # line number in the SDP text, from 1
    name: str
    value: str | None
    parsed: bool = False  # True when parse() read it into a field of the description

    def __repr__(self) -> str:
        value = REDACTED if self.name in _SECRET_ATTRIBUTES and self.value else self.value
        return (
            f"Attribute(number={self.number}, name={self.name!r}, value={value!r}, "
            f"parsed={self.parsed})"
        )


@dataclass
class Origin:
    """The ``o=`` line: who made the description. ``session_version`` grows on renegotiation."""

    username: str
    session_id: str
    session_version: str
    net_type: str
    address_type: str
    address: str


@dataclass
class Fingerprint:
    """``a=fingerprint``: hash of the DTLS certificate the peer will present. The DTLS handshake
    fails unless the certificate matches, which ties the encryption keys to this signalling."""

    algorithm: str  # lower case, e.g. "sha-256"
    value: str  # colon-separated hex bytes, as written


@dataclass
class Group:
    """``a=group``: ``BUNDLE 0 1`` means the sections with mids 0 and 1 share one transport."""

    semantics: str
    mids: list[str]


@dataclass
class MsidSemantic:
    """``a=msid-semantic``: ``WMS`` ("WebRTC media stream") and the stream ids, ``*`` for all."""

    semantic: str
    streams: list[str]


@dataclass
class Codec:
    """One RTP payload type of a media section, from ``a=rtpmap``, ``a=fmtp`` and ``a=rtcp-fb``.

    ``channels`` is ``None`` when the SDP does not write it (for audio that means 1).
    ``fmtp`` holds the ``key=value`` parameters; ``fmtp_line`` the parameters as written, which
    is the only place for ones that are not ``key=value`` (``0-15`` for DTMF events, ``111/111``
    for RED).
    """

    payload_type: int
    name: str | None = None
    clock_rate: int | None = None
    channels: int | None = None
    fmtp: dict[str, str] = field(default_factory=dict)
    fmtp_line: str | None = None
    rtcp_fb: list[str] = field(default_factory=list)  # RTCP feedback: "nack", "transport-cc"...

    @property
    def label(self) -> str:
        """``opus/48000/2``, as in ``a=rtpmap``; ``pt 97`` when the payload type has no name."""
        if self.name is None:
            return f"pt {self.payload_type}"
        parts = [self.name, str(self.clock_rate)]
        if self.channels is not None:
            parts.append(str(self.channels))
        return "/".join(parts)


@dataclass
class HeaderExtension:
    """``a=extmap``: an RTP header extension (e.g. the audio level of each packet) and its id."""

    id: int
    uri: str
    direction: str | None = None  # "recvonly" in "a=extmap:2/recvonly ..."
    attributes: str | None = None


@dataclass
class Candidate:
    """``a=candidate``: one address where the peer can receive (RFC 8445, RFC 8839).

    ``type`` is ``host`` (an address of the machine itself), ``srflx`` (its public address as a
    STUN server saw it), ``prflx`` or ``relay`` (a TURN server). ``priority`` orders the checks;
    its top byte is the type preference (126 for UDP host candidates in most stacks).
    """

    foundation: str
    component: int  # 1 = RTP; 2 = RTCP when it is not multiplexed (a=rtcp-mux)
    transport: str  # lower case: "udp" or "tcp"
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None  # raddr: the local address behind srflx/relay
    related_port: int | None = None
    tcptype: str | None = None  # "passive" (accepts connections), "active", "so"
    generation: int | None = None
    ufrag: str | None = None
    network_id: int | None = None
    network_cost: int | None = None
    extensions: dict[str, str] = field(default_factory=dict)  # any other name/value pairs

    @property
    def type_preference(self) -> int:
        """The top 8 bits of ``priority``: how much the peer prefers this kind of candidate."""
        return self.priority >> 24

    @classmethod
    def from_value(cls, value: str) -> Candidate:
        """Read the value of an ``a=candidate:`` line. Raises ``ValueError`` if it is malformed."""
        text = value.strip()
        if text[:10].lower() == "candidate:":  # the form JavaScript's RTCIceCandidate uses
            text = text[10:]
        tokens = text.split()
        if len(tokens) < 8 or tokens[6].lower() != "typ":
            raise ValueError(
                "expected '<foundation> <component> <transport> <priority> "
                "<address> <port> typ <type>'"
            )
        candidate = cls(
            foundation=tokens[0],
            component=_uint(tokens[1], "component"),
            transport=tokens[2].lower(),
            priority=_uint(tokens[3], "priority"),
            address=tokens[4],
            port=_port(tokens[5]),
            type=tokens[7].lower(),
        )
        rest = tokens[8:]
        for i in range(0, len(rest), 2):
            name = rest[i]
            item = rest[i + 1] if i + 1 < len(rest) else ""
            if name == "raddr":
                candidate.related_address = item
            elif name == "rport":
                candidate.related_port = _port(item)
            elif name == "tcptype":
                candidate.tcptype = item.lower()
            elif name == "generation":
                candidate.generation = _uint(item, "generation")
            elif name == "ufrag":
                candidate.ufrag = item
            elif name == "network-id":
                candidate.network_id = _uint(item, "network-id")
            elif name == "network-cost":
                candidate.network_cost = _uint(item, "network-cost")
            else:
                candidate.extensions[name] = item
        return candidate


@dataclass
class SsrcAttribute:
    """``a=ssrc``: a property of one RTP stream (SSRC), e.g. ``cname:realtimeapi``."""

    ssrc: int
    attribute: str
    value: str | None


@dataclass
class SsrcGroup:
    """``a=ssrc-group``: ``FID 1 2`` pairs a stream with its retransmission (rtx) stream."""

    semantics: str
    ssrcs: list[int]


@dataclass
class MediaSection:
    """One ``m=`` section: an audio or video track, or (``application``) the data channel.

    Session-level ICE and DTLS attributes (ice-ufrag, ice-pwd, ice-options, fingerprint, setup)
    and a session-level direction apply to every section that does not set its own, so ``parse``
    copies them in: each section reads complete. ``attributes`` keeps the lines as written.
    """

    kind: str  # "audio", "video", "application"
    port: int  # 9 is the usual placeholder: ICE candidates carry the real addresses
    protocol: str  # "UDP/TLS/RTP/SAVPF" for media, "UDP/DTLS/SCTP" for the data channel
    formats: list[str]  # RTP payload types in preference order, or "webrtc-datachannel"
    number: int = 0  # line number of the m= line
    mid: str | None = None  # the section's id, used by BUNDLE and by ICE candidates (sdpMid)
    direction: str | None = None  # sendrecv/sendonly/recvonly/inactive; None: not written
    connection: str | None = None  # c= line, e.g. "IN IP4 0.0.0.0" (ICE overrides it)
    codecs: list[Codec] = field(default_factory=list)
    extensions: list[HeaderExtension] = field(default_factory=list)
    ice_ufrag: str | None = None
    ice_pwd: str | None = field(default=None, repr=False)
    ice_options: list[str] = field(default_factory=list)
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None  # DTLS role: actpass (offer: either), active, passive
    candidates: list[Candidate] = field(default_factory=list)
    end_of_candidates: bool = False
    sctp_port: int | None = None
    max_message_size: int | None = None  # bytes; data channel messages larger than this fail
    msid: list[str] = field(default_factory=list)  # "stream-id track-id"
    ssrcs: list[SsrcAttribute] = field(default_factory=list)
    ssrc_groups: list[SsrcGroup] = field(default_factory=list)
    rtcp: str | None = None  # a=rtcp: where RTCP would go without rtcp-mux
    rtcp_mux: bool = False  # RTP and RTCP share one port
    rtcp_rsize: bool = False  # reduced-size RTCP allowed
    bundle_only: bool = False
    attributes: list[Attribute] = field(default_factory=list, repr=False)
    other_lines: list[Line] = field(default_factory=list, repr=False)

    @property
    def is_rtp(self) -> bool:
        """Audio or video carried over RTP (the protocol names RTP)."""
        return "RTP" in self.protocol.upper()

    @property
    def is_data_channel(self) -> bool:
        """The WebRTC data channel: an application section over SCTP."""
        return self.kind == "application" and "SCTP" in self.protocol.upper()

    @property
    def cname(self) -> str | None:
        """The sender's canonical name from ``a=ssrc:... cname:``, e.g. ``realtimeapi``."""
        return next((s.value for s in self.ssrcs if s.attribute == "cname"), None)

    def codec(self, payload_type: int) -> Codec | None:
        """The codec with this payload type, if the section lists it."""
        return next((c for c in self.codecs if c.payload_type == payload_type), None)


@dataclass
class SessionDescription:
    """A parsed SDP: the session-level lines and ``media``, one ``MediaSection`` per ``m=``."""

    version: int = 0
    origin: Origin | None = None
    session_name: str | None = None
    timing: str | None = None  # t= line; "0 0" in WebRTC (no schedule)
    connection: str | None = None
    ice_lite: bool = False  # the peer only answers ICE checks; the other side must drive ICE
    ice_ufrag: str | None = None
    ice_pwd: str | None = field(default=None, repr=False)
    ice_options: list[str] = field(default_factory=list)
    fingerprints: list[Fingerprint] = field(default_factory=list)
    setup: str | None = None
    direction: str | None = None
    groups: list[Group] = field(default_factory=list)
    msid_semantic: MsidSemantic | None = None
    media: list[MediaSection] = field(default_factory=list)
    attributes: list[Attribute] = field(default_factory=list, repr=False)
    other_lines: list[Line] = field(default_factory=list, repr=False)
    problems: list[str] = field(default_factory=list)  # lines kept raw because they did not read

    @property
    def bundle(self) -> list[list[str]]:
        """The mids of each ``a=group:BUNDLE`` (usually one group)."""
        return [g.mids for g in self.groups if g.semantics.upper() == "BUNDLE"]

    def section(self, mid: str) -> MediaSection:
        """The media section with this mid. Raises ``KeyError`` if there is none."""
        for m in self.media:
            if m.mid == mid:
                return m
        raise KeyError(mid)


# -- parsing --------------------------------------------------------------------------------------


def parse(sdp: str) -> SessionDescription:
    """Parse an SDP offer or answer.

    Raises ``SdpError`` (a ``ValueError``) if the text does not start with ``v=0`` or an ``m=``
    line does not read. Anything else it cannot read is kept raw and noted in ``problems``.
    """
    if not isinstance(sdp, str):
        raise TypeError(f"sdp must be a str, not {type(sdp).__name__}")
    lines = [
        (number, text.strip())
        for number, text in enumerate(re.split(r"\r\n|\r|\n", sdp.lstrip("\ufeff")), start=1)
        if text.strip()
    ]
    if not lines:
        raise SdpError("empty text: an SDP starts with the line v=0")
    first_number, first = lines[0]
    if first != "v=0":
        raise SdpError(f"an SDP starts with v=0, not {first[:40]!r}", first_number, first)

    desc = SessionDescription()
    section: MediaSection | None = None
    for number, text in lines[1:]:
        letter, sep, value = text.partition("=")
        if not sep or len(letter) != 1:
            desc.problems.append(f"line {number}: not a <letter>=<value> line: {text[:60]!r}")
            (section or desc).other_lines.append(Line(number, "", text))
        elif letter == "m":
            section = _media_line(number, text, value)
            desc.media.append(section)
        elif letter == "a":
            name, colon, attr_value = value.partition(":")
            attribute = Attribute(number, name.strip(), attr_value.strip() if colon else None)
            (section or desc).attributes.append(attribute)
            try:
                attribute.parsed = _read_attribute(desc, section, attribute)
            except ValueError as error:
                shown = REDACTED if attribute.name in _SECRET_ATTRIBUTES else text[:60]
                desc.problems.append(f"line {number}: {shown!r} kept raw: {error}")
        elif letter == "c":
            (section or desc).connection = value.strip()
        elif section is None and letter == "o":
            desc.origin = _origin(value)
            if desc.origin is None:
                desc.problems.append(f"line {number}: o= line kept raw: expected 6 fields")
                desc.other_lines.append(Line(number, letter, value))
        elif section is None and letter == "s":
            desc.session_name = value.strip()
        elif section is None and letter == "t":
            desc.timing = value.strip()
        else:
            (section or desc).other_lines.append(Line(number, letter, value))

    for m in desc.media:
        _inherit_session_values(desc, m)
        _finish_codecs(m)
    return desc


def _uint(text: str, what: str) -> int:
    if not _UINT.fullmatch(text):
        raise ValueError(f"{what} {text[:20]!r} is not a number")
    return int(text)


def _port(text: str) -> int:
    port = _uint(text, "port")
    if port > 65535:
        raise ValueError(f"port {port} is out of range")
    return port


def _origin(value: str) -> Origin | None:
    fields = value.split()
    return Origin(*fields) if len(fields) == 6 else None


def _media_line(number: int, text: str, value: str) -> MediaSection:
    """``m=<kind> <port>[/<count>] <protocol> <format>...``; raises SdpError if malformed."""
    tokens = value.split()
    if len(tokens) < 3:
        raise SdpError("an m= line needs '<kind> <port> <protocol> <formats>'", number, text)
    try:
        port = _port(tokens[1].partition("/")[0])
    except ValueError as error:
        raise SdpError(f"m= line: {error}", number, text) from None
    return MediaSection(
        kind=tokens[0], port=port, protocol=tokens[2], formats=tokens[3:], number=number
    )


def _read_attribute(desc: SessionDescription, m: MediaSection | None, a: Attribute) -> bool:
    """Read one attribute into ``desc`` or the current section ``m``.

    Returns whether it was understood; raises ValueError when a known attribute is malformed.
    """
    name, value = a.name, a.value or ""
    target = m if m is not None else desc

    # Valid at session level or in a section (the section's own value wins).
    if name == "ice-ufrag":
        target.ice_ufrag = _required(value)
    elif name == "ice-pwd":
        target.ice_pwd = _required(value)
    elif name == "ice-options":
        target.ice_options = value.split()
    elif name == "fingerprint":
        algorithm, digest = _first_and_rest(value)
        if not digest:
            raise ValueError("expected '<algorithm> <hex bytes>'")
        target.fingerprints.append(Fingerprint(algorithm.lower(), digest))
    elif name == "setup":
        target.setup = _required(value).lower()
    elif name in _DIRECTIONS:
        target.direction = name
    elif name == "ice-lite":
        desc.ice_lite = True  # session-level by the RFC; accepted anywhere
    elif m is None:
        return _read_session_attribute(desc, name, value)
    else:
        return _read_media_attribute(m, name, value)
    return True


def _read_session_attribute(desc: SessionDescription, name: str, value: str) -> bool:
    if name == "group":
        semantics, *mids = value.split()  # ValueError when empty
        desc.groups.append(Group(semantics, mids))
    elif name == "msid-semantic":
        # Usually "WMS *" or "WMS"; OpenAI has been seen writing "WMS*" with no space.
        text = value.strip()
        match = re.match(r"(WMS)(.*)", text, re.IGNORECASE) or re.match(r"(\S+)(.*)", text)
        if match is None:
            raise ValueError("value is missing")
        desc.msid_semantic = MsidSemantic(match[1], match[2].split())
    else:
        return False
    return True


def _read_media_attribute(m: MediaSection, name: str, value: str) -> bool:
    if name == "mid":
        m.mid = _required(value)
    elif name == "rtpmap":
        payload_type, encoding = _payload_and_rest(value)
        parts = encoding.split("/")
        if len(parts) < 2 or not parts[0].strip():
            raise ValueError("expected '<pt> <name>/<clock rate>[/<channels>]'")
        clock_rate = _uint(parts[1], "clock rate")
        channels = _uint(parts[2], "channels") if len(parts) > 2 else None
        codec = _codec_for(m, payload_type)
        codec.name, codec.clock_rate, codec.channels = parts[0].strip(), clock_rate, channels
    elif name == "fmtp":
        payload_type, parameters = _payload_and_rest(value)
        codec = _codec_for(m, payload_type)
        # Several fmtp lines for one payload type are rare; keep them all.
        codec.fmtp_line = f"{codec.fmtp_line};{parameters}" if codec.fmtp_line else parameters
        for item in parameters.split(";"):
            key, eq, item_value = item.partition("=")
            if eq and key.strip():
                codec.fmtp[key.strip()] = item_value.strip()
    elif name == "rtcp-fb":
        payload, feedback = _first_and_rest(value)
        feedback = _required(feedback)
        if payload == "*":  # every payload type: applied by _finish_codecs once all are known
            return True
        _codec_for(m, _uint(payload, "payload type")).rtcp_fb.append(feedback)
    elif name == "extmap":
        tokens = value.split(maxsplit=2)
        if len(tokens) < 2:
            raise ValueError("expected '<id>[/<direction>] <uri>'")
        ext_id, _, direction = tokens[0].partition("/")
        m.extensions.append(
            HeaderExtension(
                id=_uint(ext_id, "extension id"),
                uri=tokens[1],
                direction=direction or None,
                attributes=tokens[2] if len(tokens) > 2 else None,
            )
        )
    elif name == "candidate":
        m.candidates.append(Candidate.from_value(value))
    elif name == "end-of-candidates":
        m.end_of_candidates = True
    elif name == "sctp-port":
        m.sctp_port = _port(value.strip())
    elif name == "sctpmap":  # the pre-2017 form: "a=sctpmap:5000 webrtc-datachannel 65535"
        tokens = value.split()
        m.sctp_port = _port(tokens[0] if tokens else "")
    elif name == "max-message-size":
        m.max_message_size = _uint(value.strip(), "max-message-size")
    elif name == "msid":
        m.msid.append(_required(value))
    elif name == "ssrc":
        ssrc, rest = _first_and_rest(value)
        attribute, colon, attribute_value = rest.partition(":")
        m.ssrcs.append(
            SsrcAttribute(
                _uint(ssrc, "ssrc"), _required(attribute), attribute_value if colon else None
            )
        )
    elif name == "ssrc-group":
        semantics, *ssrcs = value.split()  # ValueError when empty
        m.ssrc_groups.append(SsrcGroup(semantics, [_uint(s, "ssrc") for s in ssrcs]))
    elif name == "rtcp":
        m.rtcp = value
    elif name == "rtcp-mux":
        m.rtcp_mux = True
    elif name == "rtcp-rsize":
        m.rtcp_rsize = True
    elif name == "bundle-only":
        m.bundle_only = True
    else:
        return False
    return True


def _required(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("value is missing")
    return value


def _first_and_rest(value: str) -> tuple[str, str]:
    """``"96 nack pli"`` -> ``("96", "nack pli")``; any run of whitespace separates."""
    parts = value.split(maxsplit=1)
    return (parts[0] if parts else ""), (parts[1].strip() if len(parts) > 1 else "")


def _payload_and_rest(value: str) -> tuple[int, str]:
    payload, rest = _first_and_rest(value)
    return _uint(payload, "payload type"), _required(rest)


def _codec_for(m: MediaSection, payload_type: int) -> Codec:
    codec = m.codec(payload_type)
    if codec is None:
        codec = Codec(payload_type)
        m.codecs.append(codec)
    return codec


def _inherit_session_values(desc: SessionDescription, m: MediaSection) -> None:
    m.ice_ufrag = m.ice_ufrag or desc.ice_ufrag
    m.ice_pwd = m.ice_pwd or desc.ice_pwd
    m.ice_options = m.ice_options or list(desc.ice_options)
    m.fingerprints = m.fingerprints or list(desc.fingerprints)
    m.setup = m.setup or desc.setup
    m.direction = m.direction or desc.direction


def _finish_codecs(m: MediaSection) -> None:
    """Order codecs as the m= line does (its order is the preference), name static payload
    types that have no a=rtpmap, and apply ``a=rtcp-fb:*``. Only for RTP sections."""
    if not m.is_rtp:
        return
    order: dict[int, int] = {}
    for fmt in m.formats:
        if _UINT.fullmatch(fmt):
            codec = _codec_for(m, int(fmt))
            order.setdefault(codec.payload_type, len(order))
            static = _STATIC_AUDIO_PAYLOADS.get(codec.payload_type)
            if codec.name is None and m.kind == "audio" and static is not None:
                codec.name, codec.clock_rate = static
    m.codecs.sort(key=lambda c: order.get(c.payload_type, len(order)))  # stable: extras keep order
    for a in m.attributes:
        payload, feedback = _first_and_rest(a.value or "")
        if a.name == "rtcp-fb" and a.parsed and payload == "*":
            for codec in m.codecs:
                codec.rtcp_fb.append(feedback)


# -- tables and words -----------------------------------------------------------------------------

SdpLike: TypeAlias = str | SessionDescription  # what the helpers below accept


def _described(sdp: SdpLike) -> SessionDescription:
    if isinstance(sdp, SessionDescription):
        return sdp
    if isinstance(sdp, str):
        return parse(sdp)
    raise TypeError(f"expected SDP text or a SessionDescription, not {type(sdp).__name__}")


def _frame(rows: Sequence[Mapping[str, object]], dtypes: dict[str, str]) -> pd.DataFrame:
    """A DataFrame with these columns, in this order and with these dtypes, even when empty.

    The nullable "Int64" keeps a missing number as <NA> instead of turning a column of ports
    into floats.
    """
    import pandas as pd

    return pd.DataFrame(rows, columns=list(dtypes)).astype(dtypes)


def media_frame(sdp: SdpLike) -> pd.DataFrame:
    """One row per media section (``mline`` is its position, as in ``sdpMLineIndex``)."""
    desc = _described(sdp)
    rows = [
        {
            "mline": i,
            "mid": m.mid,
            "kind": m.kind,
            "port": m.port,
            "protocol": m.protocol,
            "direction": m.direction,
            "codecs": ", ".join(dict.fromkeys(c.name or c.label for c in m.codecs)) or None,
            "n_candidates": len(m.candidates),
            "fingerprint_algorithm": ", ".join(f.algorithm for f in m.fingerprints) or None,
            "setup": m.setup,
            "sctp_port": m.sctp_port,
            "max_message_size": m.max_message_size,
            "cname": m.cname,
        }
        for i, m in enumerate(desc.media)
    ]
    return _frame(
        rows,
        {
            "mline": "int64",
            "mid": "str",
            "kind": "str",
            "port": "int64",
            "protocol": "str",
            "direction": "str",
            "codecs": "str",
            "n_candidates": "int64",
            "fingerprint_algorithm": "str",
            "setup": "str",
            "sctp_port": "Int64",
            "max_message_size": "Int64",
            "cname": "str",
        },
    )


def codecs_frame(sdp: SdpLike) -> pd.DataFrame:
    """One row per (media section, payload type), in each section's order of preference."""
    desc = _described(sdp)
    rows = [
        {
            "mline": i,
            "mid": m.mid,
            "kind": m.kind,
            "payload_type": c.payload_type,
            "name": c.name,
            "clock_rate": c.clock_rate,
            "channels": c.channels,
            "fmtp": c.fmtp_line,
            "rtcp_fb": ", ".join(c.rtcp_fb) or None,
        }
        for i, m in enumerate(desc.media)
        for c in m.codecs
    ]
    return _frame(
        rows,
        {
            "mline": "int64",
            "mid": "str",
            "kind": "str",
            "payload_type": "int64",
            "name": "str",
            "clock_rate": "Int64",
            "channels": "Int64",
            "fmtp": "str",
            "rtcp_fb": "str",
        },
    )


def candidates_frame(sdp: SdpLike) -> pd.DataFrame:
    """One row per ICE candidate, with the media section it was listed in."""
    desc = _described(sdp)
    rows = [
        {
            "mline": i,
            "mid": m.mid,
            "foundation": c.foundation,
            "component": c.component,
            "transport": c.transport,
            "priority": c.priority,
            "type_preference": c.type_preference,
            "address": c.address,
            "port": c.port,
            "type": c.type,
            "tcptype": c.tcptype,
            "related_address": c.related_address,
            "related_port": c.related_port,
            "generation": c.generation,
            "ufrag": c.ufrag,
            "network_id": c.network_id,
            "network_cost": c.network_cost,
        }
        for i, m in enumerate(desc.media)
        for c in m.candidates
    ]
    return _frame(
        rows,
        {
            "mline": "int64",
            "mid": "str",
            "foundation": "str",
            "component": "int64",
            "transport": "str",
            "priority": "int64",
            "type_preference": "int64",
            "address": "str",
            "port": "int64",
            "type": "str",
            "tcptype": "str",
            "related_address": "str",
            "related_port": "Int64",
            "generation": "Int64",
            "ufrag": "str",
            "network_id": "Int64",
            "network_cost": "Int64",
        },
    )


def attributes_frame(sdp: SdpLike, *, redact: bool = True) -> pd.DataFrame:
    """Every ``a=`` line, in order, with where it sits: ``section`` is ``session`` or the
    section's kind. ``parsed`` says whether ``parse`` read it into a field. ICE passwords show as
    ``…`` unless ``redact=False``."""
    desc = _described(sdp)
    placed = [(None, None, "session", a) for a in desc.attributes] + [
        (i, m.mid, m.kind, a) for i, m in enumerate(desc.media) for a in m.attributes
    ]
    placed.sort(key=lambda p: p[3].number)  # in the order of the text
    rows = [
        {
            "line": a.number,
            "section": section,
            "mline": mline,
            "mid": mid,
            "name": a.name,
            "value": REDACTED if redact and a.name in _SECRET_ATTRIBUTES and a.value else a.value,
            "parsed": a.parsed,
        }
        for mline, mid, section, a in placed
    ]
    return _frame(
        rows,
        {
            "line": "int64",
            "section": "str",
            "mline": "Int64",
            "mid": "str",
            "name": "str",
            "value": "str",
            "parsed": "bool",
        },
    )


_SETUP_MEANING = {
    "actpass": "either role, the answerer picks (so this is an offer)",
    "active": "this side starts the DTLS handshake",
    "passive": "this side waits for the other to start the DTLS handshake",
    "holdconn": "no DTLS connection for now",
}


def summary(sdp: SdpLike) -> str:
    """A few lines in plain words: the sections, codecs, candidates, ICE and DTLS roles."""
    desc = _described(sdp)
    out: list[str] = []
    for i, m in enumerate(desc.media):
        where = f"mid {m.mid}" if m.mid is not None else f"m-line {i}"
        if m.port == 0 and not m.bundle_only:
            out.append(f"{m.kind} ({where}): rejected (port 0)")
        elif m.is_data_channel:
            size = f", messages up to {m.max_message_size} bytes" if m.max_message_size else ""
            out.append(f"data channel ({where}): SCTP port {m.sctp_port}{size}")
        elif m.is_rtp:
            # "VP9/90000 (pt 98, 100)": one entry per codec, listing its payload types.
            payloads: dict[str, list[str]] = {}
            for c in m.codecs:
                if (c.name or "").lower() not in _HELPER_CODECS:
                    payloads.setdefault(c.label, []).append(str(c.payload_type))
            named = [f"{label} (pt {', '.join(pts)})" for label, pts in payloads.items()]
            if len(named) > 4:
                named[4:] = [f"and {len(named) - 4} more"]
            helpers = dict.fromkeys(
                c.name for c in m.codecs if c.name and c.name.lower() in _HELPER_CODECS
            )
            extra = f"; also {', '.join(helpers)}" if helpers else ""
            out.append(
                f"{m.kind} ({where}, {m.direction or 'sendrecv'}): "
                f"{', '.join(named) or 'no codecs'}{extra}"
            )
        else:
            out.append(f"{m.kind} ({where}): {m.protocol}")

    # Sections listing the same addresses (aiortc repeats them in each bundled section) share
    # one line; mids are named unless a single section lists candidates.
    same_candidates: dict[tuple[tuple[str, str, int], ...], list[MediaSection]] = {}
    for m in desc.media:
        if m.candidates:
            key = tuple((c.transport, c.address, c.port) for c in m.candidates)
            same_candidates.setdefault(key, []).append(m)
    for sections in same_candidates.values():
        candidates = sections[0].candidates
        mids = ", ".join(str(m.mid) for m in sections)
        where = f" (mid {mids})" if len(same_candidates) > 1 or len(sections) > 1 else ""
        out.append(f"{len(candidates)} candidates{where}: {_describe_candidates(candidates)}")
    if not same_candidates:
        out.append("no ICE candidates in the SDP (trickled separately, or none gathered yet)")

    for group in desc.bundle:
        out.append(f"BUNDLE {' '.join(group)}: these sections share one ICE/DTLS transport")
    if desc.ice_lite:
        out.append("ICE-lite peer: it only answers connectivity checks; the other side drives ICE")
    for role in dict.fromkeys(m.setup for m in desc.media if m.setup):
        out.append(f"DTLS role {role}: {_SETUP_MEANING.get(role, 'unknown role')}")
    fingerprints = dict.fromkeys(
        f"{f.algorithm} {_short_hex(f.value)}" for m in desc.media for f in m.fingerprints
    )
    if fingerprints:
        out.append(f"DTLS certificate fingerprint: {'; '.join(fingerprints)}")
    if desc.problems:
        out.append(f"{len(desc.problems)} lines not understood (see .problems)")
    return "\n".join(out)


def _describe_candidates(candidates: list[Candidate]) -> str:
    """``3 host UDP port 3478, 3 host TCP port 443 passive``."""
    groups: dict[tuple[str, str, str | None], list[int]] = {}
    for c in candidates:
        groups.setdefault((c.type, c.transport, c.tcptype), []).append(c.port)
    parts = []
    for (kind, transport, tcptype), ports in groups.items():
        distinct = sorted(set(ports))
        where = f"port {distinct[0]}" if len(distinct) == 1 else f"on {len(distinct)} ports"
        words = [str(len(ports)), kind, transport.upper(), where, tcptype]
        parts.append(" ".join(w for w in words if w))
    return ", ".join(parts)


def _short_hex(value: str) -> str:
    parts = value.split(":")
    return value if len(parts) <= 6 else ":".join(parts[:3]) + ":…:" + ":".join(parts[-2:])
