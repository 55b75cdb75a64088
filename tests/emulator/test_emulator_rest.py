"""The REST front: client secrets, both call forms, hangup, every error status, CORS, admin."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.sdp import SessionDescription
from openai.types.realtime import ClientSecretCreateResponse
from support.emulator_clients import run

from rt_widget.emulator import Emulator
from rt_widget.emulator.offer import check_offer

REALWORLD = Path("/work/shared/realworld")
KEY = {"Authorization": "Bearer sk-test"}


async def browser_like_offer() -> str:
    """An offer shaped like a browser's: audio sendrecv + the oai-events data channel, BUNDLE."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendrecv")
    pc.createDataChannel("oai-events")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp


async def post(
    url: str, *, headers: dict[str, str] | None = None, **kw: Any
) -> tuple[int, dict[str, str], Any]:
    async with aiohttp.ClientSession() as http, http.post(url, headers=headers, **kw) as r:
        body = await (r.json() if r.content_type == "application/json" else r.text())
        return r.status, dict(r.headers), body


async def mint(
    emu: Emulator, body: dict[str, Any] | None = None, key: str = "sk-test"
) -> tuple[int, Any]:
    status, _, reply = await post(
        f"{emu.base_url}/realtime/client_secrets",
        headers={"Authorization": f"Bearer {key}"},
        json=body or {},
    )
    return status, reply


async def call(emu: Emulator, sdp: str, token: str) -> tuple[int, dict[str, str], Any]:
    return await post(
        f"{emu.base_url}/realtime/calls",
        data=sdp,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
    )


def assert_openai_error(body: Any, code: str | None = None) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code", "param"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code


# -- client secrets --------------------------------------------------------------------------------


def test_client_secret_echoes_the_effective_session(emulator: Emulator) -> None:
    async def go() -> None:
        before = int(time.time())
        status, reply = await mint(
            emulator,
            {
                "expires_after": {"anchor": "created_at", "seconds": 120},
                "session": {
                    "type": "realtime",
                    "instructions": "Be kind.",
                    "audio": {"output": {"voice": "marin"}},
                },
            },
        )
        assert status == 200
        ClientSecretCreateResponse.model_validate(reply)
        assert reply["value"].startswith("ek_") and len(reply["value"]) >= 24
        assert before + 120 <= reply["expires_at"] <= int(time.time()) + 120
        session = reply["session"]
        assert session["instructions"] == "Be kind."
        assert session["audio"]["output"]["voice"] == "marin"
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # defaults
        status, default = await mint(emulator)
        assert status == 200 and default["expires_at"] - int(time.time()) in range(595, 601)

    run(go())


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        (
            {"expires_after": {"anchor": "created_at", "seconds": 9}},
            "integer_below_min_value",
            "expires_after.seconds",
        ),
        ({"expires_after": {"seconds": 7201}}, "integer_above_max_value", "expires_after.seconds"),
        ({"session": {"type": "realtime", "voice": "alloy"}}, "unknown_parameter", "session.voice"),
        ({"session": {"instructions": "x"}}, "missing_required_parameter", "session.type"),
        ({"sesion": {}}, "unknown_parameter", "sesion"),
    ],
)
def test_client_secret_rejects_invalid_requests(
    emulator: Emulator, body: dict, code: str, param: str
) -> None:
    status, reply = run(mint(emulator, body))
    assert status == 400
    assert_openai_error(reply, code)
    assert reply["error"]["param"] == param


def test_client_secret_auth(emulator: Emulator) -> None:
    async def go() -> None:
        status, _, reply = await post(f"{emulator.base_url}/realtime/client_secrets", json={})
        assert status == 401
        assert_openai_error(reply)
        assert "Authorization: Bearer" in reply["error"]["message"]
        _, secret = await mint(emulator)
        status, reply = await mint(emulator, key=secret["value"])
        assert status == 401 and "API key" in reply["error"]["message"]
        status, _, reply = await post(
            f"{emulator.base_url}/realtime/client_secrets", headers=KEY, data=b"{oops"
        )
        assert status == 400
        assert_openai_error(reply, "invalid_json")

    run(go())


