"""The HTTP front: the GA REST paths, CORS for a page on another origin, and the admin path.

REST (same paths, bodies and errors as the service):
    POST /v1/realtime/client_secrets            API key -> {value: "ek_...", expires_at, session}
    POST /v1/realtime/calls                     application/sdp + Bearer ek_... (or the API key),
                                                or multipart (sdp, session) + the API key
                                                -> 201, the answer SDP, Location: .../rtc_...
    POST /v1/realtime/calls/{call_id}/hangup    -> 200

Admin (loopback clients only; JSON in, JSON out):
    GET    /admin                               the emulator's state
    GET    /admin/calls/{call_id}/events        every server event sent on a call, in order
    POST   /admin/knobs                         {response_delay_ms?, delta_interval_ms?}: new calls
    POST   /admin/calls/{call_id}/knobs         the same, for one call
    POST   /admin/faults                        {kind, call_id?, ms?, status?, count?}
    DELETE /admin/faults                        no more answer faults
    POST   /admin/calls/{call_id}/burst         {count, interval_ms?}: a response of that many
                                                events, at once or one every interval_ms
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .. import __version__
from . import schema as s
from .client_secrets import DEFAULT_TTL_S, MAX_TTL_S, MIN_TTL_S, ClientSecret
from .errors import ApiError, ProtocolError
from .log import log
from .offer import check_offer
from .server import EmulatorServer
from .session_config import SessionConfig

SERVER_HEADER = f"rt_widget-emulator/{__version__} (no language model)"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, Content-Type",
    "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
    "Access-Control-Expose-Headers": "Location",
    "Access-Control-Max-Age": "600",
}
SERVER_KEY: web.AppKey[EmulatorServer] = web.AppKey("emulator", EmulatorServer)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(e: ApiError) -> web.Response:
    return web.json_response(e.body(), status=e.status)


@web.middleware
async def front(request: web.Request, handler: Handler) -> web.StreamResponse:
    """CORS on every reply (preflights answered here), errors in OpenAI's shape, a log line."""
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
        # Chrome's Private Network Access preflight, for a page served from a public origin.
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            response.headers["Access-Control-Allow-Private-Network"] = "true"
    else:
        try:
            response = await handler(request)
        except ApiError as e:
            response = error_response(e)
        except web.HTTPMethodNotAllowed as e:
            response = error_response(
                ApiError(
                    405,
                    f"Method {request.method} is not allowed on {request.path}; "
                    f"use {', '.join(sorted(e.allowed_methods))}.",
                    code="method_not_allowed",
                )
            )
        except web.HTTPNotFound:
            response = error_response(
                ApiError(
                    404,
                    f"Invalid URL ({request.method} {request.path}). The emulator serves "
                    "/v1/realtime/client_secrets, /v1/realtime/calls and /admin.",
                    code="unknown_url",
                )
            )
        except web.HTTPException as e:
            response = error_response(ApiError(e.status, e.reason or "request failed"))
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            response = error_response(
                ApiError(
                    500,
                    "rt_widget emulator: internal error (see the emulator's log).",
                    type="server_error",
                    code="internal_error",
                )
            )
        log.info("%s %s -> %d", request.method, request.path, response.status)
    response.headers.update(CORS_HEADERS)
    response.headers["Server"] = SERVER_HEADER
    return response


# -- authentication --------------------------------------------------------------------------------


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        )
    return token


def _check_api_key(server: EmulatorServer, token: str) -> None:
    expected = server.settings.api_key
    if expected is not None and token != expected:
        raise ApiError(
            401,
            "Incorrect API key provided. This emulator was started with a fixed key "
            "(--api-key / Emulator(api_key=...)); use that key.",
            code="invalid_api_key",
        )


