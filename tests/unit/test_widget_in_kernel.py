"""The widget inside a real IPython kernel: hello, acks, connect and commands over the comm."""

from __future__ import annotations

import pytest

from .conftest import KernelSession

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def model_id(kernel: KernelSession) -> str:
    # Port 9 (discard) is closed: REST calls fail fast with a network error.
    return kernel.run(
        "from rt_widget import RealtimeWidget\n"
        "w = RealtimeWidget(base_url='http://127.0.0.1:9/v1')\n"
        "print(w.model_id)\n"
    ).strip()


def test_batches_are_acknowledged_and_logged(kernel: KernelSession, model_id: str) -> None:
    records = [{"source": "server", "t_browser_ms": 1.0, "event": {"type": "session.created"}}]
    kernel.comm_send(model_id, {"kind": "rt:events", "batch": 41, "records": records})
    sent = kernel.custom_messages(model_id, until=lambda c: c.get("kind") == "rt:ack")
    assert sent[-1] == {"kind": "rt:ack", "batch": 41}
    assert (
        kernel.run("print(w.log[-1]['event']['type'], w.last_event)").split()[0]
        == "session.created"
    )


def test_connect_after_hello(kernel: KernelSession, model_id: str) -> None:
    out = kernel.run(
        "try:\n    w.connect()\nexcept RuntimeError as e:\n    print(type(e).__name__)\n"
    )
    assert out.strip() == "FrontendNotReadyError"
    kernel.comm_send(model_id, {"kind": "rt:hello"})
    kernel.run("w.connect()")
    sent = kernel.custom_messages(model_id, until=lambda c: c.get("kind") == "rt:connect")
    assert sent[-1] == {"kind": "rt:connect"}


def test_a_command_answers_over_the_comm(kernel: KernelSession, model_id: str) -> None:
    kernel.comm_send(
        model_id,
        {"kind": "anywidget-command", "id": "c1", "name": "mint_client_secret", "msg": {}},
    )
    sent = kernel.custom_messages(model_id, until=lambda c: c.get("id") == "c1")
    reply = sent[-1]
    assert reply["kind"] == "anywidget-command-response"
    assert reply["response"]["ok"] is False
    assert (
        "cannot reach http://127.0.0.1:9/v1/realtime/client_secrets" in reply["response"]["error"]
    )
    assert (
        kernel.run("print(w.error == " + repr(reply["response"]["error"]) + ")").strip() == "True"
    )
