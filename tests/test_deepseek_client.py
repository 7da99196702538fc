"""DeepSeekClient against the local stub, over loopback."""
from __future__ import annotations

import time

import pytest
import requests

from chatcenter.clients.deepseek import (
    BLANK_RETRIES,
    MAX_BODY_BYTES,
    Completion,
    DeepSeekClient,
    DeepSeekConfigError,
    DeepSeekError,
    DeepSeekTransientError,
)
from tests.stubs import deepseek_stub as ds

MODEL = "deepseek-v4-flash"
MESSAGES = [
    {"role": "system", "content": "Classify the buyer chat. Answer in json like {\"sentiment\": ...}."},
    {"role": "user", "content": "Где мой заказ? Жду уже неделю! secret-buyer-text-7731"},
]
SECRET_TEXT = "secret-buyer-text-7731"


@pytest.fixture(scope="module")
def server():
    with ds.DeepSeekStub() as stub:
        yield stub


@pytest.fixture
def stub(server):
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def make_client(stub):
    def make(**kwargs) -> DeepSeekClient:
        opts = {"deadline": 2.0, "connect_timeout": 1.0, "read_timeout": 1.0}
        opts.update(kwargs)
        api_key = opts.pop("api_key", stub.api_key)
        return DeepSeekClient(stub.url, api_key, MODEL, **opts)

    return make


@pytest.fixture
def client(make_client):  # shadows conftest's Flask client in this module only
    return make_client()


def assert_no_secrets(exc: BaseException, key: str) -> None:
    text = f"{exc} {exc!r}"
    assert key not in text
    assert SECRET_TEXT not in text


# -- good answers --------------------------------------------------------------------------


def test_good_answer_is_parsed(client, stub):
    result = client.complete_json(MESSAGES)

    assert isinstance(result, Completion)
    assert result.data == ds.DEFAULT_CONTENT
    assert result.model == MODEL
    assert result.finish_reason == "stop"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (120, 45, 165)


def test_model_and_usage_come_from_the_answer(client, stub):
    stub.model = "deepseek-v4-flash-0501"
    stub.script(ds.ok({"x": 1}, usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}))

    result = client.complete_json(MESSAGES)

    assert result.data == {"x": 1}
    assert result.model == "deepseek-v4-flash-0501"
    assert result.total_tokens == 10


def test_request_shape(client, stub):
    client.complete_json(MESSAGES, max_tokens=321, temperature=0.2)

    [req] = stub.requests
    assert req.path == "/chat/completions"
    assert req.headers["Authorization"] == f"Bearer {stub.api_key}"
    assert req.body["model"] == MODEL
    assert req.body["messages"] == MESSAGES
    assert req.body["response_format"] == {"type": "json_object"}
    assert req.body["thinking"] == {"type": "disabled"}
    assert req.body["stream"] is False
    assert req.body["max_tokens"] == 321
    assert req.body["temperature"] == 0.2


def test_temperature_omitted_by_default(client, stub):
    client.complete_json(MESSAGES)
    assert "temperature" not in stub.requests[0].body


def test_raw_string_default_content(client, stub):
    stub.default_content = '  {"sentiment": "positive"}  '
    assert client.complete_json(MESSAGES).data == {"sentiment": "positive"}


def test_wrong_enum_is_returned_as_is(client, stub):
    # Validating the fields is the analysis job's business, not the client's.
    stub.script(ds.wrong_enum())
    assert client.complete_json(MESSAGES).data["sentiment"] == "furious"


# -- slow answers and the deadline ---------------------------------------------------------


def test_blank_lines_within_deadline_succeed(make_client, stub):
    client = make_client(deadline=2.0, read_timeout=1.0)
    stub.script(ds.slow_blank_lines(0.6))

    result = client.complete_json(MESSAGES)

    assert result.data == ds.DEFAULT_CONTENT


def test_blank_lines_beyond_deadline_are_cut_off(make_client, stub):
    # Blank lines keep every read short, so only the overall deadline can stop this.
    client = make_client(deadline=1.0, read_timeout=0.5)
    stub.script(ds.slow_blank_lines(60))

    started = time.monotonic()
    with pytest.raises(DeepSeekTransientError, match="deadline of 1s exceeded") as info:
        client.complete_json(MESSAGES)
    elapsed = time.monotonic() - started

    assert elapsed < 10  # a generous bound: the stub would go on for a minute
    assert info.value.transient is True


