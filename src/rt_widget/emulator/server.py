"""The emulator's core on one asyncio loop: HTTP server, secrets, calls, knobs and faults.

:class:`EmulatorServer` is what both ways of running share: the CLI runs it on the main thread's
loop, :class:`rt_widget.emulator.Emulator` on a loop of its own in a daemon thread.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import ids
from .call import Call
from .client_secrets import SecretStore
from .errors import ApiError
from .journal import EventJournal
from .knobs import AnswerFault, CallKnobs, Fault
from .log import log
from .script import Turn
from .session_config import SessionConfig
from .voice import make_voice


@dataclass
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    api_key: str | None = None  # None: any non-empty key is accepted
    script: list[Turn] = field(default_factory=list)
    knobs: CallKnobs = field(default_factory=CallKnobs)
    voice: str = "auto"  # "auto" | "espeak" | "pattern"

    def __repr__(self) -> str:  # the API key never appears in a repr or a log
        key = "set" if self.api_key else None
        return (
            f"EmulatorSettings(host={self.host!r}, port={self.port}, api_key={key}, "
            f"script={len(self.script)} turns, knobs={self.knobs}, voice={self.voice!r})"
        )


@dataclass(frozen=True)
class BurstReport:
    call_id: str
    count: int
    seconds: float  # time to hand every event to the data channel (not to deliver it)


class EmulatorServer:
    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.secrets = SecretStore()
        self.calls: dict[str, Call] = {}
        self.journals: dict[str, EventJournal] = {}
        self.knobs = dataclasses.replace(settings.knobs)  # defaults for new calls
        self.answer_fault: AnswerFault | None = None
        self.voice = make_voice(settings.voice)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self._url_host}:{self.port}/v1"

    @property
    def admin_url(self) -> str:
        return f"http://{self._url_host}:{self.port}/admin"

    @property
    def _url_host(self) -> str:
        host = self.settings.host
        if host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if host == "::":
            return "[::1]"
        return f"[{host}]" if ":" in host else host

    async def start(self) -> None:
        from .app import make_app  # app imports this module's types

        self._runner = web.AppRunner(make_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("serving %s (voice: %s; no language model)", self.base_url, self.voice.name)

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            await call.close("emulator stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        log.info("stopped")

    # -- calls -------------------------------------------------------------------------------------

    async def open_call(
        self, offer_sdp: str, config: SessionConfig, session_id: str | None
    ) -> Call:
        """A new call answering ``offer_sdp``; :class:`ApiError` 400 if aiortc cannot apply it."""
        fault = self.answer_fault.take() if self.answer_fault else None
        if fault is not None and fault.delay_ms:
            log.info("delaying the SDP answer by %.0f ms (injected fault)", fault.delay_ms)
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault is not None and fault.fail_status is not None:
            raise ApiError(
                fault.fail_status,
                "rt_widget emulator: the SDP answer failed on purpose (an injected fail_answer "
                "fault). Try the call again; clear faults with DELETE /admin/faults.",
                type="server_error" if fault.fail_status >= 500 else "invalid_request_error",
                code="injected_fault",
            )
        call = Call(
            ids.call_id(),
            config=config,
            session_id=session_id or ids.session_id(),
            voice=self.voice,
            script=self.settings.script,
            knobs=dataclasses.replace(self.knobs),
            on_closed=self._forget,
        )
        try:
            await call.answer(offer_sdp)
        except Exception as e:  # aiortc raises ValueError, OperationError, ... on bad offers
            await call.close("offer rejected")
            raise ApiError(
                400,
                f"Invalid SDP offer: the WebRTC stack could not apply it ({e}). Post the offer "
                "from RTCPeerConnection.createOffer() with Content-Type: application/sdp.",
                code="invalid_offer",
                param="sdp",
            ) from None
        self.calls[call.id] = call
        self.journals[call.id] = call.journal
        return call

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.id, None)

    def call(self, call_id: str) -> Call:
        try:
            return self.calls[call_id]
        except KeyError:
            ended = " (it has ended)" if call_id in self.journals else ""
            raise ApiError(
                404,
                f"Call '{call_id}' not found{ended}. Use the id from the Location header "
                "of POST /v1/realtime/calls.",
                code="call_not_found",
                param="call_id",
            ) from None

    async def hangup(self, call_id: str) -> None:
        await self.call(call_id).close("hung up")

    def journal(self, call_id: str) -> EventJournal:
        if call_id not in self.journals:
            raise ApiError(
                404,
                f"No call '{call_id}' was made on this emulator.",
                code="call_not_found",
                param="call_id",
            )
        return self.journals[call_id]

    # -- knobs and faults --------------------------------------------------------------------------

    def set_knobs(self, call_id: str | None, **changes: Any) -> CallKnobs:
        """Change one call's knobs, or (``call_id`` None) the defaults for calls made from now."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(CallKnobs)}
        if unknown:
            raise ApiError(
                400,
                f"Unknown knob(s) {sorted(unknown)}: use response_delay_ms, delta_interval_ms.",
                code="unknown_parameter",
            )
        target = self.knobs if call_id is None else self.call(call_id).knobs
        try:
            updated = dataclasses.replace(target, **changes)  # validates
        except (TypeError, ValueError) as e:
            raise ApiError(400, f"Invalid knob value: {e}.", code="invalid_value") from None
        for name in changes:
            setattr(target, name, getattr(updated, name))
        return target

    async def inject(self, call_id: str | None, kind: str, **params: Any) -> dict[str, Any]:
        """Inject a fault; returns what was done, for the admin reply."""
        try:
            fault = Fault(kind)
        except ValueError:
            raise ApiError(
                400,
                f"Unknown fault '{kind}'. Use one of: " + ", ".join(f.value for f in Fault) + ".",
                code="invalid_value",
                param="kind",
            ) from None
        if fault.per_call:
            if call_id is None:
                raise ApiError(
                    400,
                    f"The fault '{kind}' needs a call_id.",
                    code="missing_required_parameter",
                    param="call_id",
                )
            call = self.call(call_id)
            log.info("%s: injecting %s", call_id, kind)
            if fault is Fault.CLOSE_DATA_CHANNEL:
                call.close_data_channel()
            else:
                await call.close("injected fault: close_peer_connection")
            return {"kind": kind, "call_id": call_id}
        if fault is Fault.EXPIRE_SECRETS:
            expired = self.secrets.expire_all()
            log.info("expired %d client secret(s) (injected fault)", expired)
            return {"kind": kind, "expired": expired}
        count = params.pop("count", 1)
        if count is not None and (not isinstance(count, int) or count < 1):
            raise ApiError(
                400,
                "count must be a positive integer, or null for every offer.",
                code="invalid_value",
                param="count",
            )
        if fault is Fault.DELAY_ANSWER:
            ms = params.pop("ms", None)
            if not isinstance(ms, (int, float)) or ms < 0:
                raise ApiError(
                    400,
                    "delay_answer needs ms, a delay in milliseconds >= 0.",
                    code="invalid_value",
                    param="ms",
                )
            self.answer_fault = AnswerFault(delay_ms=float(ms), remaining=count)
        else:
            status = params.pop("status", 500)
            if not isinstance(status, int) or not 400 <= status <= 599:
                raise ApiError(
                    400,
                    "fail_answer's status must be an HTTP error status (400-599).",
                    code="invalid_value",
                    param="status",
                )
            self.answer_fault = AnswerFault(fail_status=status, remaining=count)
        if params:
            raise ApiError(
                400, f"Unknown fault parameter(s) {sorted(params)}.", code="unknown_parameter"
            )
        log.info("next SDP answer(s): %s", self.answer_fault)
        return {"kind": kind, **dataclasses.asdict(self.answer_fault)}

    def clear_faults(self) -> None:
        self.answer_fault = None

    def burst(self, call_id: str, count: int, interval_ms: float = 0.0) -> BurstReport:
        call = self.call(call_id)
        t0 = time.perf_counter()
        try:
            sent = call.burst(count, interval_ms)
        except (ValueError, RuntimeError) as e:
            raise ApiError(
                409 if isinstance(e, RuntimeError) else 400,
                f"Cannot burst: {e}.",
                code="invalid_state" if isinstance(e, RuntimeError) else "invalid_value",
            ) from None
        return BurstReport(call_id, sent, time.perf_counter() - t0)

    def summary(self) -> dict[str, Any]:
        return {
            "emulator": "rt_widget",
            "language_model": None,
            "voice": self.voice.name,
            "base_url": self.base_url,
            "calls": [self.call_summary(c) for c in self.calls.values()],
            "ended_calls": [i for i in self.journals if i not in self.calls],
            "knobs": dataclasses.asdict(self.knobs),
            "answer_fault": dataclasses.asdict(self.answer_fault) if self.answer_fault else None,
            "client_secrets": len(self.secrets),
        }

    @staticmethod
    def call_summary(call: Call) -> dict[str, Any]:
        return {
            "id": call.id,
            "connection_state": call.pc.connectionState,
            "data_channel": call.channel.readyState if call.channel else None,
            "events_sent": len(call.journal),
            "active_response": call.conversation.active_response_id,
            "audio_frames_sent": call.track.frames_sent,
            "speech_frames_sent": call.track.speech_frames_sent,
            "knobs": dataclasses.asdict(call.knobs),
        }