def test_a_fixed_api_key_is_enforced() -> None:
    with Emulator(api_key="sk-right") as emu:

        async def go() -> None:
            status, reply = await mint(emu, key="sk-wrong")
            assert status == 401
            assert_openai_error(reply, "invalid_api_key")
            assert "sk-right" not in reply["error"]["message"]  # never echo a key
            assert (await mint(emu, key="sk-right"))[0] == 200

        run(go())


# -- calls -----------------------------------------------------------------------------------------


def test_sdp_call_with_a_client_secret(emulator: Emulator) -> None:
    async def go() -> None:
        _, secret = await mint(emulator)
        status, headers, answer = await call(emulator, await browser_like_offer(), secret["value"])
        assert status == 201
        assert headers["Content-Type"].startswith("application/sdp")
        call_id = headers["Location"].rsplit("/", 1)[1]
        assert headers["Location"] == f"/v1/realtime/calls/{call_id}"
        assert call_id.startswith("rtc_") and call_id in emulator.calls
        assert "emulator" in headers["Server"]
        assert_answer_like_openais(answer)

    run(go())


def assert_answer_like_openais(answer: str) -> None:
    """The answer has what OpenAI's has that a browser relies on (see realworld answers)."""
    parsed = SessionDescription.parse(answer)
    assert [m.kind for m in parsed.media] == ["audio", "application"]
    assert [g.semantic for g in parsed.group] == ["BUNDLE"]
    assert parsed.group[0].items == ["0", "1"]
    audio, data = parsed.media
    assert audio.direction == "sendrecv"
    assert any(
        c.name == "opus" and c.clockRate == 48000 and c.channels == 2 for c in audio.rtp.codecs
    )
    assert audio.dtls.role == "client"  # a=setup:active, like OpenAI's
    assert data.sctp_port == 5000
    assert audio.ice.usernameFragment and audio.ice.password
    assert any(c.type == "host" for c in audio.ice_candidates)
    assert "a=end-of-candidates" in answer  # no trickle: the answer is complete


def test_multipart_call_with_the_api_key_and_a_session(emulator: Emulator, clients: Any) -> None:
    async def go() -> None:
        session = {"type": "realtime", "instructions": "Multipart!", "output_modalities": ["text"]}
        async with clients.connected(form="multipart", session=session) as c:
            created = c.events[0]
            assert created["type"] == "session.created"
            assert created["session"]["instructions"] == "Multipart!"
            assert created["session"]["output_modalities"] == ["text"]

    run(go())


def test_every_call_error_status(emulator: Emulator) -> None:
    async def go() -> None:
        offer = await browser_like_offer()
        url = f"{emulator.base_url}/realtime/calls"
        sdp = {"Content-Type": "application/sdp"}
        # 401: missing, unknown, expired
        status, _, body = await post(url, data=offer, headers=sdp)
        assert status == 401
        assert_openai_error(body)
        status, _, body = await call(emulator, offer, "ek_not_a_real_secret_000000")
        assert status == 401
        assert_openai_error(body, "invalid_api_key")
        _, secret = await mint(emulator)
        assert emulator.expire_secrets() == 1
        status, _, body = await call(emulator, offer, secret["value"])
        assert status == 401
        assert_openai_error(body, "client_secret_expired")
        # 400: unparsable offers, wrong content type, invalid session
        for bad in (
            "",
            "hello",
            '{"sdp": "v=0"}',
            "v=0\r\nm=video 9 RTP/AVP 96\r\n",
            offer.replace("a=fingerprint", "a=fingerprnt"),
        ):
            status, _, body = await call(emulator, bad, "sk-test")
            assert status == 400, bad
            assert_openai_error(body, "invalid_offer")
            assert "application/sdp" in body["error"]["message"]
        status, _, body = await post(url, data=offer, headers={**KEY, "Content-Type": "text/plain"})
        assert status == 400
        assert_openai_error(body, "unsupported_content_type")
        form = aiohttp.FormData(default_to_multipart=True)
        form.add_field("sdp", offer)
        form.add_field("session", '{"type": "realtime", "modalities": ["text"]}')
        status, _, body = await post(url, data=form, headers=KEY)
        assert status == 400
        assert_openai_error(body, "unknown_parameter")
        assert body["error"]["param"] == "session.modalities"
        # 404: unknown call
        status, _, body = await post(f"{url}/rtc_nope/hangup", headers=KEY)
        assert status == 404
        assert_openai_error(body, "call_not_found")
        assert emulator.calls == []  # no failed attempt left a call behind

    run(go())


