"""Client for DeepSeek's OpenAI-compatible chat completions, in JSON mode.

`DeepSeekClient.complete_json(messages)` returns a `Completion` whose `data` is the JSON
object the model wrote, or raises a `DeepSeekError`:

- `DeepSeekConfigError` (transient=False): missing or rejected key, no balance, a request the
  server refuses. Retrying will not help; an operator must act.
- `DeepSeekTransientError` (transient=True): rate limits, 5xx, network trouble, the overall
  deadline, an answer body over MAX_BODY_BYTES, and answers that are blank, truncated or not
  a JSON object. JSON mode documents blank content as an occasional quirk: a blank or
  non-JSON answer is asked for again at once, up to BLANK_RETRIES more times within the
  same deadline, before it is raised.
- plain `DeepSeekError` (transient=False): the answer was refused by the content filter.

Error messages never contain the API key or the texts that were sent: a server message
that quotes the prompt back has the quoted part masked.
"""
from __future__ import annotations

import difflib
import json
import logging
import socket
import time
from dataclasses import dataclass

import re
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from chatcenter.metrics import Recorder

log = logging.getLogger("chatcenter.deepseek")

_MAX_SERVER_MESSAGE = 200
_CHUNK = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024  # a chat analysis is a few KB; past this the server is misbehaving
BLANK_RETRIES = 2  # extra in-place attempts after a blank or non-JSON answer


_ECHO_MIN = 12  # a run this long shared with the prompt is the prompt quoted back
_ECHO_SCAN = 2000  # characters of a server message searched for such runs


_ERRNO_TEXT = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


def _cause(exc: BaseException) -> str:
    """Why a connection failed ("Connection refused", "Name or service not known"), else
    the exception's class: the innermost OS error requests' message carries."""
    found = _ERRNO_TEXT.findall(str(exc))
    return found[-1].strip() if found else type(exc).__name__


class DeepSeekError(Exception):
    """The answer was refused (content filter). `transient` tells a job whether to retry."""

    transient = False

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class DeepSeekConfigError(DeepSeekError):
    """Missing or rejected key, no balance, a request the server refuses: an operator must act."""


class DeepSeekTransientError(DeepSeekError):
    """Rate limits, 5xx, network trouble, the deadline, a blank or malformed answer."""

    transient = True


class DeepSeekUnusableContent(DeepSeekTransientError):
    """A 200 whose content is blank, not JSON or not an object: worth asking again at once."""


@dataclass(frozen=True)
class Completion:
    data: dict
    model: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


# Status -> (exception class, what it means). Anything else: 5xx transient, 4xx permanent.
_STATUS_MEANING = {
    400: (DeepSeekConfigError, "DeepSeek rejected the request as invalid"),
    401: (DeepSeekConfigError, "DeepSeek rejected the API key"),
    402: (DeepSeekConfigError, "DeepSeek account has insufficient balance"),
    403: (DeepSeekConfigError, "DeepSeek refused access"),
    404: (DeepSeekConfigError, "DeepSeek endpoint not found (check DEEPSEEK_API_BASE_URL)"),
    408: (DeepSeekTransientError, "DeepSeek timed out the request"),
    422: (DeepSeekConfigError, "DeepSeek rejected the request parameters"),
    429: (DeepSeekTransientError, "DeepSeek rate or concurrency limit reached"),
    503: (DeepSeekTransientError, "DeepSeek is overloaded"),
}


class _DeadlineExceeded(Exception):
    pass


class DeepSeekClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        deadline: float = 60.0,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        metrics: Recorder | None = None,
    ):
        if deadline <= 0 or connect_timeout <= 0 or read_timeout <= 0:
            raise ValueError("deadline and timeouts must be positive")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key or ""
        self.model = model
        self.deadline = deadline
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.session = requests.Session()
        self.metrics = metrics or Recorder(None)
        self._sent: list[str] = []  # the texts of the request in flight, to mask if echoed

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"DeepSeekClient(base_url={self.base_url!r}, model={self.model!r}, api_key={key})"

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> DeepSeekClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- public -------------------------------------------------------------------------

    def complete_json(
        self, messages: list[dict], *, max_tokens: int = 800, temperature: float | None = None
    ) -> Completion:
        if not self._api_key:
            raise DeepSeekConfigError(
                "DEEPSEEK_API_KEY is not set: configure it to enable chat analysis"
            )
        if not isinstance(messages, list) or not messages:
            # No message texts in the error: they are buyers' words.
            raise ValueError("messages must be a non-empty list")
        self._sent = [m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)]
        body = {
            "model": self.model,
            "messages": messages,
            "response_format": {"type": "json_object"},
            "max_tokens": max_tokens,
            "stream": False,
            # V4 models think by default; thinking output does not belong in JSON mode.
            "thinking": {"type": "disabled"},
        }
        if temperature is not None:
            body["temperature"] = temperature

        deadline_at = time.monotonic() + self.deadline
        for attempt in range(1 + BLANK_RETRIES):
            try:
                return self._complete_once(body, deadline_at)
            except DeepSeekUnusableContent as exc:
                # The retry shares the one deadline, so a job's time limit still holds.
                if attempt == BLANK_RETRIES or time.monotonic() >= deadline_at:
                    raise
                log.info("DeepSeek answer unusable (%s); asking again at once", exc)
        raise AssertionError("unreachable")

    def _complete_once(self, body: dict, deadline_at: float) -> Completion:
        try:
            status, raw = self._post(body, deadline_at)
        except _DeadlineExceeded:
            self.metrics.deepseek_request("error")
            raise DeepSeekTransientError(
                f"DeepSeek did not answer in time: deadline of {self.deadline:g}s exceeded"
            ) from None
        except DeepSeekTransientError:
            self.metrics.deepseek_request("error")
            raise
        if not 200 <= status < 300:
            self.metrics.deepseek_request(status)
            raise self._status_error(status, raw)
        try:
            completion = self._parse_completion(status, raw)
        except DeepSeekError:
            self.metrics.deepseek_request(status)
            raise
        self.metrics.deepseek_request(status, completion.prompt_tokens, completion.completion_tokens)
        return completion

    # -- transport ----------------------------------------------------------------------

    def _post(self, body: dict, deadline_at: float) -> tuple[int, bytes]:
        """POST and read the whole body, never past `deadline_at`."""
        remaining = deadline_at - time.monotonic()
        # The read timeout also bounds the wait for headers, so cap it by the deadline.
        timeout = (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        try:
            resp = self.session.post(
                f"{self.base_url}/chat/completions",
                json=body,
                headers=headers,
                timeout=timeout,
                stream=True,  # we read the body ourselves, checking the deadline
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            if time.monotonic() >= deadline_at - 0.05:
                raise _DeadlineExceeded from None
            if isinstance(exc, requests.ConnectTimeout):
                raise DeepSeekTransientError(
                    f"DeepSeek connect timeout ({self.connect_timeout:g}s)"
                ) from None
            raise DeepSeekTransientError(
                f"DeepSeek sent nothing for {self.read_timeout:g}s (read timeout)"
            ) from None
        except requests.RequestException as exc:
            # The operator's reason (shown on the chat page): where and why, in a few words,
            # not requests' nested repr of its connection pool.
            raise DeepSeekTransientError(
                f"Could not reach DeepSeek at {urlsplit(self.base_url).netloc}: {self._clean(_cause(exc))}"
            ) from None
        try:
            return resp.status_code, self._read_body(resp, deadline_at)
        finally:
            resp.close()

    def _read_body(self, resp: requests.Response, deadline_at: float) -> bytes:
        # Under load DeepSeek sends 200 headers, then a blank line every few seconds, then the
        # JSON. Each recv() succeeds, so only this loop's clock check can end the wait.
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline_at - time.monotonic()
            if remaining <= 0:
                raise _DeadlineExceeded
            _cap_socket_timeout(resp, min(self.read_timeout, remaining))
            try:
                chunk = resp.raw.read1(_CHUNK, decode_content=True)
            except (urllib3.exceptions.ReadTimeoutError, socket.timeout, TimeoutError):
                if time.monotonic() >= deadline_at - 0.05:
                    raise _DeadlineExceeded from None
                raise DeepSeekTransientError(
                    f"DeepSeek stalled for {self.read_timeout:g}s mid-answer (read timeout)"
                ) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                raise DeepSeekTransientError(
                    f"DeepSeek connection broke while sending the answer: {type(exc).__name__}"
                ) from None
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BODY_BYTES:  # never hold a runaway answer in memory
                raise DeepSeekTransientError(
                    f"DeepSeek's answer exceeded {MAX_BODY_BYTES // 1024} KB; not read further",
                    status=resp.status_code,
                )
            chunks.append(chunk)

    # -- interpretation -----------------------------------------------------------------

    def _status_error(self, status: int, raw: bytes) -> DeepSeekError:
        cls, meaning = _STATUS_MEANING.get(status, (None, None))
        if cls is None:
            if status >= 500:
                cls, meaning = DeepSeekTransientError, "DeepSeek server error"
            else:
                cls, meaning = DeepSeekConfigError, "DeepSeek refused the request"
        detail = self._server_message(raw)
        return cls(f"{meaning} ({status}){': ' + detail if detail else ''}", status=status)

    def _server_message(self, raw: bytes) -> str:
        """error.message from an OpenAI-shaped body, shortened and with the key masked."""
        try:
            payload = json.loads(raw)
            message = payload["error"]["message"]
        except (ValueError, TypeError, KeyError):
            message = ""  # a proxy's HTML page says nothing useful
        return self._clean(message if isinstance(message, str) else str(message))

    def _clean(self, text: str) -> str:
        """One line, at most ~200 chars, the key and any quoted prompt text masked."""
        text = _mask_echo(text[:_ECHO_SCAN], self._sent)
        text = " ".join(text.split())
        if self._api_key:
            text = text.replace(self._api_key, "***")
        if len(text) > _MAX_SERVER_MESSAGE:
            text = text[: _MAX_SERVER_MESSAGE - 1] + "…"
        return text

    def _parse_completion(self, status: int, raw: bytes) -> Completion:
        text = raw.strip()  # keep-alive blank lines come before the JSON
        if not text:
            raise DeepSeekTransientError(
                f"DeepSeek sent an empty response body ({status})", status=status
            )
        try:
            payload = json.loads(text)
            choice = payload["choices"][0]
            content = choice["message"]["content"]
            finish_reason = choice.get("finish_reason") or ""
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise DeepSeekTransientError(
                f"DeepSeek sent a response that is not a chat completion ({status})", status=status
            ) from None

        if finish_reason == "length":
            raise DeepSeekTransientError(
                "DeepSeek cut the answer short (finish_reason=length): raise max_tokens", status=status
            )
        if finish_reason == "content_filter":
            raise DeepSeekError(
                "DeepSeek withheld the answer (finish_reason=content_filter)", status=status
            )
        if finish_reason == "insufficient_system_resource":
            raise DeepSeekTransientError(
                "DeepSeek interrupted the answer (finish_reason=insufficient_system_resource)",
                status=status,
            )
        if not isinstance(content, str) or not content.strip():
            # Documented JSON-mode quirk: blank content. A retry usually works.
            raise DeepSeekUnusableContent("DeepSeek returned blank content", status=status)
        try:
            data = json.loads(content)
        except ValueError:
            raise DeepSeekUnusableContent(
                "DeepSeek returned content that is not valid JSON", status=status
            ) from None
        if not isinstance(data, dict):
            raise DeepSeekUnusableContent(
                f"DeepSeek returned JSON {type(data).__name__}, expected an object", status=status
            )

        usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
        return Completion(
            data=data,
            model=str(payload.get("model") or self.model),
            finish_reason=finish_reason,
            prompt_tokens=_int(usage.get("prompt_tokens")),
            completion_tokens=_int(usage.get("completion_tokens")),
            total_tokens=_int(usage.get("total_tokens")),
        )


def _mask_echo(text: str, sent: list[str]) -> str:
    """`text` with every long run it shares with one of the `sent` texts masked."""
    for original in sent:
        matcher = difflib.SequenceMatcher(None, text, original, autojunk=False)
        runs = [b for b in matcher.get_matching_blocks() if b.size >= _ECHO_MIN]
        for block in reversed(runs):  # from the end, so earlier offsets stay valid
            text = text[:block.a] + "[Filtered]" + text[block.a + block.size:]
    return text


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cap_socket_timeout(resp: requests.Response, seconds: float) -> bool:
    """Whether the socket's timeout could be set (tests/test_dependencies.py checks it can).

    urllib3 applies the read timeout to each recv(); to stop a silent server at the deadline
    the socket's own timeout must shrink as the deadline nears. This is the one place that
    reaches into urllib3's private connection attribute; if that ever moves we fall back to
    the read timeout, and the test fails on the upgrade.
    """
    sock = getattr(getattr(resp.raw, "_connection", None), "sock", None)
    if sock is None:
        return False
    try:
        sock.settimeout(max(seconds, 0.001))
    except OSError:
        return False
    return True
