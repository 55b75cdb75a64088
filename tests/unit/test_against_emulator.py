"""The happy paths for real: the REST client and the widget's commands against the emulator.

Written to the emulator's in-process API (ARCHITECTURE.md); skipped while it cannot be imported.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from rt_widget import RealtimeServiceError
from rt_widget import widget as widget_module
from rt_widget.rest import RestClient
from rt_widget.session import build_session

from .conftest import Harness

try:
    from rt_widget.emulator import Emulator
except ImportError as exc:  # pragma: no cover - depends on the emulator being in the tree
    pytest.skip(f"rt_widget.emulator.Emulator is not importable: {exc}", allow_module_level=True)

SESSION = build_session(model="gpt-realtime", voice="marin", instructions="Be brief.")


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def browser_offer() -> Iterator[str]:
    """A real WebRTC offer (audio + the oai-events channel), as a browser would make."""
    aiortc = pytest.importorskip("aiortc")
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}

    async def make() -> str:
        pc = holder["pc"] = aiortc.RTCPeerConnection()
        pc.addTransceiver("audio", direction="sendrecv")
        pc.createDataChannel("oai-events")
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp

    try:
        yield loop.run_until_complete(make())
    finally:
        loop.run_until_complete(holder["pc"].close())
        loop.close()


def test_rest_client_mints_relays_and_hangs_up(emulator: Any, browser_offer: str) -> None:
    with RestClient(emulator.base_url, "sk-anything-goes-here") as client:
        secret = client.mint_client_secret(SESSION, expires_after_s=60)
        assert secret.value.startswith("ek_")
        assert secret.value not in repr(secret)
        assert secret.expires_at > 0

        answer = client.create_call(browser_offer, SESSION)
        assert answer.sdp.startswith("v=0")
        assert answer.call_id and answer.call_id.startswith("rtc_")
        assert answer.call_id in emulator.calls

        assert client.hangup(answer.call_id) is True


def test_a_wrong_key_is_a_clear_401() -> None:
    with (
        Emulator(api_key="sk-the-right-key") as emu,
        RestClient(emu.base_url, "sk-the-wrong-key") as client,
        pytest.raises(RealtimeServiceError) as caught,
    ):
        client.mint_client_secret(SESSION)
    assert caught.value.status == 401
    assert caught.value.message.startswith("The API key was rejected (401")
    assert "0123456789" not in str(caught.value)


def test_widget_without_a_key_uses_the_shared_emulator(
    monkeypatch: pytest.MonkeyPatch, browser_offer: str
) -> None:
    from rt_widget import RealtimeWidget

    w = RealtimeWidget(signaling="relay")
    other = RealtimeWidget()
    try:
        assert w.backend == "emulator"
        assert w.emulator is other.emulator is widget_module.shared_emulator()
        assert w.backend_url == w.emulator.base_url.rstrip("/")

        h = Harness(w)
        reply = h.invoke("relay_offer", {"sdp": browser_offer})
        assert reply["ok"] is True, reply
        assert reply["sdp"].startswith("v=0")
        assert reply["call_id"] in w.emulator.calls
        assert h.invoke("hangup", {"call_id": reply["call_id"]}) == {"ok": True}

        minted = Harness(other).invoke("mint_client_secret")
        assert minted["ok"] is True
        assert minted["call_url"] == f"{other.backend_url}/realtime/calls"
    finally:
        w.close()
        other.close()