@pytest.mark.parametrize(
    "name",
    [
        "chromium120_offer_audio_video.sdp",
        "firefox_offer_audio_video.sdp",
        "chrome_offer_audio_video_datachannel.sdp",
        "aiortc_offer_2026-04.sdp",
    ],
)
def test_real_world_offers_are_answered(emulator: Emulator, name: str) -> None:
    path = REALWORLD / name
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    status, _, answer = run(call(emulator, path.read_text(), "sk-test"))
    assert status == 201, answer
    kinds = [m.kind for m in SessionDescription.parse(answer).media]
    assert "audio" in kinds


def test_hangup_ends_the_call(emulator: Emulator, clients: Any) -> None:
    async def go() -> None:
        async with clients.connected() as c:
            status, _, _ = await post(
                f"{emulator.base_url}/realtime/calls/{c.call_id}/hangup", headers=KEY
            )
            assert status == 200
            assert c.call_id not in emulator.calls
            for _ in range(100):
                if c.pc.connectionState == "closed" or c.channel.readyState == "closed":
                    break
                await asyncio.sleep(0.05)
            assert c.channel.readyState == "closed"
            assert emulator.sent_events(c.call_id)[0]["type"] == "session.created"  # kept
            status, _, body = await post(
                f"{emulator.base_url}/realtime/calls/{c.call_id}/hangup", headers=KEY
            )
            assert status == 404 and "ended" in body["error"]["message"]

    run(go())


# -- CORS, unknown routes, the Server header -------------------------------------------------------


