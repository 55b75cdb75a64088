"""The REST client: the GA requests it makes, and a useful, secret-free error for each failure."""

from __future__ import annotations

import json
import pickle
import traceback
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pytest

from rt_widget.rest import (
    DEFAULT_TIMEOUT,
    CallAnswer,
    ClientSecret,
    RealtimeServiceError,
    RestClient,
    call_id_from_location,
    display_url,
    redact,
)

from .conftest import ANSWER_SDP, API_KEY, BASE_URL, CALL_ID, CLIENT_SECRET, FakeService

SESSION = {"type": "realtime", "model": "gpt-realtime", "audio": {"output": {"voice": "marin"}}}


def assert_secret_free(exc: BaseException) -> None:
    """Nothing that could be shown of the error carries the key or a secret."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    for text in texts:
        assert API_KEY not in text
        assert CLIENT_SECRET not in text
        assert "sk-proj" not in text
        assert "ek_" not in text


# -- happy paths -------------------------------------------------------------------------------------
def test_mint_client_secret_posts_the_ga_body_with_the_key(
    client: RestClient, service: FakeService
) -> None:
    secret = client.mint_client_secret(SESSION, expires_after_s=120)

    assert secret == ClientSecret(value=CLIENT_SECRET, expires_at=1_900_000_000)
    (request,) = service.requests
    assert request.method == "POST"
    assert str(request.url) == f"{BASE_URL}/realtime/client_secrets"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(request.content) == {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": SESSION,
    }


def test_client_secret_repr_hides_the_value(client: RestClient) -> None:
    secret = client.mint_client_secret(SESSION)
    assert CLIENT_SECRET not in repr(secret)
    assert CLIENT_SECRET not in str(secret)
    assert "expires_at=1900000000" in repr(secret)


def test_repr_of_client_hides_the_key(client: RestClient) -> None:
    assert API_KEY not in repr(client)
    assert BASE_URL in repr(client)


def test_create_call_posts_multipart_sdp_and_session(
    client: RestClient, service: FakeService
) -> None:
    offer = "v=0\r\no=- 9 9 IN IP4 0.0.0.0\r\ns=-\r\n"

    answer = client.create_call(offer, SESSION)

    assert answer == CallAnswer(sdp=ANSWER_SDP, call_id=CALL_ID)
    (request,) = service.requests
    assert str(request.url) == f"{BASE_URL}/realtime/calls"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "application/sdp"
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + request.content
    )
    parts = {
        part.get_param("name", header="content-disposition"): part for part in message.iter_parts()
    }
    assert set(parts) == {"sdp", "session"}
    assert parts["sdp"].get_content_type() == "application/sdp"
    assert parts["sdp"].get_payload(decode=True).decode() == offer
    assert parts["session"].get_content_type() == "application/json"
    assert json.loads(parts["session"].get_payload(decode=True)) == SESSION
    # Plain form fields, not file uploads.
    assert parts["sdp"].get_param("filename", header="content-disposition") is None


def test_create_call_without_location_has_no_call_id(
    client: RestClient, service: FakeService
) -> None:
    service.respond(201, text=ANSWER_SDP, headers={"Content-Type": "application/sdp"})
    assert client.create_call("v=0\r\n").call_id is None


def test_hangup(client: RestClient, service: FakeService) -> None:
    assert client.hangup(CALL_ID) is True
    (request,) = service.requests
    assert str(request.url) == f"{BASE_URL}/realtime/calls/{CALL_ID}/hangup"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"


def test_hangup_of_an_ended_call_is_not_an_error(client: RestClient, service: FakeService) -> None:
    service.respond(404, json={"error": {"message": "Call not found", "code": "not_found"}})
    assert client.hangup(CALL_ID) is False


def test_hangup_escapes_the_call_id(client: RestClient, service: FakeService) -> None:
    client.hangup("rtc_a/../b")
    assert service.requests[0].url.raw_path == b"/v1/realtime/calls/rtc_a%2F..%2Fb/hangup"


def test_timeouts_are_the_documented_ones() -> None:
    assert DEFAULT_TIMEOUT.connect == 5.0
    assert DEFAULT_TIMEOUT.read == 20.0


def test_base_url_trailing_slash_is_harmless(service: FakeService) -> None:
    with RestClient(BASE_URL + "/", API_KEY, transport=httpx.MockTransport(service)) as rest:
        rest.hangup(CALL_ID)
    assert str(service.requests[0].url) == f"{BASE_URL}/realtime/calls/{CALL_ID}/hangup"


# -- error paths -----------------------------------------------------------------------------------------
def openai_error(
    message: str, code: str | None = None, type_: str = "invalid_request_error"
) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


@pytest.mark.parametrize(
    ("status", "body", "expected_code", "must_say"),
    [
        (
            401,
            openai_error(
                "Incorrect API key provided: sk-proj-********************************ET. You can "
                "find your API key at https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
            ),
            "invalid_api_key",
            [
                "The API key was rejected (401: Incorrect API key provided",
                "OPENAI_API_KEY",
                "api_key=",
            ],
        ),
        (
            403,
            openai_error("Project does not have access to model gpt-realtime", "model_not_found"),
            "model_not_found",
            ["refused (403: Project does not have access", "permissions"],
        ),
        (
            404,
            openai_error("Invalid URL (POST /v1/realtime/client_secret)"),
            "invalid_request_error",
            ["not found (404: Invalid URL", "base_url", "/v1"],
        ),
        (
            429,
            openai_error("Rate limit reached for requests", "rate_limit_exceeded", "requests"),
            "rate_limit_exceeded",
            ["Rate limit reached (429:", "retry"],
        ),
        (
            429,
            openai_error(
                "You exceeded your current quota", "insufficient_quota", "insufficient_quota"
            ),
            "insufficient_quota",
            ["quota is used up (429: You exceeded", "billing"],
        ),
        (
            500,
            openai_error(
                "The server had an error while processing your request.", None, "server_error"
            ),
            "server_error",
            ["The Realtime service had an error (500: The server had an error", "Retry"],
        ),
        (
            503,
            openai_error("Service unavailable", None, "server_error"),
            "server_error",
            ["(503: Service unavailable)", "Retry"],
        ),
        (
            400,
            openai_error("Unknown parameter: 'session.voice'.", "unknown_parameter"),
            "unknown_parameter",
            ["rejected as invalid (400: Unknown parameter: 'session.voice'.)", "session"],
        ),
    ],
)
def test_http_errors_say_what_happened_and_what_to_do(
    client: RestClient,
    service: FakeService,
    status: int,
    body: dict,
    expected_code: str,
    must_say: list[str],
) -> None:
    service.respond(status, json=body)

    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)

    error = caught.value
    assert error.status == status
    assert error.code == expected_code
    for text in must_say:
        assert text in error.message
    assert str(error) == error.message
    assert_secret_free(error)


def test_401_masked_key_echo_is_redacted(client: RestClient, service: FakeService) -> None:
    service.respond(
        401, json=openai_error("Incorrect API key provided: sk-proj-****abcd.", "invalid_api_key")
    )
    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)
    assert "abcd" not in caught.value.message
    assert "[redacted]" in caught.value.message


def test_a_service_echoing_the_key_verbatim_is_redacted(service: FakeService) -> None:
    odd_key = "proxy-token-0123456789"  # no sk- prefix: caught by exact match
    service.respond(401, text=f"bad token {odd_key} and {API_KEY}")
    with (
        RestClient(BASE_URL, odd_key, transport=httpx.MockTransport(service)) as rest,
        pytest.raises(RealtimeServiceError) as caught,
    ):
        rest.hangup(CALL_ID)
    assert odd_key not in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_non_json_error_body_is_shown_as_text(client: RestClient, service: FakeService) -> None:
    service.respond(
        502,
        text="<html><body>\n  <h1>502 Bad Gateway</h1>\n</body></html>",
        headers={"Content-Type": "text/html"},
    )
    with pytest.raises(RealtimeServiceError) as caught:
        client.create_call("v=0\r\n", SESSION)
    assert caught.value.status == 502
    assert "502 Bad Gateway" in caught.value.message
    assert "\n" not in caught.value.message


def test_long_error_bodies_are_shortened(client: RestClient, service: FakeService) -> None:
    service.respond(500, text="x" * 10_000)
    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)
    assert len(caught.value.message) < 500


def test_success_without_json_is_an_invalid_response(
    client: RestClient, service: FakeService
) -> None:
    service.respond(200, text="<html>captive portal</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)
    assert caught.value.code == "invalid_response"
    assert "not JSON" in caught.value.message
    assert "base_url" in caught.value.message


def test_success_without_a_value_is_an_invalid_response(
    client: RestClient, service: FakeService
) -> None:
    service.respond(200, json={"session": {}})
    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)
    assert caught.value.code == "invalid_response"


def test_answer_that_is_not_sdp_never_comes_back(client: RestClient, service: FakeService) -> None:
    # An error text with a success status must not reach setRemoteDescription.
    service.respond(201, json={"error": {"message": "nope"}})
    with pytest.raises(RealtimeServiceError) as caught:
        client.create_call("v=0\r\n", SESSION)
    assert caught.value.code == "invalid_response"
    assert "not an SDP answer" in caught.value.message


@pytest.mark.parametrize(
    ("exc_type", "code", "must_say"),
    [
        (
            httpx.ConnectError,
            "network_error",
            ["cannot reach", "realtime.test", "base_url", "network"],
        ),
        (httpx.ReadError, "network_error", ["cannot reach", "ReadError"]),
        (httpx.RemoteProtocolError, "network_error", ["cannot reach"]),
        (httpx.ConnectTimeout, "timeout", ["timed out", "ConnectTimeout", "retry"]),
        (httpx.ReadTimeout, "timeout", ["timed out", "ReadTimeout"]),
    ],
)
def test_network_failures(
    client: RestClient,
    service: FakeService,
    exc_type: type[httpx.TransportError],
    code: str,
    must_say: list[str],
) -> None:
    # httpx messages can carry URLs (with credentials) and anything a proxy said: never shown.
    service.fail(
        exc_type, f"[Errno 111] to https://user:{API_KEY}@realtime.test/v1 token {CLIENT_SECRET}"
    )

    with pytest.raises(RealtimeServiceError) as caught:
        client.mint_client_secret(SESSION)

    error = caught.value
    assert error.status is None
    assert error.code == code
    for text in must_say:
        assert text in error.message
    assert error.__cause__ is None and error.__suppress_context__
    assert_secret_free(error)


def test_base_url_credentials_never_appear_in_messages(service: FakeService) -> None:
    service.fail(httpx.ConnectError, "refused")
    with RestClient(
        "https://me:hunter2hunter2@proxy.test/v1", API_KEY, transport=httpx.MockTransport(service)
    ) as rest:
        with pytest.raises(RealtimeServiceError) as caught:
            rest.hangup(CALL_ID)
        assert "hunter2" not in caught.value.message
        assert "hunter2" not in repr(rest)
    assert "proxy.test/v1" in caught.value.message


def test_error_survives_pickling() -> None:
    error = RealtimeServiceError(429, "rate_limit_exceeded", "slow down")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.code, copy.message) == (429, "rate_limit_exceeded", "slow down")


def test_error_redacts_whatever_it_is_given() -> None:
    error = RealtimeServiceError(None, None, f"key {API_KEY} secret {CLIENT_SECRET}")
    assert_secret_free(error)


def test_expiry_bounds(client: RestClient) -> None:
    with pytest.raises(ValueError, match="10..7200"):
        client.mint_client_secret(SESSION, expires_after_s=5)


# -- helpers -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("location", "call_id"),
    [
        ("/v1/realtime/calls/rtc_abc", "rtc_abc"),
        ("https://api.openai.com/v1/realtime/calls/rtc_abc/", "rtc_abc"),
        ("/v1/realtime/calls/rtc_abc?x=1", "rtc_abc"),
        (None, None),
        ("", None),
    ],
)
def test_call_id_from_location(location: str | None, call_id: str | None) -> None:
    headers = httpx.Headers({"Location": location} if location is not None else {})
    assert call_id_from_location(headers) == call_id


def test_redact() -> None:
    assert (
        redact("use sk-abc123def456 or ek_68af00aa11bb please")
        == "use [redacted] or [redacted] please"
    )
    assert redact("ask-me sk-1") == "ask-me sk-1"  # short or embedded: ordinary text
    assert redact("token=abcdefgh12", "abcdefgh12") == "token=[redacted]"


def test_display_url() -> None:
    assert display_url("https://u:p@host:8443/v1?key=1#x") == "https://host:8443/v1"