def authenticate(
    request: web.Request, *, secrets: bool, allow_expired: bool = False
) -> ClientSecret | None:
    """The client secret used, None for the API key; :class:`ApiError` 401 otherwise."""
    server = request.app[SERVER_KEY]
    token = _bearer(request)
    if not token.startswith("ek_"):
        _check_api_key(server, token)
        return None
    if not secrets:
        raise ApiError(
            401,
            "A client secret cannot be used here; authenticate with your API key.",
            code="invalid_api_key",
        )
    secret = server.secrets.get(token)
    if secret is None:
        raise ApiError(
            401,
            "Unknown client secret. Mint one with POST /v1/realtime/client_secrets on this "
            "emulator (secrets do not survive a restart).",
            code="invalid_api_key",
        )
    if secret.expired and not allow_expired:
        raise ApiError(
            401,
            "The client secret has expired. Mint a new one with POST /v1/realtime/client_secrets "
            "just before connecting.",
            code="client_secret_expired",
        )
    return secret


# -- REST ------------------------------------------------------------------------------------------


async def _json_body(request: web.Request, required: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if required:
            raise ApiError(
                400, "The request body is empty; send a JSON object.", code="invalid_json"
            )
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The API expects a JSON payload.)",
            code="invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            400,
            f"The request body must be a JSON object, not {s.describe(body)}.",
            code="invalid_type",
        )
    return body


_secret_request = s.obj(
    {
        "expires_after": s.obj(
            {"anchor": s.literal("created_at"), "seconds": s.integer(MIN_TTL_S, MAX_TTL_S)}
        ),
        "session": s.anything(),
    }
)