def test_cors_preflight_and_headers_on_every_reply(emulator: Emulator) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.options(
                f"{emulator.base_url}/realtime/calls",
                headers={
                    "Origin": "http://localhost:8888",
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization,content-type",
                    "Access-Control-Request-Private-Network": "true",
                },
            ) as r:
                assert r.status == 204
                assert r.headers["Access-Control-Allow-Origin"] == "*"
                assert r.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
                assert r.headers["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"
                assert r.headers["Access-Control-Expose-Headers"] == "Location"
                assert r.headers["Access-Control-Allow-Private-Network"] == "true"
            async with http.post(f"{emulator.base_url}/realtime/calls") as r:  # a 401
                assert r.headers["Access-Control-Allow-Origin"] == "*"
                assert r.headers["Access-Control-Expose-Headers"] == "Location"
            async with http.get(f"{emulator.base_url}/models") as r:
                assert r.status == 404
                assert_openai_error(await r.json(), "unknown_url")
                assert r.headers["Access-Control-Allow-Origin"] == "*"
            async with http.get(f"{emulator.base_url}/realtime/client_secrets") as r:
                assert r.status == 405
                assert_openai_error(await r.json(), "method_not_allowed")

    run(go())


# -- admin -----------------------------------------------------------------------------------------


def test_answer_faults_delay_and_fail(emulator: Emulator) -> None:
    async def go() -> None:
        offer = await browser_like_offer()
        emulator.inject_fault(None, "delay_answer", ms=400)
        t0 = time.monotonic()
        status, _, _ = await call(emulator, offer, "sk-test")
        assert status == 201 and time.monotonic() - t0 >= 0.4
        emulator.inject_fault(None, "fail_answer", status=503, count=2)
        for _ in range(2):
            status, _, body = await call(emulator, offer, "sk-test")
            assert status == 503
            assert_openai_error(body, "injected_fault")
            assert body["error"]["type"] == "server_error"
        assert (await call(emulator, offer, "sk-test"))[0] == 201  # used up
        emulator.inject_fault(None, "fail_answer", status=500, count=None)
        assert (await call(emulator, offer, "sk-test"))[0] == 500
        assert (await call(emulator, offer, "sk-test"))[0] == 500
        emulator.clear_faults()
        assert (await call(emulator, offer, "sk-test"))[0] == 201

    run(go())


def test_admin_over_http(emulator: Emulator, clients: Any) -> None:
    async def go() -> None:
        admin = emulator.admin_url
        async with clients.connected(session=None) as c, aiohttp.ClientSession() as http:
            async with http.get(admin) as r:
                state = await r.json()
                assert state["emulator"] == "rt_widget" and state["language_model"] is None
                assert [x["id"] for x in state["calls"]] == [c.call_id]
            async with http.post(
                f"{admin}/calls/{c.call_id}/knobs", json={"response_delay_ms": 150}
            ) as r:
                assert (await r.json())["response_delay_ms"] == 150
            async with http.post(f"{admin}/knobs", json={"delta_interval_ms": -1}) as r:
                assert r.status == 400
            async with http.post(f"{admin}/knobs", json={"speed": 2}) as r:
                assert r.status == 400
            async with http.post(f"{admin}/faults", json={"kind": "explode"}) as r:
                assert r.status == 400
                assert_openai_error(await r.json(), "invalid_value")
            async with http.post(f"{admin}/faults", json={"kind": "close_data_channel"}) as r:
                assert r.status == 400  # needs a call_id
            async with http.post(f"{admin}/faults", json={"kind": "expire_secrets"}) as r:
                assert (await r.json())["kind"] == "expire_secrets"
            async with http.post(f"{admin}/calls/{c.call_id}/burst", json={"count": 300}) as r:
                assert (await r.json())["count"] == 300
            await c.wait_for_count(301, timeout=20)
            burst = f"{admin}/calls/{c.call_id}/burst"
            for bad in ("fast", -5, True):
                async with http.post(burst, json={"count": 20, "interval_ms": bad}) as r:
                    assert r.status == 400, bad
            t0 = time.monotonic()
            async with http.post(burst, json={"count": 20, "interval_ms": 20}) as r:
                assert (await r.json())["count"] == 20
            async with http.post(burst, json={"count": 20}) as r:
                assert r.status == 409  # the paced response is still in progress
                assert_openai_error(await r.json(), "invalid_state")
            await c.wait_for_count(321, timeout=20)
            assert time.monotonic() - t0 >= 17 * 0.02  # paced, not at once
            async with http.get(f"{admin}/calls/{c.call_id}/events?start=1") as r:
                events = (await r.json())["events"]
            assert events == c.events[1:] and len(events) == 320
            async with http.delete(f"{admin}/faults") as r:
                assert (await r.json()) == {"answer_fault": None}

    run(go())


def _other_address() -> str | None:
    """A non-loopback address of this machine (the admin path must refuse it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.123", 9))  # no packet is sent: this only picks a route
            address: str = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_admin_answers_loopback_clients_only() -> None:
    address = _other_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    with Emulator(host="0.0.0.0") as emu:

        async def go() -> None:
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://{address}:{emu.port}/admin") as r:
                    assert r.status == 403
                    assert_openai_error(await r.json(), "forbidden")
                async with http.get(f"http://127.0.0.1:{emu.port}/admin") as r:
                    assert r.status == 200
                status, _ = await mint(emu)  # REST stays open to the network
                assert status == 200

        run(go())


def test_mdns_candidates_are_dropped_from_offers() -> None:
    offer = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:abcd\r\n"
        "a=ice-pwd:0123456789abcdefghijkl\r\na=fingerprint:sha-256 AA:BB\r\n"
        "a=candidate:1 1 udp 2113937151 4e1f5a1b-7c1d.local 54321 typ host\r\n"
        "a=candidate:2 1 udp 2113937151 192.0.2.10 54322 typ host\r\n"
    )
    checked = check_offer(offer.replace("\r\n", "\n"))
    assert ".local" not in checked and "192.0.2.10 54322" in checked
    assert checked.endswith("\r\n") and "\n" not in checked.replace("\r\n", "")
