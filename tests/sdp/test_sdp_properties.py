"""Property tests: whatever text a notebook hands to rt_widget.sdp, the only failure is SdpError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rt_widget import sdp

DATA = Path(__file__).parent / "data"
REAL_LINES = sorted(
    {line for path in DATA.glob("*.sdp") for line in path.read_bytes().decode().splitlines()}
)
# One line of each kind (a=rtpmap, a=candidate, ...), so rare kinds are drawn as often as the
# many candidate and rtcp-fb lines.
KINDS = sorted({line.partition(":")[0] if line.startswith("a=") else line[:2]: line
                for line in REAL_LINES}.values())
M_LINES = [line for line in REAL_LINES if line.startswith("m=")]
# Line starts the parser gives meaning to, to be followed by anything.
PREFIXES = [
    "v=", "o=", "s=", "t=", "c=", "b=", "a=", "a=candidate:",
    "a=rtpmap:", "a=fmtp:", "a=rtcp-fb:", "a=rtcp-fb:* ", "a=extmap:", "a=ssrc:", "a=ssrc-group:",
    "a=group:", "a=msid-semantic:", "a=msid:", "a=sctpmap:", "a=sctp-port:", "a=max-message-size:",
    "a=fingerprint:", "a=setup:", "a=mid:", "a=ice-ufrag:", "a=ice-pwd:", "a=ice-options:",
    "a=rtcp:", "a=ice-lite", "a=rtcp-mux", "a=sendrecv",
]
SDP_CHARACTERS = st.sampled_from(list("0123456789 /:=;*.-abcxyzABCWMS\t٣²_{}"))
ANY_CHARACTER = st.characters()
NO_NEWLINES = st.characters(exclude_characters="\r\n")


def token_swapped(line: str, index: int, replacement: str) -> str:
    tokens = line.split(" ")
    tokens[index % len(tokens)] = replacement
    return " ".join(tokens)


def cut(line: str, keep: int) -> str:
    """The line with only its first ``keep`` space-separated tokens (a field gone missing)."""
    return " ".join(line.split(" ")[:keep])


def lines(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Any line but an m= line: a broken m= line ends the parse, so those are drawn apart."""
    real = st.sampled_from([line for line in REAL_LINES if not line.startswith("m=")])
    kind = st.sampled_from([line for line in KINDS if not line.startswith("m=")])
    return st.one_of(
        real,
        st.builds(str.__add__, st.sampled_from(PREFIXES), st.text(SDP_CHARACTERS, max_size=30)),
        st.builds(str.__add__, st.sampled_from(PREFIXES), st.text(characters, max_size=30)),
        st.builds(token_swapped, kind, st.integers(0, 12), st.text(SDP_CHARACTERS, max_size=6)),
        st.builds(cut, kind, st.integers(0, 12)),
        st.text(characters, max_size=30).filter(lambda text: not text.startswith("m=")),
    )


def m_lines(characters: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly real m= lines, sometimes broken ones."""
    real = st.sampled_from(M_LINES)
    broken = st.one_of(
        st.builds(str.__add__, st.sampled_from(["m=", "m=audio ", "m=application 9 "]),
                  st.text(SDP_CHARACTERS, max_size=20)),
        st.builds(str.__add__, st.just("m="), st.text(characters, max_size=20)),
        st.builds(token_swapped, real, st.integers(0, 5), st.text(SDP_CHARACTERS, max_size=6)),
        st.builds(cut, real, st.integers(0, 4)),
    )
    # sampled_from shrinks toward its first item, so "real" is also the usual draw.
    return st.sampled_from([real] * 9 + [broken]).flatmap(lambda strategy: strategy)


@st.composite
def soups(draw, characters=ANY_CHARACTER) -> str:
    """Mostly SDP-shaped: v=0 (usually), session lines, then a few sections of line soup."""
    line = lines(characters)
    body = draw(st.lists(line, max_size=10))
    for _ in range(draw(st.integers(0, 3))):
        body.append(draw(m_lines(characters)))
        body.extend(draw(st.lists(line, max_size=15)))
    if draw(st.sampled_from([True] * 9 + [False])):
        body.insert(0, "v=0")
    return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(body)


def parsed_or_none(text: str) -> sdp.SessionDescription | None:
    try:
        return sdp.parse(text)
    except sdp.SdpError as error:
        assert error.line_number is None or error.line_number >= 1
        return None


@settings(max_examples=500, deadline=None)
@given(soups())
def test_parse_raises_nothing_but_sdp_error(text):
    parsed_or_none(text)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_at_all(text):
    parsed_or_none(text)
    parsed_or_none("v=0\n" + text)


@settings(max_examples=100, deadline=None)  # fewer: each example builds four DataFrames
@given(soups())
def test_whatever_parses_can_be_shown(text):
    desc = parsed_or_none(text)
    if desc is None:
        return
    assert len(sdp.media_frame(desc)) == len(desc.media)
    assert len(sdp.codecs_frame(desc)) == sum(len(m.codecs) for m in desc.media)
    assert len(sdp.candidates_frame(desc)) == sum(len(m.candidates) for m in desc.media)
    assert len(sdp.attributes_frame(desc)) == len(desc.attributes) + sum(
        len(m.attributes) for m in desc.media
    )
    assert isinstance(sdp.summary(desc), str)
    assert isinstance(repr(desc), str)


@settings(max_examples=200, deadline=None)
@given(st.lists(lines(NO_NEWLINES), max_size=30))
def test_line_endings_never_change_the_result(body):
    def parsed(newline: str) -> sdp.SessionDescription | str:
        try:
            return sdp.parse(newline.join(["v=0", *body]))
        except sdp.SdpError as error:
            return str(error)

    assert parsed("\n") == parsed("\r\n") == parsed("\r")
