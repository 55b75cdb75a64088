"""The kernel's REST client for the Realtime API: mint client secrets, relay offers, hang up.

The API key lives here and nowhere else. Every failure becomes a :class:`RealtimeServiceError`
whose message says what went wrong and what to do, with anything that looks like a key or a
client secret removed, so it can be shown in the panel, stored in ``w.error`` or printed in a
traceback without leaking.

It speaks the GA paths relative to ``base_url`` (``https://api.openai.com/v1``, the emulator's
``http://127.0.0.1:PORT/v1``, or a proxy):

- ``POST realtime/client_secrets`` ``{expires_after, session}`` -> ``{value, expires_at, session}``
- ``POST realtime/calls`` multipart ``sdp`` + ``session`` -> 201, answer SDP, ``Location: .../rtc_...``
- ``POST realtime/calls/{call_id}/hangup``
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self needs Python 3.11

OPENAI_BASE_URL = "https://api.openai.com/v1"

# connect 5 s: a host that does not answer by then is not going to; read 20 s: minting and call
# setup take well under a second normally, but the service can be slow under load.
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=20.0, write=20.0, pool=5.0)
# Hanging up runs when a call ends or the widget closes, holding the kernel: keep it short.
HANGUP_TIMEOUT = httpx.Timeout(5.0)

# OpenAI keys (sk-..., sk-proj-...), client secrets (ek_...), restricted keys (rk-...), and the
# masked form the service echoes back in a 401 ("sk-proj-****abcd").
_SECRET_PATTERN = re.compile(r"\b(?:sk|ek|rk)[-_][\w\-*]{4,}")
_REDACTED = "[redacted]"
_MAX_SERVICE_MESSAGE = 300

_log = logging.getLogger("rt_widget")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with key- and secret-like tokens, and each of ``secrets``, replaced."""
    for secret in secrets:
        # Short strings would redact ordinary words; real keys are long.
        if secret and len(secret) >= 8:
            text = text.replace(secret, _REDACTED)
    return _SECRET_PATTERN.sub(_REDACTED, text)


class RealtimeError(Exception):
    """Base class of rt_widget's errors."""


class RealtimeServiceError(RealtimeError):
    """A request to the Realtime API (or the emulator, or a proxy) failed.

    ``status`` is the HTTP status, or ``None`` when no response came (network error, timeout).
    ``code`` is the service's error code when it gave one (``"invalid_api_key"``,
    ``"insufficient_quota"``...) or one of ours: ``"network_error"``, ``"timeout"``,
    ``"invalid_response"``. ``message`` is for people: what happened and what to do.
    """

    def __init__(self, status: int | None, code: str | None, message: str) -> None:
        message = redact(message)
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.status, self.code, self.message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


@dataclass(frozen=True)
class ClientSecret:
    """A short-lived client secret (``ek_...``) for one browser call. Its repr hides the value."""

    value: str = field(repr=False)
    expires_at: int
    session: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"ClientSecret(value=<hidden>, expires_at={self.expires_at})"


@dataclass(frozen=True)
class CallAnswer:
    """The service's answer to an SDP offer: the answer SDP and the call id, when it gave one."""

    sdp: str = field(repr=False)
    call_id: str | None


