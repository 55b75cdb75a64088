"""RealtimeWidget without a front end: construction, the event path, commands, the Python API."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import rt_widget
from rt_widget import (
    CallStateError,
    EventLog,
    FrontendNotReadyError,
    RealtimeServiceError,
    RealtimeWidget,
)
from rt_widget import widget as widget_module

from .conftest import ANSWER_SDP, API_KEY, BASE_URL, CALL_ID, CLIENT_SECRET, FakeService, Harness

MakeWidget = Callable[..., Harness]

OFFER = "v=0\r\no=- 42 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def server(event_type: str, **fields: Any) -> tuple[str, dict[str, Any]]:
    return ("server", {"type": event_type, **fields})


def connected(h: Harness) -> Harness:
    """As after a successful call: the front end said hello and reported 'connected'."""
    h.hello()
    h.set_state_from_frontend(state="connected")
    return h


# -- construction ------------------------------------------------------------------------------------
def test_exports() -> None:
    assert set(rt_widget.__all__) >= {
        "RealtimeWidget",
        "EventLog",
        "RealtimeServiceError",
        "RealtimeError",
    }
    assert issubclass(CallStateError, RuntimeError)
    assert issubclass(FrontendNotReadyError, RuntimeError)


def test_unknown_keyword_raises_naming_it_and_the_closest_name() -> None:
    with pytest.raises(TypeError) as caught:
        RealtimeWidget(api_key=API_KEY, voic="cedar")
    assert "'voic' (did you mean 'voice'?)" in str(caught.value)


def test_several_unknown_keywords_are_all_named() -> None:
    with pytest.raises(TypeError) as caught:
        RealtimeWidget(api_key=API_KEY, instruction="x", zzz=1)
    message = str(caught.value)
    assert "'instruction' (did you mean 'instructions'?)" in message
    assert "'zzz'" in message


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError):
        RealtimeWidget("gpt-realtime")  # type: ignore[misc]


def test_signaling_is_validated() -> None:
    with pytest.raises(ValueError, match="signaling must be one of"):
        RealtimeWidget(api_key=API_KEY, signaling="websocket")  # type: ignore[arg-type]


def test_defaults_and_session_config(make_widget: MakeWidget) -> None:
    w = make_widget(
        instructions="Be a tutor.",
        session={"audio": {"input": {"transcription": {"model": "whisper-1"}}}},
    ).widget
    assert (w.state, w.phase, w.error, w.muted, w.signaling) == (
        "idle",
        "",
        "",
        False,
        "client_secret",
    )
    assert w.last_event is None
    assert isinstance(w.log, EventLog) and len(w.log) == 0
    assert w.session_config == {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "Be a tutor.",
        "audio": {"output": {"voice": "marin"}, "input": {"transcription": {"model": "whisper-1"}}},
    }


def test_muted_and_layout_pass_through(make_widget: MakeWidget) -> None:
    w = make_widget(muted=True, layout={"width": "400px"}).widget
    assert w.muted is True
    assert w.layout.width == "400px"


def test_api_key_means_openai() -> None:
    w = RealtimeWidget(api_key=API_KEY)
    try:
        assert (w.backend, w.backend_url) == ("openai", "https://api.openai.com/v1")
        assert w.emulator is None
    finally:
        w.close()


def test_environment_key_means_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    w = RealtimeWidget()
    try:
        assert w.backend == "openai"
        assert w._rest._api_key == API_KEY
    finally:
        w.close()


def test_base_url_means_custom_and_hides_credentials() -> None:
    w = RealtimeWidget(base_url="http://me:pa55word99@localhost:9999/v1/")
    try:
        assert (w.backend, w.backend_url) == ("custom", "http://localhost:9999/v1")
        assert w._rest.base_url == "http://me:pa55word99@localhost:9999/v1"
    finally:
        w.close()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"api_key": "  "}, ValueError, "api_key is empty"),
        ({"api_key": 123}, TypeError, "api_key must be a string"),
        ({"base_url": "api.openai.com/v1", "api_key": API_KEY}, ValueError, "http"),
        ({"base_url": "https://api.openai.com/v1"}, ValueError, "no API key"),
    ],
)
def test_bad_backend_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        RealtimeWidget(**kwargs)


class FakeEmulator:
    base_url = "http://127.0.0.1:5555/v1"


def test_no_key_and_no_base_url_uses_the_shared_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeEmulator()
    monkeypatch.setattr(widget_module, "_emulator", fake)
    w1, w2 = RealtimeWidget(), RealtimeWidget()
    try:
        assert (w1.backend, w1.backend_url) == ("emulator", "http://127.0.0.1:5555/v1")
        assert w1.emulator is fake and w2.emulator is fake
        assert w1._rest._api_key == widget_module._NO_KEY
    finally:
        w1.close()
        w2.close()


def test_emulator_that_cannot_load_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widget_module, "_emulator", None)
    monkeypatch.setitem(sys.modules, "rt_widget.emulator", None)  # import fails
    with pytest.raises(RuntimeError) as caught:
        RealtimeWidget()
    assert "OPENAI_API_KEY" in str(caught.value)
    assert "base_url" in str(caught.value)


def test_missing_front_end_build_is_a_clear_import_error() -> None:
    with pytest.raises(ImportError, match="npm run build"):
        widget_module._built("no-such-bundle.js")


def test_esm_and_css_are_the_built_files(make_widget: MakeWidget) -> None:
    state = make_widget().widget.get_state()
    assert state["_esm"] == (widget_module._STATIC / "widget.js").read_text()
    assert state["_css"] == (widget_module._STATIC / "widget.css").read_text()


def test_commands_are_registered() -> None:
    assert set(RealtimeWidget._anywidget_commands) == {
        "mint_client_secret",
        "relay_offer",
        "hangup",
    }


# -- the event path -------------------------------------------------------------------------------------
def test_records_are_logged_in_order_and_acknowledged(make_widget: MakeWidget) -> None:
    h = make_widget()
    batch = h.events(
        server("session.created", event_id="e1"),
        ("client", {"type": "response.create"}),
        ("widget", {"type": "widget.phase", "phase": "channel_open"}),
    )
    log = h.widget.log
    assert [r["seq"] for r in log] == [0, 1, 2]
    assert [r["source"] for r in log] == ["server", "client", "widget"]
    assert [r["event"]["type"] for r in log] == [
        "session.created",
        "response.create",
        "widget.phase",
    ]
    assert [r["t_browser_ms"] for r in log] == [1.7e12, 1.7e12 + 1, 1.7e12 + 2]
    assert all(isinstance(r["t_kernel_ms"], float) for r in log)
    assert h.sent == [{"kind": "rt:ack", "batch": batch}]


def test_phase_follows_the_phase_records_and_is_not_synced(make_widget: MakeWidget) -> None:
    h = make_widget()
    seen: list[str] = []
    h.widget.observe(lambda change: seen.append(change["new"]), "phase")
    h.events(
        ("widget", {"type": "widget.phase", "phase": "start"}),
        server("session.created", event_id="e1"),
        ("widget", {"type": "widget.phase", "phase": "channel_open"}),
    )
    assert h.widget.phase == "channel_open"
    assert seen == ["start", "channel_open"]
    # The front end keeps its own phase for the panel: no state message per step of a call.
    assert "phase" not in h.widget.keys
    assert not [m for m in h.sent if m.get("method") == "update"]


def _batch(h: Any, pipe: str, batch: int, *event_ids: str) -> None:
    records = [
        {"source": "server", "t_browser_ms": 1.7e12, "event": {"type": "x.y", "event_id": e}}
        for e in event_ids
    ]
    h.receive({"kind": "rt:events", "pipe": pipe, "batch": batch, "records": records})


def _acks(h: Any) -> list[tuple[str | None, int]]:
    return [(c.get("pipe"), c["batch"]) for c in h.sent if c.get("kind") == "rt:ack"]


def test_a_batch_ahead_of_its_turn_waits_for_the_missing_one(make_widget: MakeWidget) -> None:
    # As when ipykernel holds batch 0 behind a running cell while wait_for handles 1 and 2.
    h = make_widget()
    _batch(h, "p1", 1, "e2")
    _batch(h, "p1", 2, "e3")
    assert list(h.widget.log) == [] and _acks(h) == []
    _batch(h, "p1", 0, "e0", "e1")  # the front end resent it: it was not acknowledged in time
    assert [r["event"]["event_id"] for r in h.widget.log] == ["e0", "e1", "e2", "e3"]
    assert _acks(h) == [("p1", 0), ("p1", 1), ("p1", 2)]
    # The original batch 0, once ipykernel gets to it: acknowledged again, logged once.
    _batch(h, "p1", 0, "e0", "e1")
    assert len(h.widget.log) == 4
    assert _acks(h)[-1] == ("p1", 0)


def test_each_page_pipe_keeps_its_own_order(make_widget: MakeWidget) -> None:
    h = make_widget()
    _batch(h, "page-a", 0, "a0")
    _batch(h, "page-b", 0, "b0")  # a second tab on the same kernel starts at 0 too
    _batch(h, "page-a", 1, "a1")
    assert [r["event"]["event_id"] for r in h.widget.log] == ["a0", "b0", "a1"]
    assert _acks(h) == [("page-a", 0), ("page-b", 0), ("page-a", 1)]


def test_batches_accumulate(make_widget: MakeWidget) -> None:
    h = make_widget()
    first = h.events(server("a"), server("b"))
    second = h.events(server("c"))
    assert [r["event"]["type"] for r in h.widget.log] == ["a", "b", "c"]
    assert [r["seq"] for r in h.widget.log] == [0, 1, 2]
    assert h.sent == [{"kind": "rt:ack", "batch": first}, {"kind": "rt:ack", "batch": second}]


def test_last_event_fires_once_per_record_even_for_equal_events(make_widget: MakeWidget) -> None:
    h = make_widget()
    seen: list[dict[str, Any]] = []
    h.widget.observe(lambda change: seen.append(change["new"]), "last_event")
    delta = {"type": "response.output_audio_transcript.delta", "delta": "la"}
    same = dict(delta)
    h.events(("server", delta), ("server", same), ("server", delta), server("response.done"))
    assert [e["type"] for e in seen] == [
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.delta",
        "response.done",
    ]
    assert h.widget.last_event == {"type": "response.done"}


def test_last_event_is_not_synced(make_widget: MakeWidget) -> None:
    h = make_widget()
    h.events(server("session.created"))
    assert "last_event" not in h.widget.get_state()
    assert h.state_updates == []


def test_on_handlers_by_type_and_star_in_order(make_widget: MakeWidget) -> None:
    h = make_widget()
    w = h.widget
    calls: list[tuple[str, str]] = []

    @w.on("response.done")
    def done(event: dict[str, Any]) -> None:
        calls.append(("done", event["type"]))
        # While a handler runs, the log's last record is its record.
        assert w.log[-1]["event"] is event

    def everything(event: dict[str, Any]) -> None:
        calls.append(("*", event["type"]))

    assert w.on("*", everything) is everything
    assert done.__name__ == "done"  # the decorator returns the function itself
    h.events(server("response.created"), server("response.done"))
    assert calls == [("*", "response.created"), ("done", "response.done"), ("*", "response.done")]


def test_off(make_widget: MakeWidget) -> None:
    h = make_widget()
    w = h.widget
    calls: list[str] = []
    first = w.on("x", lambda e: calls.append("first"))
    w.on("x", lambda e: calls.append("second"))
    w.off("x", first)
    h.events(server("x"))
    assert calls == ["second"]
    w.off("x")
    h.events(server("x"))
    assert calls == ["second"]
    with pytest.raises(ValueError, match="not a handler"):
        w.off("x", first)


def test_a_handler_may_remove_itself_while_running(make_widget: MakeWidget) -> None:
    h = make_widget()
    w = h.widget
    calls: list[str] = []

    def once(event: dict[str, Any]) -> None:
        calls.append(event["type"])
        w.off("*", once)

    w.on("*", once)
    h.events(server("a"), server("b"))
    assert calls == ["a"]


def test_on_validates(make_widget: MakeWidget) -> None:
    w = make_widget().widget
    with pytest.raises(TypeError):
        w.on("")
    with pytest.raises(TypeError):
        w.on("x", "not callable")  # type: ignore[call-overload]


def test_a_failing_handler_is_recorded_warned_once_and_does_not_break_the_path(
    make_widget: MakeWidget,
) -> None:
    h = make_widget()
    w = h.widget
    survivors: list[str] = []

    @w.on("response.done")
    def broken(event: dict[str, Any]) -> None:
        raise KeyError(f"boom {API_KEY}")

    w.on("*", lambda e: survivors.append(e["type"]))

    with pytest.warns(RuntimeWarning, match="broken raised KeyError"):
        batch = h.events(server("response.done"), server("after"))
    types = [(r["source"], r["event"]["type"]) for r in w.log]
    assert types == [
        ("server", "response.done"),
        ("widget", "widget.error"),
        ("server", "after"),
    ]
    error = w.log[1]["event"]
    assert error["code"] == "handler_error"
    assert "broken" in error["handler"]
    assert API_KEY not in error["message"]
    # The star handler saw everything, the error record included.
    assert survivors == ["widget.error", "response.done", "after"]
    assert h.sent[-1] == {"kind": "rt:ack", "batch": batch}

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second warning for the same handler would fail here
        h.events(server("response.done"))
    assert [r["event"]["type"] for r in w.log][-2:] == ["response.done", "widget.error"]


def test_a_star_handler_failing_on_its_own_error_record_does_not_loop(
    make_widget: MakeWidget,
) -> None:
    h = make_widget()
    h.widget.on("*", lambda e: 1 / 0)
    with pytest.warns(RuntimeWarning):
        h.events(server("a"))
    assert [r["event"]["type"] for r in h.widget.log] == ["a", "widget.error"]


def test_a_failing_observer_does_not_break_the_path(make_widget: MakeWidget) -> None:
    h = make_widget()

    def observer(change: Any) -> None:
        if change["new"]["type"] == "bad":
            raise ValueError("observer bug")

    h.widget.observe(observer, "last_event")
    with pytest.warns(RuntimeWarning, match="observer of last_event"):
        h.events(server("bad"), server("good"))
    assert [r["event"]["type"] for r in h.widget.log] == ["bad", "widget.error", "good"]


def test_an_interrupt_in_a_handler_still_logs_the_whole_batch(make_widget: MakeWidget) -> None:
    h = make_widget()

    @h.widget.on("stop")
    def interrupted(event: dict[str, Any]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        h.events(server("a"), server("stop"), server("b"), server("c"))
    assert [r["event"]["type"] for r in h.widget.log] == ["a", "stop", "b", "c"]
    # Acknowledged all the same: the front end's pipe must not stall.
    assert h.sent == [{"kind": "rt:ack", "batch": 1}]


def test_malformed_records_become_error_records(make_widget: MakeWidget) -> None:
    h = make_widget()
    batch = h.events(
        {"source": "server", "t_browser_ms": 1.0, "event": {"type": "ok1"}},
        {"source": "martian", "event": {"type": "x"}},
        {"source": "server"},
        "not a record",
        {"source": "server", "t_browser_ms": 2.0, "event": {"type": "ok2"}},
    )
    events = [r["event"] for r in h.widget.log]
    assert [e["type"] for e in events] == [
        "ok1",
        "widget.error",
        "widget.error",
        "widget.error",
        "ok2",
    ]
    assert {e.get("code") for e in events[1:4]} == {"bad_record"}
    assert "martian" in events[1]["raw"]
    assert h.sent[-1] == {"kind": "rt:ack", "batch": batch}


def test_a_batch_without_records_is_still_acknowledged(make_widget: MakeWidget) -> None:
    h = make_widget()
    h.receive({"kind": "rt:events", "batch": 7})
    assert h.sent == [{"kind": "rt:ack", "batch": 7}]
    assert h.widget.log[0]["event"]["code"] == "bad_batch"


def test_other_custom_messages_reach_on_msg_callbacks(make_widget: MakeWidget) -> None:
    h = make_widget()
    got: list[Any] = []
    h.widget.on_msg(lambda widget, content, buffers: got.append(content))
    h.receive({"kind": "something-else"})
    h.receive("plain text")
    assert got == [{"kind": "something-else"}, "plain text"]


def test_a_secret_minted_ahead_records_nothing_and_fails_quietly(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = make_widget()
    reply = h.invoke("mint_client_secret", {"prefetch": True})
    assert reply["ok"] is True and reply["value"] == CLIENT_SECRET
    assert len(service.requests) == 1
    # Not part of any call: the call that uses it records secret_requested/received itself.
    assert list(h.widget.log) == []
    service.respond(
        401, json={"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error"}}
    )
    reply = h.invoke("mint_client_secret", {"prefetch": True})
    assert reply["ok"] is False and "Incorrect API key" in reply["error"]
    # Connect mints again and reports the failure then; nothing shows before the user asks.
    assert list(h.widget.log) == [] and h.widget.error == ""


def test_session_changes_tell_the_front_end_only_once_it_said_hello(
    make_widget: MakeWidget,
) -> None:
    def echo_city(city: str) -> str:
        """Echo the city."""
        return city

    def echo_town(town: str) -> str:
        """Echo the town."""
        return town

    h = make_widget()
    h.widget.tool(echo_city)  # before hello: there is no front end to tell
    assert "rt:session_changed" not in h.kinds()
    h.hello()
    h.widget.tool(echo_town)
    assert h.kinds().count("rt:session_changed") == 1


def test_sdp_properties_come_from_the_latest_records(make_widget: MakeWidget) -> None:
    h = make_widget()
    w = h.widget
    assert w.sdp_offer is None and w.sdp_answer is None
    h.events(
        ("widget", {"type": "widget.sdp", "role": "offer", "sdp": "v=0 first"}),
        ("widget", {"type": "widget.sdp", "role": "answer", "sdp": "v=0 answer"}),
        ("widget", {"type": "widget.sdp", "role": "offer", "sdp": "v=0 second"}),
    )
    assert (w.sdp_offer, w.sdp_answer) == ("v=0 second", "v=0 answer")


# -- commands ----------------------------------------------------------------------------------------------
def test_mint_client_secret(make_widget: MakeWidget, service: FakeService) -> None:
    h = make_widget(instructions="Tutor.", voice="cedar")
    reply = h.invoke("mint_client_secret")
    assert reply == {
        "ok": True,
        "value": CLIENT_SECRET,
        "expires_at": 1_900_000_000,
        "call_url": f"{BASE_URL}/realtime/calls",
    }
    body = json.loads(service.requests[0].content)
    assert body["session"] == h.widget.session_config
    assert body["session"]["audio"]["output"]["voice"] == "cedar"
    (record,) = h.widget.log
    assert record["source"] == "widget"
    assert record["event"]["type"] == "widget.phase"
    assert record["event"]["phase"] == "secret_minted"
    assert record["event"]["duration_ms"] >= 0
    assert CLIENT_SECRET not in json.dumps(list(h.widget.log))
    assert h.widget.last_event == record["event"]


def test_mint_is_refused_with_relay_signaling(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = make_widget(signaling="relay")
    reply = h.invoke("mint_client_secret")
    assert reply["ok"] is False
    assert "relay" in reply["error"]
    assert service.requests == []


def test_mint_failure_replies_with_the_message_sets_error_and_logs_it(
    make_widget: MakeWidget, service: FakeService
) -> None:
    service.respond(
        401,
        json={
            "error": {
                "message": f"Incorrect API key provided: {API_KEY}",
                "code": "invalid_api_key",
            }
        },
    )
    h = make_widget()
    reply = h.invoke("mint_client_secret")
    assert reply["ok"] is False
    assert reply["error"].startswith("The API key was rejected (401: Incorrect API key provided")
    assert API_KEY not in reply["error"]
    assert h.widget.error == reply["error"]
    event = h.widget.log[-1]["event"]
    assert event == {
        "type": "widget.error",
        "code": "secret_failed",
        "message": reply["error"],
        "status": 401,
        "service_code": "invalid_api_key",
    }


def test_network_failure_in_a_command(make_widget: MakeWidget, service: FakeService) -> None:
    service.fail(httpx.ConnectError, "connection refused")
    h = make_widget()
    reply = h.invoke("mint_client_secret")
    assert reply["ok"] is False
    assert "cannot reach" in reply["error"]


def test_an_unexpected_bug_in_a_command_still_answers(
    make_widget: MakeWidget, caplog: pytest.LogCaptureFixture
) -> None:
    h = make_widget()

    def buggy(*args: Any, **kwargs: Any) -> Any:
        raise KeyError(f"oops {API_KEY}")

    h.widget._rest.mint_client_secret = buggy
    reply = h.invoke("mint_client_secret")
    assert reply["ok"] is False
    assert "unexpected error (KeyError" in reply["error"]
    assert API_KEY not in reply["error"]


def test_relay_offer(make_widget: MakeWidget, service: FakeService) -> None:
    h = make_widget(signaling="relay")
    reply = h.invoke("relay_offer", {"sdp": OFFER})
    assert reply == {"ok": True, "sdp": ANSWER_SDP, "call_id": CALL_ID}
    (request,) = service.requests
    assert request.url.path == "/v1/realtime/calls"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert OFFER.encode() in request.content
    assert json.dumps(h.widget.session_config).encode() in request.content
    event = h.widget.log[-1]["event"]
    assert (event["phase"], event["call_id"]) == ("offer_relayed", CALL_ID)


@pytest.mark.parametrize("msg", [{}, {"sdp": ""}, {"sdp": "<html>"}, "v=0"])
def test_relay_offer_needs_an_offer(
    make_widget: MakeWidget, service: FakeService, msg: Any
) -> None:
    h = make_widget(signaling="relay")
    h.receive({"kind": "anywidget-command", "id": "r", "name": "relay_offer", "msg": msg})
    (reply,) = [c["response"] for c in h.sent if c.get("id") == "r"]
    assert reply["ok"] is False
    assert service.requests == []


def test_relay_failure_is_the_services_message(
    make_widget: MakeWidget, service: FakeService
) -> None:
    service.respond(400, json={"error": {"message": "Invalid SDP offer", "code": "invalid_offer"}})
    h = make_widget(signaling="relay")
    reply = h.invoke("relay_offer", {"sdp": OFFER})
    assert reply["ok"] is False
    assert "Invalid SDP offer" in reply["error"]
    assert h.widget.error == reply["error"]


def test_hangup_command(make_widget: MakeWidget, service: FakeService) -> None:
    h = make_widget()
    assert h.invoke("hangup", {"call_id": "rtc_9"}) == {"ok": True}
    assert service.requests[0].url.path == "/v1/realtime/calls/rtc_9/hangup"
    event = h.widget.log[-1]["event"]
    assert (event["phase"], event["call_id"], event["already_ended"]) == ("hung_up", "rtc_9", False)


def test_hangup_command_uses_the_known_call_id(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = make_widget()
    h.events(
        ("widget", {"type": "widget.phase", "phase": "answer_received", "call_id": "rtc_known"})
    )
    assert h.invoke("hangup") == {"ok": True}
    assert service.requests[0].url.path == "/v1/realtime/calls/rtc_known/hangup"


def test_hangup_command_without_a_call_id(make_widget: MakeWidget, service: FakeService) -> None:
    reply = make_widget().invoke("hangup")
    assert reply["ok"] is False
    assert service.requests == []


def test_hangup_failure_does_not_replace_the_error(
    make_widget: MakeWidget, service: FakeService
) -> None:
    service.respond(500, json={"error": {"message": "oops"}})
    h = make_widget()
    h.widget.error = "Microphone permission denied."
    reply = h.invoke("hangup", {"call_id": "rtc_1"})
    assert reply["ok"] is False
    assert h.widget.error == "Microphone permission denied."
    assert h.widget.log[-1]["event"]["code"] == "hangup_failed"


# -- the Python API ------------------------------------------------------------------------------------------
def test_connect_needs_a_front_end(make_widget: MakeWidget) -> None:
    h = make_widget()
    with pytest.raises(
        FrontendNotReadyError,
        match=r"display the widget first \(put `w` as the last line of a cell\)",
    ):
        h.widget.connect()
    assert h.sent == []


def test_connect_sends_rt_connect_once(make_widget: MakeWidget) -> None:
    h = make_widget()
    h.hello()
    h.widget.connect()
    assert h.sent == [{"kind": "rt:connect"}]
    # The front end has not reacted yet (the cell is still running): no second call.
    with pytest.raises(CallStateError, match="already being started"):
        h.widget.connect()
    h.set_state_from_frontend(state="connecting")
    with pytest.raises(CallStateError, match="already connecting"):
        h.widget.connect()
    h.set_state_from_frontend(state="connected")
    with pytest.raises(CallStateError, match="already connected"):
        h.widget.connect()


def test_connect_again_after_a_call_ends(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    h.set_state_from_frontend(state="failed")
    h.widget.connect()
    assert h.sent == [{"kind": "rt:connect"}]


def test_a_start_record_counts_as_the_front_end_reacting(make_widget: MakeWidget) -> None:
    # The state trait may not change (failed -> connecting -> failed merged into one update),
    # but the record always arrives.
    h = make_widget()
    h.hello()
    h.set_state_from_frontend(state="failed")
    h.widget.connect()
    h.events(("widget", {"type": "widget.phase", "phase": "start"}))
    h.widget.connect()
    assert h.kinds() == ["rt:connect", "rt:ack", "rt:connect"]


def test_disconnect(make_widget: MakeWidget) -> None:
    h = make_widget()
    with pytest.raises(CallStateError, match="no call to disconnect"):
        h.widget.disconnect()
    connected(h)
    h.widget.disconnect()
    assert h.sent == [{"kind": "rt:disconnect"}]


def test_disconnect_a_call_still_being_started(make_widget: MakeWidget) -> None:
    h = make_widget()
    h.hello()
    h.widget.connect()
    h.widget.disconnect()
    assert h.kinds() == ["rt:connect", "rt:disconnect"]


def test_send_needs_a_connected_call(make_widget: MakeWidget) -> None:
    h = make_widget()
    with pytest.raises(CallStateError, match="No call is connected"):
        h.widget.send({"type": "response.create"})
    h.hello()
    h.widget.connect()
    with pytest.raises(CallStateError, match="only between cells"):
        h.widget.send({"type": "response.create"})


def test_send(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    event = {"type": "response.create", "response": {"instructions": "Say hi"}}
    h.widget.send(event)
    assert h.sent == [{"kind": "rt:send", "event": event}]
    # Not logged by the kernel: the browser logs it when it really goes out on the channel.
    assert len(h.widget.log) == 0


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ("response.create", TypeError),
        ({"no_type": 1}, ValueError),
        ({"type": ""}, ValueError),
        ({"type": "x", "bad": object()}, TypeError),
        ({"type": "x", "nan": float("nan")}, TypeError),
        ({"type": "x", "big": "a" * 300_000}, ValueError),
    ],
)
def test_send_validates_events(make_widget: MakeWidget, event: Any, error: type[Exception]) -> None:
    h = connected(make_widget())
    with pytest.raises(error):
        h.widget.send(event)
    assert h.sent == []


def test_send_text(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    h.widget.send_text("Hello there")
    assert h.sent == [
        {
            "kind": "rt:send",
            "event": {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "Hello there"}],
                },
            },
        },
        {"kind": "rt:send", "event": {"type": "response.create"}},
    ]
    h.sent.clear()
    h.widget.send_text("quiet", respond=False)
    assert [c["event"]["type"] for c in h.sent] == ["conversation.item.create"]


def test_send_text_without_a_call(make_widget: MakeWidget) -> None:
    h = make_widget()
    with pytest.raises(CallStateError):
        h.widget.send_text("hi")
    assert h.sent == []


def test_update_session_sends_and_keeps_it_for_the_next_call(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = connected(make_widget(instructions="Old."))
    h.widget.update_session(instructions="New.", audio={"output": {"speed": 1.2}})
    assert h.sent == [
        {
            "kind": "rt:send",
            "event": {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "instructions": "New.",
                    "audio": {"output": {"speed": 1.2}},
                },
            },
        },
        # The secret the front end minted ahead for the next call carries the old config.
        {"kind": "rt:session_changed"},
    ]
    config = h.widget.session_config
    assert config["instructions"] == "New."
    assert config["audio"]["output"] == {"voice": "marin", "speed": 1.2}
    h.invoke("mint_client_secret")
    assert json.loads(service.requests[-1].content)["session"] == config


def test_update_session_refuses_beta_names_and_sends_nothing(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    with pytest.raises(ValueError, match='audio=\\{"output": \\{"voice": "cedar"\\}\\}'):
        h.widget.update_session(voice="cedar")
    assert h.sent == []


def test_update_session_without_a_call_changes_nothing(make_widget: MakeWidget) -> None:
    h = make_widget(instructions="Old.")
    with pytest.raises(CallStateError):
        h.widget.update_session(instructions="New.")
    assert h.widget.session_config["instructions"] == "Old."


def test_interrupt(make_widget: MakeWidget) -> None:
    h = connected(make_widget())
    h.widget.interrupt()
    assert [c["event"] for c in h.sent] == [
        {"type": "response.cancel"},
        {"type": "output_audio_buffer.clear"},
    ]


def test_close_hangs_up_a_live_call(make_widget: MakeWidget, service: FakeService) -> None:
    h = connected(make_widget())
    h.events(
        ("widget", {"type": "widget.phase", "phase": "answer_received", "call_id": "rtc_live"})
    )
    h.widget.close()
    assert [r.url.path for r in service.requests] == ["/v1/realtime/calls/rtc_live/hangup"]
    assert h.widget.comm is None
    h.widget.close()  # idempotent
    assert len(service.requests) == 1


def test_close_without_a_call_makes_no_request(
    make_widget: MakeWidget, service: FakeService
) -> None:
    h = make_widget()
    h.events(("widget", {"type": "widget.phase", "phase": "answer_received", "call_id": "rtc_old"}))
    h.set_state_from_frontend(state="closed")
    h.widget.close()
    assert service.requests == []


def test_close_survives_a_failing_hangup(make_widget: MakeWidget, service: FakeService) -> None:
    service.fail(httpx.ConnectError, "down")
    h = connected(make_widget())
    h.events(
        ("widget", {"type": "widget.phase", "phase": "answer_received", "call_id": "rtc_live"})
    )
    h.widget.close()
    assert h.widget.comm is None


# -- secrets -----------------------------------------------------------------------------------------------------
def test_no_secret_in_repr_state_log_or_errors(
    make_widget: MakeWidget, service: FakeService, tmp_path: Any
) -> None:
    h = make_widget(signaling="client_secret")
    w = h.widget
    h.hello()
    assert h.invoke("mint_client_secret")["value"] == CLIENT_SECRET
    service.respond(401, json={"error": {"message": f"bad key {API_KEY} / {CLIENT_SECRET}"}})
    h.invoke("mint_client_secret")
    h.events(server("session.created"))

    w.log.save(tmp_path / "log.jsonl")
    shown = [
        repr(w),
        str(w),
        json.dumps(w.get_state(), default=str),
        (tmp_path / "log.jsonl").read_text(),
        repr(w.log),
        w.error,
        repr(w._rest),
        json.dumps([u for u in h.state_updates], default=str),
    ]
    for text in shown:
        assert API_KEY not in text
        assert CLIENT_SECRET not in text
    # The only message that carried the secret is the reply to the one command that asked.
    carrying = [c for c in h.sent if CLIENT_SECRET in json.dumps(c)]
    assert len(carrying) == 1 and carrying[0]["kind"] == "anywidget-command-response"
    # No trait holds the key.
    for name in w.trait_names():
        assert API_KEY not in repr(getattr(w, name))


def test_exceptions_from_the_api_carry_no_secret(make_widget: MakeWidget) -> None:
    h = make_widget()
    for action in (h.widget.connect, h.widget.disconnect, lambda: h.widget.send({"type": "x"})):
        with pytest.raises(RuntimeError) as caught:
            action()
        assert API_KEY not in str(caught.value)
    with pytest.raises(TypeError) as caught_type:
        RealtimeWidget(api_key=API_KEY, apikey=API_KEY)
    assert API_KEY not in str(caught_type.value)


def test_service_errors_are_realtime_errors() -> None:
    assert issubclass(RealtimeServiceError, rt_widget.RealtimeError)