def test_silence_after_headers_stops_at_deadline_not_read_timeout(make_client, stub):
    client = make_client(deadline=1.0, read_timeout=10.0)
    stub.script(ds.slow_blank_lines(120, interval=60))  # one blank line, then silence

    started = time.monotonic()
    with pytest.raises(DeepSeekTransientError, match="deadline"):
        client.complete_json(MESSAGES)
    assert time.monotonic() - started < 10  # not the 10 s read timeout, nor the minute


def test_read_in_progress_is_cut_at_the_deadline(make_client, stub):
    # A line at 0 s: the read waiting for the next one (20 s later) must give up at 1 s.
    client = make_client(deadline=1.0, read_timeout=30.0)
    stub.script(ds.slow_blank_lines(60, interval=20))

    started = time.monotonic()
    with pytest.raises(DeepSeekTransientError, match="deadline"):
        client.complete_json(MESSAGES)
    assert time.monotonic() - started < 10


def test_hang_beyond_read_timeout_is_transient(make_client, stub):
    client = make_client(deadline=30.0, read_timeout=0.5)
    stub.script(ds.hang(60))

    started = time.monotonic()
    with pytest.raises(DeepSeekTransientError, match="read timeout"):
        client.complete_json(MESSAGES)
    assert time.monotonic() - started < 10  # the read timeout, not the 30 s deadline


def test_hang_beyond_deadline_stops_at_deadline(make_client, stub):
    client = make_client(deadline=0.8, read_timeout=30.0)
    stub.script(ds.hang(60))

    started = time.monotonic()
    with pytest.raises(DeepSeekTransientError, match="deadline"):
        client.complete_json(MESSAGES)
    assert time.monotonic() - started < 10  # the deadline, not the 30 s read timeout


def test_client_recovers_after_a_cut_off_answer(make_client, stub):
    client = make_client(deadline=0.8, read_timeout=0.5)
    stub.script(ds.slow_blank_lines(3), ds.ok({"again": True}))
    with pytest.raises(DeepSeekTransientError):
        client.complete_json(MESSAGES)
    assert client.complete_json(MESSAGES).data == {"again": True}


# -- bad content ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "behaviour, match",
    [
        (ds.blank_content(), "blank content"),
        (ds.ok("   \n "), "blank content"),
        (ds.invalid_json_content(), "not valid JSON"),
        (ds.ok("[1, 2]"), "expected an object"),
        (ds.ok({"sentiment": "neg"}, finish_reason="length"), "finish_reason=length"),
        (ds.disconnect(), "Could not reach DeepSeek"),
    ],
    ids=["blank", "whitespace", "invalid-json", "json-array", "length", "disconnect"],
)
def test_unusable_answers_are_transient(client, stub, behaviour, match):
    stub.script(*[behaviour] * (1 + BLANK_RETRIES))  # blank and non-JSON are asked again first
    with pytest.raises(DeepSeekTransientError, match=match) as info:
        client.complete_json(MESSAGES)
    assert info.value.transient is True
    assert_no_secrets(info.value, stub.api_key)


def test_blank_content_after_blank_lines(client, stub):
    stub.script(*[ds.slow_blank_lines(0.3, then=ds.blank_content())] * (1 + BLANK_RETRIES))
    with pytest.raises(DeepSeekTransientError, match="blank content"):
        client.complete_json(MESSAGES)


@pytest.mark.parametrize("unusable", [ds.blank_content, ds.invalid_json_content, lambda: ds.ok("[1]")],
                         ids=["blank", "invalid-json", "json-array"])
def test_blank_or_non_json_content_is_asked_again_at_once(client, stub, unusable):
    stub.script(unusable(), unusable())  # two bad answers, then a good one

    completion = client.complete_json(MESSAGES)

    assert completion.data == ds.DEFAULT_CONTENT
    assert len(stub.requests) == 3


def test_in_place_retries_stop_after_two_more(client, stub):
    stub.script(*[ds.blank_content()] * 4)
    with pytest.raises(DeepSeekTransientError, match="blank content"):
        client.complete_json(MESSAGES)
    assert len(stub.requests) == 1 + BLANK_RETRIES


