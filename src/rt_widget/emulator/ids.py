"""Identifiers in the shapes the Realtime service uses.

Event, item, response and session ids are not secrets: they only need to be unique and look like
the service's (``event_`` + 21 letters and digits), so a fast seeded PRNG is enough and keeps a
10,000-event burst cheap. Client secrets and call ids come from :mod:`secrets`.
"""

from __future__ import annotations

import base64
import random
import secrets

_rng = random.Random(secrets.randbits(128))
# base64 of random bytes, with its two non-alphanumeric symbols mapped to letters: a slight bias
# toward "x" and "y" is harmless in an id, and this is several times faster than choosing
# characters one by one.
_ALNUM_ONLY = bytes.maketrans(b"+/", b"xy")


def new_id(prefix: str, length: int = 21) -> str:
    """``prefix_`` followed by ``length`` random letters and digits, e.g. ``event_CsZyN...``."""
    raw = base64.b64encode(_rng.randbytes(length * 3 // 4 + 3)).translate(_ALNUM_ONLY)
    return f"{prefix}_{raw[:length].decode()}"


def event_id() -> str:
    return new_id("event")


def item_id() -> str:
    return new_id("item")


def response_id() -> str:
    return new_id("resp")


def session_id() -> str:
    return new_id("sess")


def conversation_id() -> str:
    return new_id("conv")


def function_call_id() -> str:
    return new_id("call")


def call_id() -> str:
    """A WebRTC call id as in the ``Location`` header: ``rtc_`` + 24 URL-safe characters."""
    return f"rtc_{secrets.token_urlsafe(18)}"


def client_secret() -> str:
    """An ephemeral key: ``ek_`` + 24 URL-safe characters from the OS's CSPRNG."""
    return f"ek_{secrets.token_urlsafe(18)}"
