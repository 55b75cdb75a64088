"""The hand-built sessions: times in ms after ``T0``, from which the tests work out answers."""

from __future__ import annotations

from collections.abc import Callable

from .sessions import (
    Session,
    arguments_delta,
    arguments_done,
    assistant_item,
    audio_buffer,
    commit_audio,
    committed,
    create_item,
    create_response,
    function_call_item,
    function_output_item,
    item_added,
    item_done,
    output_item_added,
    output_item_done,
    phase,
    response_created,
    response_done,
    session_created,
    speech_started,
    speech_stopped,
    stats_sample,
    text_delta,
    text_done,
    transcript_delta,
    transcript_done,
    transcription_completed,
    transcription_delta,
    truncated,
    usage,
    user_audio_item,
    user_text_item,
)


def _stats(lost: int, received: int, sent_bytes: int, received_bytes: int) -> dict:
    return stats_sample(rtt_ms=40.0, jitter_ms=2.5, packets_lost=lost, packets_received=received,
                        packets_sent=received, bytes_sent=sent_bytes, bytes_received=received_bytes,
                        audio_level_in=0.02, audio_level_out=0.3, jitter_buffer_ms=20.0,
                        concealed_samples=0, available_outgoing_bitrate=300_000.0)


def speech_turn() -> Session:
    """Call 1: the full handshake, one spoken question (transcribed), a spoken answer."""
    a1_done = assistant_item("item_a1", "completed", transcript="It is sunny.")
    return (
        Session()
        .at(0, phase("start"))
        .at(10, phase("secret_requested"))
        .at(130, phase("secret_received"))
        .at(135, phase("mic_requested"))
        .at(215, phase("mic_ready"))
        .at(220, phase("offer_created"))
        .at(520, phase("answer_received"))
        .at(525, phase("remote_description_set"))
        .at(560, phase("ice_checking"))
        .at(600, phase("ice_connected"))
        .at(610, phase("pc_connected"))
        .at(700, phase("channel_open"))
        .at(760, session_created())
        .at(765, phase("session_created"))
        .at(1000, _stats(lost=0, received=50, sent_bytes=4_000, received_bytes=4_000))
        .at(1200, speech_started("item_u1", audio_start_ms=900))
        .at(2000, _stats(lost=2, received=98, sent_bytes=44_000, received_bytes=8_000))
        .at(2700, speech_stopped("item_u1", audio_end_ms=2400))
        .at(2710, committed("item_u1"))
        .at(2715, item_added(user_audio_item("item_u1")))
        .at(2730, response_created("resp_1"))
        .at(2800, output_item_added("resp_1", assistant_item("item_a1")))
        .at(2850, transcript_delta("resp_1", "item_a1", "It is "))
        .at(2900, transcription_delta("item_u1", "What's the "))
        .at(2960, audio_buffer("started", "resp_1"))
        .at(3000, transcript_delta("resp_1", "item_a1", "sunny."))
        # a peer connection restarted: the byte counter went back down
        .at(3000, _stats(lost=2, received=10, sent_bytes=1_000, received_bytes=500))
        .at(3050, transcription_completed("item_u1", "What's the weather?"))
        .at(3100, transcript_done("resp_1", "item_a1", "It is sunny."))
        .at(3120, output_item_done("resp_1", a1_done))
        .at(3150, response_done("resp_1", [a1_done], tokens=usage(
            input_text=120, input_audio=30, cached=64, output_text=10, output_audio=40)))
        .at(4560, audio_buffer("stopped", "resp_1"))
        .at(5000, phase("closed"))
    )


def text_turn() -> Session:
    """No widget records (call 0): a typed question, a text answer."""
    question = user_text_item("item_u2", "What is WebRTC?")
    answer = assistant_item("item_a2", "completed", text="A way for browsers to talk.")
    return (
        Session()
        .client(0, create_item(question))
        .client(1, create_response())
        .at(40, item_added(question))
        .at(45, item_done(question))
        .at(60, response_created("resp_2"))
        .at(90, output_item_added("resp_2", assistant_item("item_a2")))
        .at(150, text_delta("resp_2", "item_a2", "A way for "))
        .at(180, text_delta("resp_2", "item_a2", "browsers to talk."))
        .at(200, text_done("resp_2", "item_a2", "A way for browsers to talk."))
        .at(230, response_done("resp_2", [answer], tokens=usage(50, 0, 0, 12, 0)))
    )