async def client_secrets(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    authenticate(request, secrets=False)
    try:
        body = _secret_request(await _json_body(request), "")
        config = SessionConfig.from_request(body.get("session"))
    except ProtocolError as e:
        raise e.as_api_error(400) from None
    ttl = body.get("expires_after", {}).get("seconds", DEFAULT_TTL_S)
    secret = server.secrets.mint(config, ttl)
    log.info("minted a client secret for %s (valid %d s)", secret.session_id, ttl)
    return web.json_response(
        {
            "value": secret.value,
            "expires_at": secret.expires_at,
            "session": config.as_session(secret.session_id, secret.expires_at),
        }
    )


def _form_text(field: Any) -> str:
    """A form field's text: aiohttp gives str, bytearray (a part with a content type but no
    filename, as httpx sends ``files={"sdp": (None, text, "application/sdp")}``) or a FileField."""
    if isinstance(field, str):
        return field
    if isinstance(field, (bytes, bytearray)):
        return bytes(field).decode()
    return str(field.file.read().decode())


async def _multipart_offer(
    request: web.Request, secret: ClientSecret | None
) -> tuple[str, SessionConfig]:
    form = await request.post()
    sdp_field = form.get("sdp")
    if sdp_field is None:
        raise ApiError(
            400,
            "Missing required parameter: 'sdp' (the offer, a form field).",
            code="missing_required_parameter",
            param="sdp",
        )
    sdp = _form_text(sdp_field)
    session_field = form.get("session")
    base = secret.config if secret is not None else SessionConfig()
    if session_field is None:
        return sdp, base
    raw = _form_text(session_field)
    try:
        patch = json.loads(raw)
    except ValueError:
        raise ApiError(
            400,
            "The 'session' field must be a JSON object (the session config).",
            code="invalid_json",
            param="session",
        ) from None
    try:
        return sdp, base.updated(patch)
    except ProtocolError as e:
        raise e.as_api_error(400) from None


async def create_call(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    secret = authenticate(request, secrets=True)
    if request.content_type == "application/sdp":
        sdp, config = await request.text(), (secret.config if secret else SessionConfig())
    elif request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        sdp, config = await _multipart_offer(request, secret)
    else:
        raise ApiError(
            400,
            f"Unsupported Content-Type '{request.content_type}'. Post the SDP offer as "
            "application/sdp, or multipart/form-data with fields 'sdp' and 'session'.",
            code="unsupported_content_type",
        )
    offer = check_offer(sdp)
    call = await server.open_call(offer, config, secret.session_id if secret else None)
    log.info("%s: answered an offer (%s)", call.id, "client secret" if secret else "API key")
    return web.Response(
        status=201,
        text=call.pc.localDescription.sdp,
        content_type="application/sdp",
        headers={"Location": f"/v1/realtime/calls/{call.id}"},
    )


async def hangup(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    authenticate(request, secrets=True, allow_expired=True)
    await server.hangup(request.match_info["call_id"])
    return web.Response(status=200)


# -- admin -----------------------------------------------------------------------------------------


@web.middleware
async def loopback_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/admin") and request.method != "OPTIONS":
        remote = request.remote or ""
        try:
            local = ipaddress.ip_address(remote.split("%")[0]).is_loopback
        except ValueError:
            local = False
        if not local:
            raise ApiError(
                403,
                "The admin path answers loopback clients only (127.0.0.1, ::1).",
                code="forbidden",
            )
    return await handler(request)


async def admin_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVER_KEY].summary())


async def admin_events(request: web.Request) -> web.Response:
    journal = request.app[SERVER_KEY].journal(request.match_info["call_id"])
    start = int(request.query.get("start", "0"))
    return web.json_response(
        {"call_id": journal.call_id, "start": start, "events": journal.events(start)}
    )


async def admin_knobs(request: web.Request) -> web.Response:
    server = request.app[SERVER_KEY]
    knobs = server.set_knobs(
        request.match_info.get("call_id"), **await _json_body(request, required=True)
    )
    return web.json_response(dataclasses.asdict(knobs))


async def admin_fault(request: web.Request) -> web.Response:
    body = await _json_body(request, required=True)
    kind = body.pop("kind", None)
    if not isinstance(kind, str):
        raise ApiError(
            400,
            "Missing required parameter: 'kind' (the fault to inject).",
            code="missing_required_parameter",
            param="kind",
        )
    call_id = body.pop("call_id", None)
    done = await request.app[SERVER_KEY].inject(call_id, kind, **body)
    return web.json_response(done)


async def admin_clear_faults(request: web.Request) -> web.Response:
    request.app[SERVER_KEY].clear_faults()
    return web.json_response({"answer_fault": None})


async def admin_burst(request: web.Request) -> web.Response:
    body = await _json_body(request)
    count = body.get("count", 10_000)
    if not isinstance(count, int) or isinstance(count, bool):
        raise ApiError(400, "count must be an integer.", code="invalid_type", param="count")
    interval_ms = body.get("interval_ms", 0)
    if not isinstance(interval_ms, (int, float)) or isinstance(interval_ms, bool):
        raise ApiError(
            400, "interval_ms must be a number.", code="invalid_type", param="interval_ms"
        )
    report = request.app[SERVER_KEY].burst(request.match_info["call_id"], count, interval_ms)
    return web.json_response(dataclasses.asdict(report))


def make_app(server: EmulatorServer) -> web.Application:
    app = web.Application(middlewares=[front, loopback_only], client_max_size=1024 * 1024)
    app[SERVER_KEY] = server
    app.router.add_post("/v1/realtime/client_secrets", client_secrets)
    app.router.add_post("/v1/realtime/calls", create_call)
    app.router.add_post("/v1/realtime/calls/{call_id}/hangup", hangup)
    app.router.add_get("/admin", admin_state)
    app.router.add_get("/admin/calls/{call_id}/events", admin_events)
    app.router.add_post("/admin/knobs", admin_knobs)
    app.router.add_post("/admin/calls/{call_id}/knobs", admin_knobs)
    app.router.add_post("/admin/faults", admin_fault)
    app.router.add_delete("/admin/faults", admin_clear_faults)
    app.router.add_post("/admin/calls/{call_id}/burst", admin_burst)
    return app