class RestClient:
    """A small synchronous client for the three Realtime REST calls the widget needs.

    Thread-compatible, not thread-safe: the widget uses it from the kernel's main thread only.
    ``transport`` exists for tests (``httpx.MockTransport``).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = httpx.Client(
            # The trailing slash makes relative paths join under /v1 rather than replace it.
            base_url=self._base_url + "/",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        return f"RestClient(base_url={display_url(self._base_url)!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- the three calls ---------------------------------------------------------------------------
    def mint_client_secret(
        self, session: dict[str, Any], expires_after_s: int = 600
    ) -> ClientSecret:
        """Mint a client secret for one call with ``session`` as its configuration.

        ``expires_after_s`` (10..7200) bounds when a call may *start* with it, not how long the
        call lasts.
        """
        if not 10 <= expires_after_s <= 7200:
            raise ValueError(f"expires_after_s must be within 10..7200, not {expires_after_s}")
        body = {
            "expires_after": {"anchor": "created_at", "seconds": int(expires_after_s)},
            "session": session,
        }
        response = self._post("realtime/client_secrets", "Minting a client secret", json=body)
        data = self._json_object(response, "Minting a client secret")
        value, expires_at = data.get("value"), data.get("expires_at")
        if not isinstance(value, str) or not value or not isinstance(expires_at, (int, float)):
            raise self._invalid(response, "Minting a client secret", "no 'value'/'expires_at'")
        returned = data.get("session")
        return ClientSecret(
            value=value,
            expires_at=int(expires_at),
            session=returned if isinstance(returned, dict) else {},
        )

    def create_call(self, sdp: str, session: dict[str, Any] | None = None) -> CallAnswer:
        """Post an SDP offer with the API key (multipart ``sdp`` + ``session``) and return the
        answer. The answer is checked to be SDP, so an error page never reaches
        ``setRemoteDescription``."""
        files: dict[str, tuple[None, str, str]] = {"sdp": (None, sdp, "application/sdp")}
        if session is not None:
            files["session"] = (None, json.dumps(session), "application/json")
        response = self._post(
            "realtime/calls",
            "Creating the call",
            files=files,
            headers={"Accept": "application/sdp"},
        )
        answer = response.text
        if not answer.lstrip().startswith("v="):
            raise self._invalid(response, "Creating the call", "the body is not an SDP answer")
        return CallAnswer(sdp=answer, call_id=call_id_from_location(response.headers))

    def hangup(self, call_id: str) -> bool:
        """End a call. ``True`` if it was hung up, ``False`` if the service no longer knew it
        (404: it had already ended)."""
        if not isinstance(call_id, str) or not call_id:
            raise ValueError(f"call_id must be a non-empty string, not {call_id!r}")
        try:
            self._post(
                f"realtime/calls/{quote(call_id, safe='')}/hangup",
                "Hanging up the call",
                timeout=HANGUP_TIMEOUT,
            )
        except RealtimeServiceError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    # -- plumbing ----------------------------------------------------------------------------------
    def _post(self, path: str, what: str, **kwargs: Any) -> httpx.Response:
        where = display_url(f"{self._base_url}/{path}")
        started = time.perf_counter()
        try:
            response = self._http.post(path, **kwargs)
        except httpx.TimeoutException as exc:
            kind = type(exc).__name__  # ConnectTimeout, ReadTimeout...
            raise RealtimeServiceError(
                None,
                "timeout",
                self._redact(
                    f"{what} timed out: {where} did not answer in time ({kind}). "
                    "The service may be overloaded: retry in a moment, and check base_url."
                ),
            ) from None
        except httpx.HTTPError as exc:
            # ConnectError, ReadError, RemoteProtocolError, UnsupportedProtocol...: the message
            # can hold the URL (and so credentials in it); never chain the original.
            raise RealtimeServiceError(
                None,
                "network_error",
                self._redact(
                    f"{what} failed: cannot reach {where} ({type(exc).__name__}). "
                    "Check base_url and the network connection."
                ),
            ) from None
        _log.debug(
            "POST %s -> %s in %.0f ms",
            where,
            response.status_code,
            1e3 * (time.perf_counter() - started),
        )
        if response.is_success:
            return response
        raise self._status_error(response, what)

    def _status_error(self, response: httpx.Response, what: str) -> RealtimeServiceError:
        status = response.status_code
        code, service_message = _service_error(response)
        detail = f"{status}: {service_message}" if service_message else str(status)
        if status == 401:
            text = (
                f"The API key was rejected ({detail}). "
                "Check OPENAI_API_KEY or pass api_key=... to RealtimeWidget."
            )
        elif status == 403:
            text = (
                f"{what} was refused ({detail}). The key's project may lack access to the "
                "Realtime API or to this model, or the request came from a blocked region; "
                "check the key's permissions."
            )
        elif status == 404:
            text = (
                f"{what} failed: not found ({detail}) at "
                f"{display_url(str(response.request.url))}. Check base_url (it should end in /v1) "
                "and the model name."
            )
        elif status == 429:
            if code == "insufficient_quota":
                text = f"The API quota is used up ({detail}). Check the plan and billing details."
            else:
                text = f"Rate limit reached ({detail}). Wait a moment and retry."
        elif status >= 500:
            text = f"The Realtime service had an error ({detail}). Retry in a moment."
        elif status == 400:
            text = (
                f"{what} was rejected as invalid ({detail}). "
                "Check the session configuration (model, voice, and any session= fields)."
            )
        else:
            text = f"{what} failed ({detail})."
        return RealtimeServiceError(status, code, self._redact(text))

    def _json_object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise self._invalid(response, what, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise self._invalid(response, what, "the body is not a JSON object")
        return data

    def _invalid(self, response: httpx.Response, what: str, why: str) -> RealtimeServiceError:
        content_type = response.headers.get("content-type", "no content type")
        return RealtimeServiceError(
            response.status_code,
            "invalid_response",
            self._redact(
                f"{what} got an unexpected answer from {display_url(str(response.request.url))} "
                f"({response.status_code}, {content_type}): {why}. Is base_url an "
                "OpenAI-compatible API (it should end in /v1)?"
            ),
        )

    def _redact(self, text: str) -> str:
        return redact(text, self._api_key)


def call_id_from_location(headers: httpx.Headers) -> str | None:
    """``Location: /v1/realtime/calls/rtc_123`` -> ``"rtc_123"``."""
    location = headers.get("location")
    if not location:
        return None
    last = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
    return last or None


def display_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe to show in messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _service_error(response: httpx.Response) -> tuple[str | None, str]:
    """The service's ``(code, message)`` from an error response, JSON or not."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            message = error.get("message")
            if isinstance(message, str) and message:
                return (str(code) if code else None), _shorten(message)
            return (str(code) if code else None), ""
        if isinstance(error, str):
            return None, _shorten(error)
    # Not JSON (a proxy's HTML page, plain text): show its start, whitespace collapsed.
    return None, _shorten(response.text)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_SERVICE_MESSAGE:
        text = text[: _MAX_SERVICE_MESSAGE - 1] + "…"
    return text