def tool_turn() -> Session:
    """A spoken question answered by a function call, then the answer after the tool's output."""
    call = function_call_item("item_f1", "call_1", "get_weather", '{"city":"Paris"}')
    output = function_output_item("item_o1", "call_1", '{"temp_c": 21}')
    answer = assistant_item("item_a4", "completed", transcript="It's 21 degrees.")
    return (
        Session()
        .at(100, speech_started("item_u3", audio_start_ms=50))
        .at(900, speech_stopped("item_u3", audio_end_ms=850))
        .at(910, committed("item_u3"))
        .at(915, item_added(user_audio_item("item_u3")))
        .at(930, response_created("resp_3"))
        .at(980, output_item_added("resp_3", function_call_item(
            "item_f1", "call_1", "get_weather", "", status="in_progress")))
        .at(1000, arguments_delta("resp_3", "item_f1", "call_1", '{"city":'))
        .at(1010, arguments_delta("resp_3", "item_f1", "call_1", '"Paris"}'))
        .at(1020, arguments_done("resp_3", "item_f1", "call_1", '{"city":"Paris"}', "get_weather"))
        .at(1025, output_item_done("resp_3", call))
        .at(1040, response_done("resp_3", [call], tokens=usage(200, 40, 0, 15, 0)))
        .client(1300, create_item(output))
        .client(1301, create_response())
        .at(1340, item_added(output, previous="item_f1"))
        .at(1350, response_created("resp_4"))
        .at(1400, output_item_added("resp_4", assistant_item("item_a4")))
        .at(1500, transcript_delta("resp_4", "item_a4", "It's 21 degrees."))
        .at(1600, audio_buffer("started", "resp_4"))
        .at(1700, transcript_done("resp_4", "item_a4", "It's 21 degrees."))
        .at(1750, response_done("resp_4", [answer], tokens=usage(260, 40, 128, 8, 30)))
        .at(2900, audio_buffer("stopped", "resp_4"))
    )


def interrupted_turn() -> Session:
    """The user talks over the answer: its audio is cleared, the response cancelled, truncated."""
    cut = assistant_item("item_a5", "incomplete", transcript="Well, the answer")
    answer = assistant_item("item_a6", "completed", transcript="Sorry, go on.")
    return (
        Session()
        .at(100, speech_started("item_u5", audio_start_ms=60))
        .at(800, speech_stopped("item_u5", audio_end_ms=760))
        .at(810, committed("item_u5"))
        .at(815, item_added(user_audio_item("item_u5")))
        .at(830, response_created("resp_5"))
        .at(880, output_item_added("resp_5", assistant_item("item_a5")))
        .at(900, transcript_delta("resp_5", "item_a5", "Well, the"))
        .at(1000, audio_buffer("started", "resp_5"))
        .at(1100, transcript_delta("resp_5", "item_a5", " answer"))
        .at(1500, speech_started("item_u6", audio_start_ms=1460))
        .at(1510, audio_buffer("cleared", "resp_5"))
        .at(1520, response_done("resp_5", [cut], status="cancelled", reason="turn_detected",
                                tokens=usage(100, 20, 0, 5, 10)))
        .at(1530, truncated("item_a5", audio_end_ms=600))
        .at(2300, speech_stopped("item_u6", audio_end_ms=2260))
        .at(2310, committed("item_u6", previous="item_a5"))
        .at(2315, item_added(user_audio_item("item_u6"), previous="item_a5"))
        .at(2330, response_created("resp_6"))
        .at(2350, output_item_added("resp_6", assistant_item("item_a6")))
        .at(2500, transcript_delta("resp_6", "item_a6", "Sorry, go on."))
        .at(2600, audio_buffer("started", "resp_6"))
        .at(2650, transcript_done("resp_6", "item_a6", "Sorry, go on."))
        .at(2700, response_done("resp_6", [answer], tokens=usage(140, 45, 64, 4, 20)))
        .at(3500, audio_buffer("stopped", "resp_6"))
    )


def late_transcription() -> Session:
    """The user's transcription completes after the whole response."""
    answer = assistant_item("item_a7", "completed", transcript="Sure.")
    return (
        Session()
        .at(100, speech_started("item_u7", audio_start_ms=80))
        .at(900, speech_stopped("item_u7", audio_end_ms=880))
        .at(910, committed("item_u7"))
        .at(915, item_added(user_audio_item("item_u7")))
        .at(930, response_created("resp_7"))
        .at(950, output_item_added("resp_7", assistant_item("item_a7")))
        .at(1000, transcript_delta("resp_7", "item_a7", "Sure."))
        .at(1100, audio_buffer("started", "resp_7"))
        .at(1150, transcript_done("resp_7", "item_a7", "Sure."))
        .at(1200, response_done("resp_7", [answer]))
        .at(1800, audio_buffer("stopped", "resp_7"))
        .at(2500, transcription_completed("item_u7", "Can you help me?"))
    )


