"""`flask --app chatcenter sentry-check`: does Sentry accept events from here and from a worker?

Each side (the worker's is the RQ job check_from_worker) captures one test error with a
client made from its live client's options, so the event is what that process would send;
that client's transport, sentry-sdk's public Transport interface, POSTs the envelope with
requests (Sentry's documented envelope protocol) and keeps the HTTP status Sentry answered.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import requests

from chatcenter.observability.release import __version__
from chatcenter.observability.sentry import active_sdk

log = logging.getLogger("chatcenter.sentry")

CHECK_JOB = "chatcenter.observability.sentry_check.check_from_worker"
SEND_TIMEOUT = 10.0  # seconds for one HTTP round trip to Sentry (sentry-sdk's own is 30)
# What shapes an error event (integrations' context is on the scopes the check captures in).
CLIENT_OPTIONS = ("dsn", "environment", "release", "server_name", "dist", "sample_rate", "ignore_errors",
                  "before_send", "event_scrubber", "include_local_variables", "max_request_body_size",
                  "send_default_pii", "max_breadcrumbs", "in_app_include", "in_app_exclude")
STATUS_HINTS = {401: "the DSN's key is wrong, revoked or of another project", 403: "the DSN's key is refused",
                413: "event too large", 429: "rate limited or the quota is used up"}
REASONS = (("Connection refused", "connection refused"), ("Name or service not known", "host name not found"),
           ("timed out", "timed out"), ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"))


class SentryCheckError(Exception):
    """The test error; finding it in Sentry proves reporting works end to end."""


@dataclass
class Outcome:
    status: int | None = None  # the HTTP status Sentry answered
    error: str | None = None  # why there is no answer
    event_id: str | None = None
    environment: str | None = None
    release: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> str:
        event = f", event {self.event_id}" if self.event_id else ""
        if self.accepted:
            return f"accepted by Sentry (HTTP {self.status}){event}"
        if self.status is not None:
            hint = STATUS_HINTS.get(self.status, "Sentry server error" if self.status >= 500 else "unexpected answer")
            return f"REJECTED by Sentry (HTTP {self.status}: {hint}){event}"
        return f"NOT delivered: {self.error}"


def post_envelope(dsn: str, body: bytes) -> tuple[int | None, str | None]:
    """POST one serialized envelope: (HTTP status, None) or (None, why there is no answer)."""
    parts = urlsplit(dsn)
    path, _, project = parts.path.rstrip("/").rpartition("/")
    port = f":{parts.port}" if parts.port else ""
    auth = f"Sentry sentry_version=7, sentry_key={parts.username}, sentry_client=chatcenter-check/{__version__}"
    try:
        answer = requests.post(f"{parts.scheme}://{parts.hostname}{port}{path}/api/{project}/envelope/",
                               data=body, timeout=SEND_TIMEOUT, allow_redirects=False,
                               headers={"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": auth})
    except requests.RequestException as exc:  # refused, DNS, TLS, timeout: no URL in the reason
        return None, next((f"{reason} ({type(exc).__name__})" for needle, reason in REASONS if needle in str(exc)),
                          type(exc).__name__)
    return answer.status_code, None


def _posting_transport():
    from sentry_sdk.transport import Transport  # only ever called with Sentry on

    class PostingTransport(Transport):
        """Sends each event's envelope at once, in the capturing thread, and keeps the answer."""

        def __init__(self, options):
            super().__init__(options)
            self.answers: dict[str, tuple[int | None, str | None]] = {}

        def capture_envelope(self, envelope) -> None:
            event_id = envelope.headers.get("event_id")
            if event_id:  # client reports carry none and are not ours to judge
                self.answers[event_id] = post_envelope(self.options["dsn"], envelope.serialize())

    return PostingTransport


def send_test_event(where: str, check_id: str) -> Outcome:
    """Capture one test error as this process's Sentry client would; return Sentry's answer."""
    sdk = active_sdk()
    if sdk is None:
        return Outcome(error=f"Sentry is off in the {where} (SENTRY_DSN is empty there)")
    live = sdk.get_client()
    outcome = Outcome(environment=live.options.get("environment"), release=live.options.get("release"))
    checking = sdk.Client(**{key: live.options[key] for key in CLIENT_OPTIONS},
                          transport=_posting_transport(), default_integrations=False, send_client_reports=False)
    try:
        with sdk.new_scope() as scope:  # the current scope's tags and context, this client
            scope.set_client(checking)
            scope.set_tag("sentry_check", check_id)
            if where == "command line":
                scope.set_tag("component", "cli")
            try:
                raise SentryCheckError(f"chatcenter sentry-check: test event from the {where} "
                                       f"(check {check_id}) - this is intentional")
            except SentryCheckError as exc:
                outcome.event_id = sdk.capture_exception(exc)
        if outcome.event_id is None:
            outcome.error = "the event was dropped before sending (before_send, ignore_errors or sample_rate)"
        else:
            outcome.status, outcome.error = checking.transport.answers.get(outcome.event_id, (None, "not sent"))
        return outcome
    finally:
        checking.close(timeout=0)


def check_from_worker(check_id: str) -> dict:
    """The worker side, an RQ job: the outcome is its result (not a failed job left behind)."""
    outcome = send_test_event("worker", check_id)
    log.info("sentry-check from the worker: %s", outcome.describe())
    return asdict(outcome)
