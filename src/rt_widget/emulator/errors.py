"""Errors in OpenAI's shapes: REST bodies ``{"error": {...}}`` and the ``error`` server event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ApiError(Exception):
    """A REST failure; :meth:`body` is what OpenAI would send, ``status`` its HTTP status."""

    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code or self.type}: {self.message}"

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "code": self.code,
                "param": self.param,
            }
        }


@dataclass
class ProtocolError(Exception):
    """A client event the emulator refuses; becomes an ``error`` server event, the call stays up."""

    message: str
    code: str
    param: str | None = None
    type: str = "invalid_request_error"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_api_error(self, status: int = 400) -> ApiError:
        return ApiError(status, self.message, self.type, self.code, self.param)