def two_calls() -> Session:
    """Two connects in one log; the second call reuses an item id of the first."""
    one = assistant_item("item_a8", "completed", transcript="One.")
    two = assistant_item("item_a9", "completed", transcript="Two.")
    return (
        Session()
        .at(0, phase("start"))
        .at(5, phase("secret_requested"))
        .at(300, phase("channel_open"))
        .at(310, session_created())
        .at(500, speech_started("item_x", audio_start_ms=200))
        .at(1500, speech_stopped("item_x", audio_end_ms=1200))
        .at(1510, committed("item_x"))
        .at(1520, response_created("resp_a"))
        .at(1600, transcript_delta("resp_a", "item_a8", "One."))
        .at(1700, audio_buffer("started", "resp_a"))
        .at(1800, response_done("resp_a", [one]))
        .at(2400, audio_buffer("stopped", "resp_a"))
        .at(3000, phase("closed"))
        .at(10_000, phase("start"))
        .at(10_250, phase("channel_open"))
        .at(10_500, speech_started("item_x", audio_start_ms=300))
        .at(11_000, speech_stopped("item_x", audio_end_ms=800))
        .at(11_010, committed("item_x"))
        .at(11_020, response_created("resp_b"))
        .at(11_100, transcript_delta("resp_b", "item_a9", "Two."))
        .at(11_300, audio_buffer("started", "resp_b"))
        .at(11_400, response_done("resp_b", [two]))
        .at(12_000, audio_buffer("stopped", "resp_b"))
        .at(13_000, phase("closed"))
    )


def two_responses_one_turn() -> Session:
    """One spoken turn, answered twice: the second response asked for by the client."""
    return (
        Session()
        .at(100, speech_started("item_u8", audio_start_ms=100))
        .at(700, speech_stopped("item_u8", audio_end_ms=650))
        .at(710, committed("item_u8"))
        .at(715, item_added(user_audio_item("item_u8")))
        .at(730, response_created("resp_8a"))
        .at(800, transcript_delta("resp_8a", "item_b1", "First."))
        .at(900, audio_buffer("started", "resp_8a"))
        .at(1000, response_done("resp_8a", [assistant_item("item_b1", "completed", "First.")]))
        .at(1500, audio_buffer("stopped", "resp_8a"))
        .client(1600, create_response())
        .at(1650, response_created("resp_8b"))
        .at(1700, transcript_delta("resp_8b", "item_b2", "Second."))
        .at(1800, audio_buffer("started", "resp_8b"))
        .at(1900, response_done("resp_8b", [assistant_item("item_b2", "completed", "Second.")]))
        .at(2500, audio_buffer("stopped", "resp_8b"))
    )


def push_to_talk() -> Session:
    """Turn detection off: the client commits the audio and asks for a response itself."""
    return (
        Session()
        .client(100, commit_audio())
        .at(120, committed("item_u9"))
        .at(125, item_added(user_audio_item("item_u9")))
        .client(130, create_response())
        .at(150, response_created("resp_9"))
        .at(200, transcript_delta("resp_9", "item_b9", "Yes?"))
        .at(300, audio_buffer("started", "resp_9"))
        .at(400, response_done("resp_9", [assistant_item("item_b9", "completed", "Yes?")]))
        .at(900, audio_buffer("stopped", "resp_9"))
    )


def out_of_band_response() -> Session:
    """The client asks for an out-of-band response (a classifier, say) while the user's turn is
    being answered; it must not take the turn."""
    return (
        Session()
        .at(100, speech_started("item_u10", audio_start_ms=100))
        .at(600, speech_stopped("item_u10", audio_end_ms=560))
        .at(610, committed("item_u10"))
        .client(612, {"type": "response.create", "event_id": "event_oob",
                      "response": {"conversation": "none", "output_modalities": ["text"]}})
        .at(615, item_added(user_audio_item("item_u10")))
        .at(620, response_created("resp_oob", out_of_band=True))
        .at(630, response_created("resp_10"))
        .at(650, text_delta("resp_oob", "item_c1", "question"))
        .at(660, response_done("resp_oob", [assistant_item("item_c1", "completed",
                                                            text="question")]))
        .at(700, transcript_delta("resp_10", "item_b10", "Hello!"))
        .at(750, audio_buffer("started", "resp_10"))
        .at(800, response_done("resp_10", [assistant_item("item_b10", "completed", "Hello!")]))
        .at(1400, audio_buffer("stopped", "resp_10"))
    )


ALL: dict[str, Callable[[], Session]] = {
    "speech_turn": speech_turn,
    "text_turn": text_turn,
    "tool_turn": tool_turn,
    "interrupted_turn": interrupted_turn,
    "late_transcription": late_transcription,
    "two_calls": two_calls,
    "two_responses_one_turn": two_responses_one_turn,
    "push_to_talk": push_to_talk,
    "out_of_band_response": out_of_band_response,
}