def test_in_place_retries_end_at_the_deadline(make_client, stub):
    client = make_client(deadline=1.0)
    stub.script(ds.slow_blank_lines(1.2, then=ds.blank_content()), ds.blank_content())
    with pytest.raises(DeepSeekTransientError):
        client.complete_json(MESSAGES)
    assert len(stub.requests) == 1  # no time left for a second ask


def test_other_transient_errors_are_not_retried_in_place(client, stub):
    stub.script(ds.error(503))
    with pytest.raises(DeepSeekTransientError, match=r"\(503\)"):
        client.complete_json(MESSAGES)
    assert len(stub.requests) == 1  # the job's own retry (with its delay) handles those


def test_an_answer_over_1_mb_is_cut_off_as_transient(client, stub):
    stub.script(ds.ok("x" * (MAX_BODY_BYTES + 1)))
    with pytest.raises(DeepSeekTransientError, match="exceeded 1024 KB"):
        client.complete_json(MESSAGES)


def test_content_filter_is_permanent_but_not_config(client, stub):
    stub.script(ds.ok("", finish_reason="content_filter"))
    with pytest.raises(DeepSeekError) as info:
        client.complete_json(MESSAGES)
    assert not isinstance(info.value, (DeepSeekConfigError, DeepSeekTransientError))
    assert info.value.transient is False


# -- HTTP errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, match",
    [
        (400, r"rejected the request as invalid \(400\): Invalid request"),
        (401, r"rejected the API key \(401\): Authentication Fails"),
        (402, r"insufficient balance \(402\): Insufficient Balance"),
        (422, r"rejected the request parameters \(422\): Invalid Parameters"),
    ],
)
def test_permanent_errors(client, stub, status, match):
    stub.script(ds.error(status))
    with pytest.raises(DeepSeekConfigError, match=match) as info:
        client.complete_json(MESSAGES)
    assert info.value.status == status
    assert info.value.transient is False
    assert_no_secrets(info.value, stub.api_key)


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_errors(client, stub, status):
    stub.script(ds.error(status))
    with pytest.raises(DeepSeekTransientError, match=rf"\({status}\)") as info:
        client.complete_json(MESSAGES)
    assert info.value.status == status
    assert info.value.transient is True
    assert_no_secrets(info.value, stub.api_key)


def test_wrong_key_is_rejected_by_the_stub(make_client, stub):
    bad_key = "sk-wrong-0000111122223333"
    client = make_client(api_key=bad_key)
    with pytest.raises(DeepSeekConfigError) as info:
        client.complete_json(MESSAGES)
    assert info.value.status == 401
    assert_no_secrets(info.value, bad_key)
    assert stub.pending() == 0 and len(stub.requests) == 1


def test_key_echoed_by_server_is_masked(client, stub):
    stub.script(ds.error(401, f"key {stub.api_key} is not valid"))
    with pytest.raises(DeepSeekConfigError) as info:
        client.complete_json(MESSAGES)
    assert_no_secrets(info.value, stub.api_key)
    assert "***" in str(info.value)


def test_long_server_message_is_truncated(client, stub):
    stub.script(ds.error(400, "x" * 5000))
    with pytest.raises(DeepSeekConfigError) as info:
        client.complete_json(MESSAGES)
    assert len(str(info.value)) < 300


def test_connection_refused_is_transient():
    probe = ds.DeepSeekStub().start()
    url = probe.url
    probe.stop()  # nothing listens there now
    client = DeepSeekClient(url, "sk-x-123456789", MODEL, deadline=2)
    with pytest.raises(DeepSeekTransientError, match="Could not reach DeepSeek"):
        client.complete_json(MESSAGES)


# -- configuration and secrets -------------------------------------------------------------


@pytest.mark.parametrize("key", ["", None])
def test_missing_key_fails_without_a_request(make_client, stub, key):
    client = make_client(api_key=key)
    with pytest.raises(DeepSeekConfigError, match="DEEPSEEK_API_KEY is not set") as info:
        client.complete_json(MESSAGES)
    assert info.value.status is None
    assert info.value.transient is False
    assert stub.requests == []


def test_repr_hides_the_key(client, stub):
    assert stub.api_key not in repr(client)
    assert stub.api_key not in str(client)
    assert "api_key=set" in repr(client)
