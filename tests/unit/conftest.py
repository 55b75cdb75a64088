"""Fixtures for the kernel side: widgets with no front end and a scripted REST service."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from rt_widget.rest import RestClient

API_KEY = "sk-proj-unitTESTkey"
CLIENT_SECRET = "ek_unitTESTsecret"
BASE_URL = "https://realtime.test/v1"
ANSWER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CALL_ID = "rtc_unit123"


class FakeService:
    """A scripted Realtime REST service for httpx.MockTransport: records requests, answers the
    GA paths, or whatever ``override`` returns."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.override: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.override is not None:
            return self.override(request)
        path = request.url.path
        if path.endswith("/realtime/client_secrets"):
            body = json.loads(request.content)
            return httpx.Response(
                200,
                json={
                    "value": CLIENT_SECRET,
                    "expires_at": 1_900_000_000,
                    "session": body["session"],
                },
            )
        if path.endswith("/realtime/calls"):
            return httpx.Response(
                201,
                text=ANSWER_SDP,
                headers={
                    "Content-Type": "application/sdp",
                    "Location": f"/v1/realtime/calls/{CALL_ID}",
                },
            )
        if path.endswith("/hangup"):
            return httpx.Response(200)
        return httpx.Response(
            404, json={"error": {"message": "Unknown path", "type": "invalid_request_error"}}
        )

    def respond(self, status: int, **kwargs: Any) -> None:
        self.override = lambda request: httpx.Response(status, **kwargs)

    def fail(self, exc_type: type[httpx.TransportError], message: str) -> None:
        def raise_(request: httpx.Request) -> httpx.Response:
            raise exc_type(message, request=request)

        self.override = raise_


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def client(service: FakeService) -> Iterator[RestClient]:
    with RestClient(BASE_URL, API_KEY, transport=httpx.MockTransport(service)) as rest:
        yield rest


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # Backend choice reads $OPENAI_API_KEY: tests must not depend on the machine's.
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


class Harness:
    """A RealtimeWidget with no front end: feed it comm messages, read what it sent back."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.sent: list[dict[str, Any]] = []  # custom message contents, in order
        self.state_updates: list[dict[str, Any]] = []
        self._batch = 0
        widget._send = self._capture

    def _capture(self, msg: dict[str, Any], buffers: Any = None) -> None:
        if msg.get("method") == "custom":
            self.sent.append(msg["content"])
        else:
            self.state_updates.append(msg)

    def receive(self, content: Any) -> None:
        """Deliver a custom message as ipywidgets does."""
        self.widget._handle_custom_msg(content, [])

    def hello(self) -> None:
        self.receive({"kind": "rt:hello"})

    def events(
        self, *records: tuple[str, dict[str, Any]] | dict[str, Any], t_browser_ms: float = 1.7e12
    ) -> int:
        """Send one rt:events batch; records are (source, event) pairs or full record dicts."""
        self._batch += 1
        payload = []
        for i, record in enumerate(records):
            if isinstance(record, tuple):
                source, event = record
                record = {"source": source, "t_browser_ms": t_browser_ms + i, "event": event}
            payload.append(record)
        self.receive({"kind": "rt:events", "batch": self._batch, "records": payload})
        return self._batch

    def invoke(self, name: str, msg: Any = None) -> dict[str, Any]:
        """Run a front end command the way anywidget's invoke() does; return its response."""
        command_id = f"cmd-{len(self.sent)}"
        self.receive(
            {"kind": "anywidget-command", "id": command_id, "name": name, "msg": msg or {}}
        )
        replies = [c for c in self.sent if c.get("id") == command_id]
        assert len(replies) == 1, f"expected one reply to {name}, got {replies}"
        assert replies[0]["kind"] == "anywidget-command-response"
        return replies[0]["response"]

    def set_state_from_frontend(self, **state: Any) -> None:
        """As if the front end synced these traits."""
        self.widget.set_state(state)

    def kinds(self) -> list[str]:
        return [c.get("kind", "") for c in self.sent]


@pytest.fixture
def make_widget(service: FakeService) -> Iterator[Callable[..., Harness]]:
    """Build widgets against the fake service (``api_key`` given, so no emulator)."""
    from rt_widget import RealtimeWidget

    made: list[Any] = []

    def make(**kwargs: Any) -> Harness:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("base_url", BASE_URL)
        widget = RealtimeWidget(**kwargs)
        widget._rest.close()
        widget._rest = RestClient(
            widget._rest.base_url, kwargs["api_key"], transport=httpx.MockTransport(service)
        )
        made.append(widget)
        return Harness(widget)

    yield make
    for widget in made:
        widget.close()


class KernelSession:
    """An IPython kernel in a subprocess, driven as JupyterLab drives it: code over the shell
    channel, widget comm messages in, custom messages out on IOPub."""

    def __init__(self, km: Any, kc: Any) -> None:
        self.km = km
        self.kc = kc
        self._custom: list[tuple[str, dict[str, Any]]] = []  # (comm_id, content) read but not taken

    def _note_custom(self, msg: dict[str, Any]) -> None:
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and content["data"].get("method") == "custom":
            self._custom.append((content["comm_id"], content["data"]["content"]))

    def run(self, code: str) -> str:
        """Execute ``code`` and return its stdout; fail on an error."""
        msg_id = self.kc.execute(code)
        out: list[str] = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=60)
            self._note_custom(msg)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.append(msg["content"]["text"])
            elif kind == "error":
                raise AssertionError("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                return "".join(out)

    def comm_send(self, comm_id: str, content: Any) -> str:
        """Send a custom widget message as the front end does; return its msg_id."""
        msg = self.kc.session.msg(
            "comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}}
        )
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def custom_messages(
        self, comm_id: str, until: Callable[[dict[str, Any]], bool]
    ) -> list[dict[str, Any]]:
        """Custom messages the kernel sends to ``comm_id``, up to the first one ``until`` accepts."""
        seen: list[dict[str, Any]] = []
        while True:
            while self._custom:
                target, content = self._custom.pop(0)
                if target != comm_id:
                    continue
                seen.append(content)
                if until(content):
                    return seen
            self._note_custom(self.kc.get_iopub_msg(timeout=30))


@pytest.fixture(scope="module")
def kernel() -> Iterator[KernelSession]:
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3")
    try:
        yield KernelSession(km, kc)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
