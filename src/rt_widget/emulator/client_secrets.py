"""Ephemeral client secrets (``ek_...``): minted with the API key, used by a browser to call.

As on the service, expiry limits starting a call only; a call already up is not cut off. Secrets
live in memory until the emulator stops, and their values are never logged.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import ids
from .session_config import SessionConfig

DEFAULT_TTL_S = 600
MIN_TTL_S = 10
MAX_TTL_S = 7200


@dataclass
class ClientSecret:
    value: str
    expires_at: int
    config: SessionConfig
    session_id: str

    def __repr__(self) -> str:  # never show the value
        return f"ClientSecret(session_id={self.session_id!r}, expires_at={self.expires_at})"

    @property
    def expired(self) -> bool:
        return time.time() >= self.expires_at


class SecretStore:
    def __init__(self) -> None:
        self._secrets: dict[str, ClientSecret] = {}

    def __len__(self) -> int:
        return len(self._secrets)

    def mint(self, config: SessionConfig, ttl_s: int = DEFAULT_TTL_S) -> ClientSecret:
        secret = ClientSecret(
            value=ids.client_secret(),
            expires_at=int(time.time()) + ttl_s,
            config=config,
            session_id=ids.session_id(),
        )
        self._secrets[secret.value] = secret
        return secret

    def get(self, value: str) -> ClientSecret | None:
        return self._secrets.get(value)

    def expire_all(self) -> int:
        """Make every secret minted so far expired now; returns how many were still valid."""
        now = int(time.time())
        valid = [s for s in self._secrets.values() if not s.expired]
        for s in self._secrets.values():
            s.expires_at = min(s.expires_at, now - 1)
        return len(valid)
